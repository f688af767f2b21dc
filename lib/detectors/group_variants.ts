/**
 * EXTENSIONS (not in any paper): group-aware variants that combine the MOS score (Huang and Li,
 * "MOS: Towards Scaling Out-of-distribution Detection for Large Semantic Space", CVPR 2021,
 * eq. 4: `-min_k p_k(others)` over the group softmaxes) with a post-hoc idea from the flat-head
 * literature:
 * - `mosTemperature`: MOS on `softmax(z_group / T)` per group (temperature as in ODIN /
 *   temperature scaling, applied inside each group's softmax);
 * - `mosReact`: MOS on the group head's logits of ReAct-clipped features `min(x, c)`, c the p-th
 *   percentile of ID-val activations (ReAct, Sun et al. NeurIPS 2021, see react.ts).
 * With T = 1, or a clip threshold above every activation, both reduce to MOS exactly.
 *
 * @module
 */
import type { GroupLayout } from "../groups.ts";
import type { Matrix } from "../matrix.ts";
import type { ChunkOptions } from "../ort/linear.ts";
import { mos } from "../scores/mos.ts";
import { checkHeadKind, type DetectorHead } from "./common.ts";
import { reactLogits, type ReactModel } from "./react.ts";

/** EXTENSION: MOS with a temperature inside every group softmax (higher = more ID). */
export function mosTemperature(layout: GroupLayout, logits: Matrix, temperature = 1): Float32Array {
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new RangeError(`MOS temperature must be a positive finite number, got ${temperature}`);
  }
  if (temperature === 1) return mos(layout, logits);
  const scaled = new Float32Array(logits.data.length);
  for (let i = 0; i < scaled.length; i++) scaled[i] = logits.data[i] / temperature;
  return mos(layout, { data: scaled, rows: logits.rows, cols: logits.cols });
}

/** EXTENSION: MOS on the group head's logits of ReAct-clipped features (higher = more ID). */
export async function mosReact(
  model: ReactModel,
  head: DetectorHead,
  features: Matrix,
  opts: ChunkOptions = {},
): Promise<Float32Array> {
  checkHeadKind("mos-react", "group", head.kind);
  const layout = head.layout;
  if (!layout) throw new RangeError("A group head needs its layout (groupLayout(groups, C))");
  return mos(layout, await reactLogits(model, head, features, opts));
}
