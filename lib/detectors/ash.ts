/**
 * ASH, Djurisic et al., "Extremely Simple Activation Shaping for Out-of-Distribution Detection",
 * ICLR 2023. Per sample, keep the k = n - round(n p / 100) largest activations of the
 * penultimate feature and zero the rest, then (variant)
 * - ASH-P: keep the surviving values as they are;
 * - ASH-B: set every survivor to `s1 / k`, s1 = the sum of the whole activation (binarise);
 * - ASH-S: multiply the survivors by `exp(s1 / s2)`, s2 = the sum of the survivors (sharpen);
 * and score the energy `logsumexp` of the head's logits on the shaped feature. Checked against
 * OpenOOD `openood/networks/ash_net.py` (`ash_p`, `ash_b`, `ash_s`, applied to the pooled feature
 * viewed as D x 1 x 1; `forward_threshold` then the fc layer), `openood/postprocessors/
 * ash_postprocessor.py` (energy) and `configs/postprocessors/ash.yml` (percentile 90, sweep
 * 65..95 by 5). Ties at the k-th value keep the lowest indices (torch.topk leaves them open).
 *
 * @module
 */
import type { Matrix } from "../matrix.ts";
import type { ChunkOptions } from "../ort/linear.ts";
import { checkFeatures, type DetectorHead, energyScore, transformedLogits } from "./common.ts";
import { keepCount, topKMask } from "./percentile.ts";

/** Which ASH variant. */
export type AshVariant = "p" | "b" | "s";

/** ASH options. */
export interface AshOptions extends ChunkOptions {
  /** Pruning percentile p in [0, 100) (default 90). */
  percentile?: number;
}

/**
 * Shapes one row `src` (length n) into `dst` with variant `v` keeping `k` values; `keep` and
 * `scratch` are work buffers of length >= n.
 */
export function ashRow(
  v: AshVariant,
  src: ArrayLike<number>,
  dst: Float32Array,
  k: number,
  keep: Uint8Array,
  scratch: Float64Array,
): void {
  const n = src.length;
  topKMask(src, k, keep, scratch);
  let s1 = 0;
  let s2 = 0;
  for (let j = 0; j < n; j++) {
    s1 += src[j];
    if (keep[j]) s2 += src[j];
  }
  const fill = v === "b" ? s1 / k : v === "s" ? Math.exp(s1 / s2) : 1;
  for (let j = 0; j < n; j++) {
    dst[j] = keep[j] ? (v === "b" ? fill : v === "s" ? src[j] * fill : src[j]) : 0;
  }
}

/** Logits of the head on ASH-shaped features (N x O). */
export function ashLogits(
  variant: AshVariant,
  head: DetectorHead,
  features: Matrix,
  options: AshOptions = {},
): Promise<Matrix> {
  checkFeatures(`ASH-${variant}`, features, head);
  const d = features.cols;
  const k = keepCount(d, options.percentile ?? 90);
  const keep = new Uint8Array(d);
  const scratch = new Float64Array(d);
  return transformedLogits(features, head, (src, dst, rows) => {
    for (let r = 0; r < rows; r++) {
      ashRow(
        variant,
        src.subarray(r * d, (r + 1) * d),
        dst.subarray(r * d, (r + 1) * d),
        k,
        keep,
        scratch,
      );
    }
  }, options);
}

/** ASH score (variant p, b or s): energy of the shaped logits (higher = more in-distribution). */
export async function ash(
  variant: AshVariant,
  head: DetectorHead,
  features: Matrix,
  options: AshOptions = {},
): Promise<Float32Array> {
  return energyScore(await ashLogits(variant, head, features, options));
}
