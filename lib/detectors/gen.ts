/**
 * GEN, Liu et al., "GEN: Pushing the Limits of Softmax-Based Out-of-Distribution Detection",
 * CVPR 2023: the generalized entropy of the M largest softmax probabilities,
 * `score = -sum_{j in top-M} p_j^gamma (1 - p_j)^gamma`. Checked against OpenOOD
 * `openood/postprocessors/gen_postprocessor.py` (`generalized_entropy`: sort, keep the last M,
 * sum `p**gamma * (1-p)**gamma`, negate); defaults gamma = 0.1, M = 100 and the sweep grid are from
 * `configs/postprocessors/gen.yml`. M larger than the class count uses every class.
 *
 * @module
 */
import type { Matrix } from "../matrix.ts";
import { selectKth } from "./percentile.ts";

/** GEN hyperparameters. */
export interface GenOptions {
  /** Exponent gamma > 0 (default 0.1). */
  gamma?: number;
  /** Number of top probabilities M >= 1 (default 100). */
  m?: number;
}

/** GEN score per row of N x C logits (higher = more in-distribution). */
export function gen(logits: Matrix, options: GenOptions = {}): Float32Array {
  const gamma = options.gamma ?? 0.1;
  const M = options.m ?? 100;
  if (!(gamma > 0)) throw new RangeError(`GEN gamma must be > 0, got ${gamma}`);
  if (!Number.isInteger(M) || M < 1) {
    throw new RangeError(`GEN M must be an integer >= 1, got ${M}`);
  }
  const { rows, cols, data } = logits;
  const take = Math.min(M, cols);
  const p = new Float64Array(cols);
  const out = new Float32Array(rows);
  for (let i = 0; i < rows; i++) {
    const base = i * cols;
    let mx = -Infinity;
    for (let j = 0; j < cols; j++) mx = Math.max(mx, data[base + j]);
    let s = 0;
    for (let j = 0; j < cols; j++) {
      p[j] = Math.exp(data[base + j] - mx);
      s += p[j];
    }
    for (let j = 0; j < cols; j++) p[j] /= s;
    // The top M are the values at or above the (cols - M)-th order statistic.
    const from = cols - take;
    if (from > 0) selectKth(p, from);
    let g = 0;
    for (let j = from; j < cols; j++) g += Math.pow(p[j], gamma) * Math.pow(1 - p[j], gamma);
    out[i] = -g;
  }
  return out;
}
