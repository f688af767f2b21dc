/**
 * ReAct, Sun et al., "ReAct: Out-of-distribution Detection With Rectified Activations",
 * NeurIPS 2021: penultimate activations are clipped from above at c, the p-th percentile of ID
 * activations, and the energy of the rectified logits is the score:
 * `score = logsumexp_j (min(x, c) W^T + b)_j`. Checked against OpenOOD
 * `openood/postprocessors/react_postprocessor.py` (c = `np.percentile(activation_log.flatten(),
 * percentile)` over the ID `val` split, then `forward_threshold` = `feature.clip(max=c)` and
 * `logsumexp`), `openood/networks/react_net.py`, and `configs/postprocessors/react.yml`
 * (percentile 90, sweep 85/90/95/99).
 *
 * @module
 */
import type { Matrix } from "../matrix.ts";
import type { ChunkOptions } from "../ort/linear.ts";
import { checkFeatures, type DetectorHead, energyScore, transformedLogits } from "./common.ts";
import { percentileLinear } from "./percentile.ts";

/** A fitted ReAct clip threshold. */
export interface ReactModel {
  /** Activations above this value are set to it. */
  threshold: number;
  /** The percentile it was taken at. */
  percentile: number;
}

/** Fits the clip threshold: the `percentile`-th percentile (NumPy linear) of every ID-val activation. */
export function fitReact(idValFeatures: Matrix, percentile = 90): ReactModel {
  const threshold = percentileLinear(idValFeatures.data, percentile, "ID validation features");
  return { threshold, percentile };
}

/** Logits of the head on the clipped features `min(x, c)` (N x O). */
export function reactLogits(
  model: ReactModel,
  head: DetectorHead,
  features: Matrix,
  opts: ChunkOptions = {},
): Promise<Matrix> {
  checkFeatures("ReAct", features, head);
  const c = model.threshold;
  return transformedLogits(features, head, (src, dst, rows) => {
    const n = rows * features.cols;
    // NaN stays NaN (Math.min would too), so a bad row still scores NaN.
    for (let i = 0; i < n; i++) dst[i] = src[i] > c ? c : src[i];
  }, opts);
}

/** ReAct score: energy of the rectified logits (higher = more in-distribution). */
export async function react(
  model: ReactModel,
  head: DetectorHead,
  features: Matrix,
  opts: ChunkOptions = {},
): Promise<Float32Array> {
  return energyScore(await reactLogits(model, head, features, opts));
}
