/**
 * Eigendecomposition of a symmetric float64 matrix in plain TypeScript: Householder reduction to
 * tridiagonal form, then the implicit QL algorithm with accumulated rotations, after the EISPACK
 * tred2 / tql2 pair. Used where the matrix is small (D x D covariances, Gram matrices) and float64
 * accuracy matters more than speed (the Mahalanobis precision, the principal-space detectors).
 *
 * Eigenvectors are stored as rows (`vectors[j * n + k]` is component k of eigenvector j) so every
 * inner loop walks contiguous memory. The three phases are separate functions that share the
 * working arrays `w` (n x n), `d` and `e` (n each) in place.
 *
 * @module
 */
import { DataError } from "../errors.ts";

/** Result of {@linkcode symmetricEigen}. */
export interface SymmetricEigen {
  /** Eigenvalues, in the order the QL iteration leaves them (not sorted). */
  values: Float64Array;
  /** n x n, row j is the unit eigenvector of `values[j]`. */
  vectors: Float64Array;
}

/**
 * Eigendecomposition of a symmetric n x n float64 matrix (row-major; only needs to be symmetric,
 * both triangles are read). Throws a `DataError` when an eigenvalue needs more than 100 QL
 * sweeps; NaN input fails every convergence test and comes back as NaN, so callers check finiteness.
 *
 * @example
 * ```ts
 * const { values } = symmetricEigen(new Float64Array([2, 1, 1, 2]), 2); // 1 and 3, in some order
 * ```
 */
export function symmetricEigen(a: Float64Array, n: number): SymmetricEigen {
  if (a.length !== n * n) throw new RangeError(`Matrix has ${a.length} values, expected ${n}^2`);
  // w[j * n + k] holds V[k][j]: column j of the textbook V is row j here.
  const w = a.slice();
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  if (n === 0) return { values: d, vectors: w };
  householderTridiagonalize(w, d, e, n);
  accumulateHouseholder(w, d, e, n);
  tridiagonalQl(w, d, e, n);
  return { values: d, vectors: w };
}

/**
 * tred2's first half: reduces `w` (a copy of the matrix) to tridiagonal form in place, leaving
 * the Householder vectors in `w`, the scale factors in `d` and the sub-diagonal in `e`.
 */
export function householderTridiagonalize(
  w: Float64Array,
  d: Float64Array,
  e: Float64Array,
  n: number,
): void {
  for (let j = 0; j < n; j++) d[j] = w[j * n + n - 1];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = w[j * n + i - 1];
        w[j * n + i] = 0;
        w[i * n + j] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        const row = j * n;
        f = d[j];
        w[i * n + j] = f;
        g = e[j] + w[row + j] * f;
        for (let k = j + 1; k < i; k++) {
          const v = w[row + k];
          g += v * d[k];
          e[k] += v * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      for (let j = 0; j < i; j++) {
        const row = j * n;
        f = d[j];
        g = e[j];
        for (let k = j; k < i; k++) w[row + k] -= f * e[k] + g * d[k];
        d[j] = w[row + i - 1];
        w[row + i] = 0;
      }
    }
    d[i] = h;
  }
}

/**
 * tred2's second half: turns the Householder vectors left in `w` into the orthogonal matrix Q of
 * the reduction (stored transposed, as rows) and leaves the tridiagonal's diagonal in `d`; `e`
 * keeps the sub-diagonal shifted by one (e[0] = 0), as the QL step expects.
 */
export function accumulateHouseholder(
  w: Float64Array,
  d: Float64Array,
  e: Float64Array,
  n: number,
): void {
  for (let i = 0; i < n - 1; i++) {
    const rowI = i * n;
    const rowNext = (i + 1) * n;
    w[rowI + n - 1] = w[rowI + i];
    w[rowI + i] = 1;
    const h = d[i + 1];
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = w[rowNext + k] / h;
      for (let j = 0; j <= i; j++) {
        const row = j * n;
        let g = 0;
        for (let k = 0; k <= i; k++) g += w[rowNext + k] * w[row + k];
        for (let k = 0; k <= i; k++) w[row + k] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) w[rowNext + k] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = w[j * n + n - 1];
    w[j * n + n - 1] = 0;
  }
  w[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
}

/**
 * tql2: implicit QL with Wilkinson-style shifts on the tridiagonal (diagonal `d`, sub-diagonal
 * `e`), applying every rotation to the rows of `w`. On return `d` holds the eigenvalues and row j
 * of `w` the eigenvector of `d[j]`.
 */
export function tridiagonalQl(w: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n - 1 && Math.abs(e[m]) > eps * tst1) m++;
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 100) {
          throw new DataError(
            `Eigendecomposition did not converge (eigenvalue ${l} of ${n}); ` +
              `the covariance likely contains NaN or Infinity`,
          );
        }
        f += qlSweep(w, d, e, n, l, m);
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
}

/** One implicit QL sweep over rows l..m; returns the shift it subtracted from d[l + 2 ..]. */
function qlSweep(
  w: Float64Array,
  d: Float64Array,
  e: Float64Array,
  n: number,
  l: number,
  m: number,
): number {
  let g = d[l];
  let p = (d[l + 1] - g) / (2 * e[l]);
  let r = Math.hypot(p, 1);
  if (p < 0) r = -r;
  d[l] = e[l] / (p + r);
  d[l + 1] = e[l] * (p + r);
  const dl1 = d[l + 1];
  let h = g - d[l];
  for (let i = l + 2; i < n; i++) d[i] -= h;
  const shift = h;
  p = d[m];
  let c = 1;
  let c2 = c;
  let c3 = c;
  const el1 = e[l + 1];
  let s = 0;
  let s2 = 0;
  for (let i = m - 1; i >= l; i--) {
    c3 = c2;
    c2 = c;
    s2 = s;
    g = c * e[i];
    h = c * p;
    r = Math.hypot(p, e[i]);
    e[i + 1] = s * r;
    s = e[i] / r;
    c = p / r;
    p = c * d[i] - s * g;
    d[i + 1] = h + s * (c * g + s * d[i]);
    const r0 = i * n;
    const r1 = r0 + n;
    for (let k = 0; k < n; k++) {
      const v1 = w[r1 + k];
      const v0 = w[r0 + k];
      w[r1 + k] = s * v0 + c * v1;
      w[r0 + k] = c * v0 - s * v1;
    }
  }
  p = -s * s2 * c3 * el1 * e[l] / dl1;
  e[l] = s * p;
  d[l] = c * p;
  return shift;
}
