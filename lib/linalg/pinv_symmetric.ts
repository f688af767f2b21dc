/**
 * Moore-Penrose pseudo-inverse of a symmetric float64 matrix through its eigendecomposition, the
 * way `scipy.linalg.pinvh` computes it (the released MOS code's Mahalanobis precision).
 *
 * @module
 */
import { symmetricEigen } from "./symmetric_eigen.ts";

/**
 * Pseudo-inverse of a symmetric n x n float64 matrix (row-major): eigenvalues with
 * `|lambda| <= rtol * max |lambda|` are treated as zero (default rtol = n * 2^-52, scipy >= 1.7's
 * pinvh default). Returns a new row-major float64 matrix.
 *
 * @example
 * ```ts
 * pinvSymmetric(new Float64Array([2, 0, 0, 0]), 2); // [0.5, 0, 0, 0]
 * ```
 */
export function pinvSymmetric(a: Float64Array, n: number, rtol = n * 2 ** -52): Float64Array {
  const { values, vectors } = symmetricEigen(a, n);
  let maxAbs = 0;
  for (let j = 0; j < n; j++) maxAbs = Math.max(maxAbs, Math.abs(values[j]));
  const cutoff = rtol * maxAbs;
  const out = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const lambda = values[j];
    if (!(Math.abs(lambda) > cutoff)) continue;
    const inv = 1 / lambda;
    const v = j * n;
    // Upper triangle only; mirrored below.
    for (let r = 0; r < n; r++) {
      const s = vectors[v + r] * inv;
      if (s === 0) continue;
      const row = r * n;
      for (let c = r; c < n; c++) out[row + c] += s * vectors[v + c];
    }
  }
  for (let r = 0; r < n; r++) for (let c = 0; c < r; c++) out[r * n + c] = out[c * n + r];
  return out;
}
