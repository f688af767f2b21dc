/**
 * The logit-only scores (MSP, ODIN, Energy, MOS) straight from features through a linear head:
 * `x W^T + b` and the score's reductions run as one onnxruntime graph per row chunk, so the
 * N x O logits never leave onnxruntime. At ImageNet-21k's 21,843 outputs a 2048-row chunk of
 * logits is 179 MB; fetching it (onnxruntime-node copies every fetched output into a fresh
 * buffer) and feeding it back to the score graph cost more than the score itself. After the
 * Gemm the graph is exactly the one of `softmaxScoreFast` / `mosFast` (lib/ort/logit_scores.ts),
 * and the Gemm is the one of `linearLogits`, so the scores are the same numbers as the two-step
 * path.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import type { GroupLayout } from "../groups.ts";
import type { Matrix } from "../matrix.ts";
import {
  buildModel,
  type GraphSpec,
  int64Const,
  node,
  type NodeSpec,
  type ValueSpec,
} from "./graph.ts";
import { cachedSession, defaultThreads } from "./kernel_cache.ts";
import {
  checkLinearHead,
  type ChunkOptions,
  chunkRowsOf,
  forEachRowChunk,
  type RowSource,
} from "./linear.ts";
import {
  checkTemperature,
  minOthersNodes,
  MOS_GRAPH_MAX_GROUPS,
  mosKey,
  mosSpec,
  shiftedSum,
  softmaxSpec,
} from "./logit_scores.ts";
import { f32Tensor } from "./session.ts";

/**
 * MOS straight from features for a layout of at most `MOS_GRAPH_MAX_GROUPS` groups: one Gemm per
 * group against its own rows of the head (inputs `w{g}`, `b{g}`: zero-copy views of the group's
 * slice), so each group's logits come out of their own product and no Slice copies them out of
 * the full N x O block. The nodes after each Gemm are those of `mosFast`'s chained graph.
 */
export function mosHeadSpec(layout: GroupLayout, d: number): GraphSpec {
  const inputs: ValueSpec[] = [{ name: "f", type: "float32", shape: ["n", d] }];
  const nodes: NodeSpec[] = [];
  const others: string[] = [];
  for (let g = 0; g < layout.numGroups; g++) {
    const size = layout.sizes[g];
    inputs.push(
      { name: `w${g}`, type: "float32", shape: [size, d] },
      { name: `b${g}`, type: "float32", shape: [size] },
    );
    nodes.push(
      node("Gemm", ["f", `w${g}`, `b${g}`], [`z${g}`], { transB: 1 }),
      ...shiftedSum(`z${g}`, `_${g}`),
      // others_g = exp(z_s - m_g) / s_g: the first column of the shifted exponentials.
      node("Slice", [`e_${g}`, "zero", "one", "axes"], [`eo${g}`]),
      node("Div", [`eo${g}`, `s_${g}`], [`o${g}`]),
    );
    others.push(`o${g}`);
  }
  nodes.push(...minOthersNodes(others));
  return {
    name: "mos_from_features",
    inputs,
    outputs: [{ name: "score", type: "float32", shape: ["n", 1] }],
    nodes,
    initializers: [
      int64Const("axes", [1]),
      int64Const("zero", [0]),
      int64Const("one", [1]),
      { name: "zeroF", dims: [], data: new Float32Array([0]) },
    ],
  };
}

/** A logit-only score of {@linkcode headScoresStream}. */
export type HeadScore =
  | { kind: "max-softmax" | "energy"; temperature?: number }
  | { kind: "mos"; layout: GroupLayout };

function checkMosHead(layout: GroupLayout, o: number): void {
  if (layout.numOutputs !== o) {
    throw new DataError(
      `The head has ${o} outputs but the grouping needs ${layout.numOutputs} ` +
        `(${layout.numClasses} classes + ${layout.numGroups} "others"); use the head's own groups`,
    );
  }
}

/**
 * `spec` (a graph whose input `x` is n x o logits) with a linear head in front: inputs `f`
 * (n x d features), `w` (o x d) and `b` (o) replace `x`, and `x = f w^T + b` is its first node.
 */
export function withLinearHead(spec: GraphSpec, d: number, o: number): GraphSpec {
  if (!spec.inputs.some((v) => v.name === "x")) {
    throw new RangeError(`Graph ${spec.name} has no input "x" to put a linear head in front of`);
  }
  return {
    ...spec,
    name: `${spec.name}_from_features`,
    inputs: [
      { name: "f", type: "float32", shape: ["n", d] },
      { name: "w", type: "float32", shape: [o, d] },
      { name: "b", type: "float32", shape: [o] },
      ...spec.inputs.filter((v) => v.name !== "x"),
    ],
    nodes: [node("Gemm", ["f", "w", "b"], ["x"], { transB: 1 }), ...spec.nodes],
  };
}

/**
 * A logit-only score for every row of `source` through the head `weight` (O x D), `bias` (O):
 * MSP / ODIN (`max-softmax` at temperature 1 / 1000), Energy, or MOS for a group head's
 * `layout`. Memory stays at two feature chunks plus onnxruntime's chunk x O intermediates,
 * however many rows there are.
 *
 * @example
 * ```ts
 * import { matrix } from "../matrix.ts";
 * import { matrixSource } from "./linear.ts";
 * const features = matrix(2, 3, new Float32Array([1, 0, 2, 3, 1, 0])); // N = 2, D = 3
 * const weight = matrix(2, 3, new Float32Array([1, 1, 0, 0, 1, 1])); // O = 2 classes
 * const bias = new Float32Array([0, 0.5]);
 * const energy = await headScoresStream(matrixSource(features), weight, bias, { kind: "energy" });
 * ```
 */
export async function headScoresStream(
  source: RowSource,
  weight: Matrix,
  bias: Float32Array,
  score: HeadScore,
  opts: ChunkOptions = {},
): Promise<Float32Array> {
  checkLinearHead(source.cols, weight, bias);
  const { rows: o, cols: d } = weight;
  const out = new Float32Array(source.rows);
  if (source.rows === 0) return out;
  let spec: () => GraphSpec;
  let key: string;
  const extra: Record<string, ReturnType<typeof f32Tensor>> = {};
  let headFeeds: Record<string, ReturnType<typeof f32Tensor>> = {
    w: f32Tensor(weight.data, [o, d]),
    b: f32Tensor(bias, [o]),
  };
  if (score.kind === "mos" && score.layout.numGroups <= MOS_GRAPH_MAX_GROUPS) {
    checkMosHead(score.layout, o);
    const layout = score.layout;
    spec = () => mosHeadSpec(layout, d);
    key = `${mosKey(layout)}:per-group`;
    headFeeds = {};
    for (let g = 0; g < layout.numGroups; g++) {
      const [s0, n] = [layout.starts[g], layout.sizes[g]];
      headFeeds[`w${g}`] = f32Tensor(weight.data.subarray(s0 * d, (s0 + n) * d), [n, d]);
      headFeeds[`b${g}`] = f32Tensor(bias.subarray(s0, s0 + n), [n]);
    }
  } else if (score.kind === "mos") {
    checkMosHead(score.layout, o);
    const layout = score.layout;
    spec = () => withLinearHead(mosSpec(layout), d, o);
    key = mosKey(score.layout);
  } else {
    const { kind, temperature = 1 } = score;
    checkTemperature(temperature);
    if (o < 1) throw new DataError(`The head has 0 outputs; a softmax needs at least one class`);
    spec = () => withLinearHead(softmaxSpec(o, kind), d, o);
    key = `softmax:${kind}:${o}`;
    extra.T = f32Tensor(new Float32Array([temperature]), []);
  }
  const session = await cachedSession(
    `head:${d}:${key}`,
    () => buildModel(spec()),
    defaultThreads(opts.threads),
  );
  await forEachRowChunk(source, chunkRowsOf(opts), async (start, n, rows) => {
    await session.run(
      { f: f32Tensor(rows, [n, d]), ...headFeeds, ...extra },
      { score: f32Tensor(out.subarray(start, start + n), [n, 1]) },
    );
  });
  return out;
}
