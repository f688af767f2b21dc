/**
 * Maximum softmax probability (Hendrycks and Gimpel 2017), the MSP baseline of the paper's
 * Table 1: `max_j softmax(logits)_j`. The released code computes `torch.max(softmax(logits))`.
 *
 * @module
 */
import type { Matrix } from "../matrix.ts";
import { maxSoftmaxRows } from "../softmax.ts";

/**
 * MSP score per row of an N x C logits matrix (higher = more in-distribution).
 *
 * @example
 * ```ts
 * import { matrix } from "../matrix.ts";
 * msp(matrix(1, 2, new Float32Array([0, 0]))); // [0.5]
 * ```
 */
export function msp(logits: Matrix): Float32Array {
  return maxSoftmaxRows(logits, 1);
}
