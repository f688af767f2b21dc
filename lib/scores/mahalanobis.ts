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
import { pinvSymmetric } from "../linalg/pinv_symmetric.ts";

/** The factor from the smallest squared distance to the score: the released code's -0.5. */
export const MAHALANOBIS_SCORE_SCALE: number = -0.5;

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
