/**
 * GradNorm, Huang et al., "On the Importance of Gradients for Detecting Distributional Shifts in
 * the Wild", NeurIPS 2021: the L1 norm of the gradient of `sum_c -log softmax(z / T)_c` (the KL
 * divergence to the uniform distribution, up to a constant factor C) with respect to the last
 * layer's weight. Checked against OpenOOD `openood/postprocessors/gradnorm_postprocessor.py`
 * (targets = ones, loss = sum over classes of `-targets * log_softmax(fc(x))`, score =
 * `sum |fc.weight.grad|`, T = 1) and the paper's eq. (4).
 *
 * Closed form (no autograd needed): with p = softmax(z / T), `dL/dz_j = (C p_j - 1) / T` and
 * `dL/dW_jk = (C p_j - 1) x_k / T`, so
 * `score = (1 / T) (sum_j |C p_j - 1|) (sum_k |x_k|)`. The bias gradient is not part of the score,
 * as in the reference code.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import type { Matrix } from "../matrix.ts";

/** GradNorm options. */
export interface GradNormOptions {
  /** Softmax temperature T (default 1, as OpenOOD and the paper's ImageNet results). */
  temperature?: number;
}

/** GradNorm score per row from N x D features and their N x C logits (higher = more ID). */
export function gradNorm(
  features: Matrix,
  logits: Matrix,
  options: GradNormOptions = {},
): Float32Array {
  const T = options.temperature ?? 1;
  if (!(T > 0)) throw new RangeError(`GradNorm temperature must be > 0, got ${T}`);
  if (features.rows !== logits.rows) {
    throw new DataError(
      `GradNorm: ${features.rows} feature rows but ${logits.rows} logits rows; pass the logits ` +
        `of the same rows.`,
    );
  }
  const C = logits.cols;
  const D = features.cols;
  const out = new Float32Array(features.rows);
  for (let i = 0; i < features.rows; i++) {
    const zb = i * C;
    let m = -Infinity;
    for (let j = 0; j < C; j++) m = Math.max(m, logits.data[zb + j] / T);
    let s = 0;
    for (let j = 0; j < C; j++) s += Math.exp(logits.data[zb + j] / T - m);
    let g = 0;
    for (let j = 0; j < C; j++) g += Math.abs((C * Math.exp(logits.data[zb + j] / T - m)) / s - 1);
    let l1 = 0;
    const xb = i * D;
    for (let k = 0; k < D; k++) l1 += Math.abs(features.data[xb + k]);
    out[i] = (g * l1) / T;
  }
  return out;
}
