/**
 * Mahalanobis score (Lee et al. 2018) on penultimate features, as the paper's Table 1 baseline:
 * class means and one shared covariance from the training features, score
 * `-0.5 min_c (x - mu_c)^T P (x - mu_c)` with P the precision (pseudo-inverse of the covariance).
 * The -0.5 is the released code's: `get_Mahalanobis_score` in `utils/mahalanobis_lib.py` takes
 * `max_c` of `term_gau = -0.5 * (x - mu_c) P (x - mu_c)^T`, the Gaussian log-density up to a
 * constant, so score files compare with its scores value for value. A positive factor changes no
 * ranking, so no metric depends on it; OpenOOD's MDS and RMDS use -1 (lib/detectors/rmds.ts reads
 * the distances themselves).
 *
 * The fit follows the released MOS code (`utils/mahalanobis_lib.py`, `sample_estimator`): the
 * features of every class are centred on their class mean, stacked, and handed to
 * `sklearn.covariance.EmpiricalCovariance(assume_centered=False).fit`, whose `covariance_` is the
 * biased (1/N) covariance of the stacked rows around their own mean, and whose `precision_` is
 * `scipy.linalg.pinvh(covariance_)`. Here all of that runs in float64, and `pinvh` is reproduced
 * with a symmetric eigendecomposition (Householder tridiagonalisation + implicit QL): eigenvalues
 * with `|lambda| <= rtol * max |lambda|` are dropped, rtol = D * 2^-52 (scipy >= 1.7's default;
 * scipy < 1.7 used 1e6 * 2^-52, pass `rtol` to reproduce that). So a singular covariance (for
 * example a feature channel that is always 0) gets the pseudo-inverse, not a ridge.
 *
 * Not reproduced: the released code's multi-layer features, input perturbation and logistic
 * regression over layers (they need the backbone's intermediate activations and gradients).
 *
 * @module
 */
import { DataError } from "../errors.ts";
import type { Matrix } from "../matrix.ts";

/** The factor from the smallest squared distance to the score: the released code's -0.5. */
export const MAHALANOBIS_SCORE_SCALE = -0.5;

/** A fitted Mahalanobis detector. */
export interface MahalanobisModel {
  /** C x D class means. */
  means: Matrix;
  /** D x D precision: pseudo-inverse of the shared (1/N) covariance. */
  precision: Matrix;
}

/** Options for {@linkcode fitMahalanobis}. */
export interface MahalanobisFitOptions {
  /** Relative eigenvalue cutoff of the pseudo-inverse; default D * 2^-52 (scipy pinvh). */
  rtol?: number;
}

/** Result of {@linkcode symmetricEigen}. */
export interface SymmetricEigen {
  /** Eigenvalues, in the order the QL iteration leaves them (not sorted). */
  values: Float64Array;
  /** n x n, row j is the unit eigenvector of `values[j]`. */
  vectors: Float64Array;
}

/**
 * Eigendecomposition of a symmetric n x n float64 matrix (row-major; only needs to be symmetric,
 * both triangles are read): Householder reduction to tridiagonal form, then the implicit QL
 * algorithm with accumulated rotations, after the EISPACK tred2 / tql2 pair. Eigenvectors are
 * stored as rows so every inner loop walks contiguous memory.
 */
export function symmetricEigen(a: Float64Array, n: number): SymmetricEigen {
  if (a.length !== n * n) throw new RangeError(`Matrix has ${a.length} values, expected ${n}^2`);
  // w[j * n + k] holds V[k][j]: column j of the textbook V is row j here.
  const w = a.slice();
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  if (n === 0) return { values: d, vectors: w };
  for (let j = 0; j < n; j++) d[j] = w[j * n + n - 1];

  // Householder tridiagonalisation.
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
  // Accumulate the Householder transformations.
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

  // Implicit QL on the tridiagonal (d, e).
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
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
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
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
  return { values: d, vectors: w };
}

/**
 * Moore-Penrose pseudo-inverse of a symmetric n x n float64 matrix, the way `scipy.linalg.pinvh`
 * computes it: eigenvalues with `|lambda| <= rtol * max |lambda|` are treated as zero
 * (default rtol = n * 2^-52). Returns a new row-major float64 matrix.
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

/**
 * Fits class means and the shared precision on N x D training features with labels in
 * [0, numClasses). Every class needs at least one row (the released code cannot fit one either);
 * a missing class or a label outside the range is a `DataError`.
 */
export function fitMahalanobis(
  features: Matrix,
  labels: Int32Array,
  numClasses: number,
  options: MahalanobisFitOptions = {},
): MahalanobisModel {
  if (!Number.isInteger(numClasses) || numClasses <= 0) {
    throw new RangeError(`numClasses must be a positive integer, got ${numClasses}`);
  }
  const N = features.rows;
  const D = features.cols;
  if (labels.length !== N) {
    throw new DataError(
      `Mahalanobis fit got ${labels.length} labels for ${N} feature rows; ` +
        `labels and features must come from the same feature set`,
    );
  }
  const x = features.data;
  const sums = new Float64Array(numClasses * D);
  const counts = new Float64Array(numClasses);
  for (let i = 0; i < N; i++) {
    const c = labels[i];
    if (!(c >= 0 && c < numClasses)) {
      throw new DataError(
        `Mahalanobis fit: label ${c} of row ${i} is outside [0, ${numClasses}); ` +
          `fit on labelled ID training features only`,
      );
    }
    counts[c]++;
    const src = i * D;
    const dst = c * D;
    for (let j = 0; j < D; j++) sums[dst + j] += x[src + j];
  }
  for (let c = 0; c < numClasses; c++) {
    if (counts[c] === 0) {
      let missing = 0;
      for (let k = 0; k < numClasses; k++) if (counts[k] === 0) missing++;
      throw new DataError(
        `Mahalanobis fit: class ${c} has no training rows (${missing} of ${numClasses} classes ` +
          `empty); every class needs features to estimate its mean`,
      );
    }
    const base = c * D;
    for (let j = 0; j < D; j++) sums[base + j] /= counts[c];
  }
  const mu = sums;

  // Mean of the class-centred rows: zero up to rounding, subtracted because
  // EmpiricalCovariance(assume_centered=False) centres its input once more.
  const zbar = new Float64Array(D);
  for (let i = 0; i < N; i++) {
    const src = i * D;
    const mb = labels[i] * D;
    for (let j = 0; j < D; j++) zbar[j] += x[src + j] - mu[mb + j];
  }
  for (let j = 0; j < D; j++) zbar[j] /= N;

  const cov = new Float64Array(D * D);
  const z = new Float64Array(D);
  for (let i = 0; i < N; i++) {
    const src = i * D;
    const mb = labels[i] * D;
    for (let j = 0; j < D; j++) z[j] = x[src + j] - mu[mb + j] - zbar[j];
    // Upper triangle of the rank-1 update; mirrored once at the end.
    for (let a = 0; a < D; a++) {
      const za = z[a];
      if (za === 0) continue;
      const row = a * D;
      for (let b = a; b < D; b++) cov[row + b] += za * z[b];
    }
  }
  for (let a = 0; a < D; a++) {
    for (let b = a; b < D; b++) {
      const v = cov[a * D + b] / N;
      cov[a * D + b] = v;
      cov[b * D + a] = v;
    }
  }
  let finite = true;
  for (let k = 0; k < cov.length && finite; k++) finite = Number.isFinite(cov[k]);
  if (!finite) {
    throw new DataError(
      `Mahalanobis fit: the feature covariance contains NaN or Infinity; ` +
        `check the training features for NaN / Inf values`,
    );
  }
  const prec = pinvSymmetric(cov, D, options.rtol ?? D * 2 ** -52);
  return {
    means: { data: Float32Array.from(mu), rows: numClasses, cols: D },
    precision: { data: Float32Array.from(prec), rows: D, cols: D },
  };
}

/**
 * Mahalanobis score per row of N x D features: `-0.5 min_c (x - mu_c)^T P (x - mu_c)` (higher =
 * more in-distribution), in float64 arithmetic on the model's float32 values, expanded as
 * `x^T P x - 2 x^T (P mu_c) + mu_c^T P mu_c` so each row costs one D x D product plus C dot
 * products.
 */
export function mahalanobis(model: MahalanobisModel, features: Matrix): Float32Array {
  const { means, precision } = model;
  const D = features.cols;
  if (means.cols !== D || precision.rows !== D || precision.cols !== D) {
    throw new DataError(
      `Mahalanobis model is for ${means.cols}-d features (precision ${precision.rows} x ` +
        `${precision.cols}) but the features are ${D}-d; fit on the same backbone's features`,
    );
  }
  const C = means.rows;
  const P = Float64Array.from(precision.data);
  const mu = means.data;
  // pm[c] = P mu_c, and mpm[c] = mu_c^T P mu_c.
  const pm = new Float64Array(C * D);
  const mpm = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const mb = c * D;
    let q = 0;
    for (let r = 0; r < D; r++) {
      const row = r * D;
      let s = 0;
      for (let k = 0; k < D; k++) s += P[row + k] * mu[mb + k];
      pm[mb + r] = s;
      q += mu[mb + r] * s;
    }
    mpm[c] = q;
  }
  const x = features.data;
  const px = new Float64Array(D);
  const out = new Float32Array(features.rows);
  for (let i = 0; i < features.rows; i++) {
    const xb = i * D;
    let xpx = 0;
    for (let r = 0; r < D; r++) {
      const row = r * D;
      let s = 0;
      for (let k = 0; k < D; k++) s += P[row + k] * x[xb + k];
      px[r] = s;
      xpx += x[xb + r] * s;
    }
    let best = Infinity;
    let nan = xpx !== xpx;
    for (let c = 0; c < C; c++) {
      const mb = c * D;
      let cross = 0;
      for (let k = 0; k < D; k++) cross += x[xb + k] * pm[mb + k];
      const dist = xpx - 2 * cross + mpm[c];
      if (dist < best) best = dist;
      else if (dist !== dist) nan = true;
    }
    out[i] = nan ? NaN : MAHALANOBIS_SCORE_SCALE * best;
  }
  return out;
}
