/**
 * A small L2-regularised logistic regression for a handful of features (the multi-layer
 * Mahalanobis combiner: 5 layer scores), in float64, fitted by Newton's method.
 *
 * Objective, as scikit-learn's `LogisticRegression(penalty="l2", C)`: minimise
 * `0.5 ||w||^2 + C sum_i log(1 + exp(-s_i (w . z_i + b)))` with `s_i = +-1`; the intercept b is not
 * penalised. Unlike scikit-learn, the columns are standardised first (z = (x - mean) / sd over the
 * training rows; a constant column gets sd 1) so that one C means the same on layer scores of very
 * different scales; the returned weights are mapped back to the raw features.
 *
 * Newton: gradient `[w + C Z^T (p - y); C 1^T (p - y)]`, Hessian `C Z~^T diag(p (1 - p)) Z~ +
 * diag(1, ..., 1, 0)`, solved by Cholesky on (p + 1) x (p + 1); each step is halved until the
 * objective does not increase. The penalty keeps the problem strictly convex in w, so it converges
 * in a few steps even on separable data.
 *
 * {@linkcode fitLogisticCV} picks C the way `LogisticRegressionCV` does by default: 10 values
 * `logspace(-4, 4, 10)`, 5 stratified folds (contiguous blocks per class, no shuffling, as
 * `StratifiedKFold`), mean accuracy, the first best C, refit on all rows.
 *
 * @module
 */
import { DataError } from "../errors.ts";

/** A fitted model on raw features: `decision = weights . x + intercept` (log-odds of class 1). */
export interface LogisticModel {
  /** p weights on the raw (unstandardised) features. */
  weights: Float64Array;
  intercept: number;
  /** Inverse regularisation strength used. */
  c: number;
  /** Newton iterations taken. */
  iterations: number;
  /** Whether the gradient norm fell below the tolerance. */
  converged: boolean;
}

/** Options of {@linkcode fitLogistic}. */
export interface LogisticOptions {
  /** Inverse regularisation strength C (default 1, scikit-learn's). */
  c?: number;
  /** Standardise the columns before fitting (default true; see the module doc). */
  standardize?: boolean;
  /** Maximum Newton iterations (default 100). */
  maxIter?: number;
  /** Stop when the max-abs gradient falls below `tol (1 + C n)` (default 1e-10). */
  tol?: number;
}

/** Options of {@linkcode fitLogisticCV}. */
export interface LogisticCvOptions extends Omit<LogisticOptions, "c"> {
  /** Candidate C values (default `logspace(-4, 4, 10)`). */
  cs?: readonly number[];
  /** Folds (default 5). */
  folds?: number;
}

/** A model chosen by cross-validation, with the mean held-out accuracy of every candidate C. */
export interface LogisticCvModel extends LogisticModel {
  cvAccuracy: { c: number; accuracy: number }[];
}

/** `log(1 + exp(t))` without overflow. */
function softplus(t: number): number {
  return t > 0 ? t + Math.log1p(Math.exp(-t)) : Math.log1p(Math.exp(t));
}

function sigmoid(t: number): number {
  if (t >= 0) return 1 / (1 + Math.exp(-t));
  const e = Math.exp(t);
  return e / (1 + e);
}

function checkInputs(x: Float64Array, p: number, y: ArrayLike<number>): number {
  if (!Number.isInteger(p) || p < 1) throw new RangeError(`p must be a positive integer, got ${p}`);
  const n = y.length;
  if (x.length !== n * p) {
    throw new RangeError(`x has ${x.length} values, expected ${n} rows x ${p} features`);
  }
  let ones = 0;
  for (let i = 0; i < n; i++) {
    if (y[i] !== 0 && y[i] !== 1) throw new RangeError(`label ${i} is ${y[i]}, expected 0 or 1`);
    ones += y[i];
  }
  if (ones === 0 || ones === n) {
    throw new DataError(
      `Logistic regression needs rows of both classes, got ${ones} of ${n} positive; ` +
        `give both the ID and the OOD fitting sets`,
    );
  }
  for (let k = 0; k < x.length; k++) {
    if (!Number.isFinite(x[k])) {
      throw new DataError(
        `Logistic regression input row ${Math.floor(k / p)} has a non-finite value (${x[k]}); ` +
          `check the layer scores`,
      );
    }
  }
  return n;
}

/** Solves the SPD system `a z = b` (m x m, row-major) in place of a copy by Cholesky. */
function choleskySolve(a: Float64Array, b: Float64Array, m: number): Float64Array {
  const l = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * m + j];
      for (let k = 0; k < j; k++) s -= l[i * m + k] * l[j * m + k];
      if (i === j) {
        // A tiny floor keeps a fully saturated fit (p (1 - p) = 0 for every row) solvable.
        l[i * m + i] = Math.sqrt(Math.max(s, 1e-300));
      } else l[i * m + j] = s / l[j * m + j];
    }
  }
  const z = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= l[i * m + k] * z[k];
    z[i] = s / l[i * m + i];
  }
  for (let i = m - 1; i >= 0; i--) {
    let s = z[i];
    for (let k = i + 1; k < m; k++) s -= l[k * m + i] * z[k];
    z[i] = s / l[i * m + i];
  }
  return z;
}

/** Column means and standard deviations (sd 1 for constant columns, or all-identity when off). */
function columnScaling(x: Float64Array, n: number, p: number, on: boolean) {
  const mean = new Float64Array(p);
  const sd = new Float64Array(p).fill(1);
  if (!on) return { mean, sd };
  for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) mean[j] += x[i * p + j];
  for (let j = 0; j < p; j++) mean[j] /= n;
  const v = new Float64Array(p);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < p; j++) v[j] += (x[i * p + j] - mean[j]) ** 2;
  }
  for (let j = 0; j < p; j++) {
    const s = Math.sqrt(v[j] / n);
    sd[j] = s > 0 ? s : 1;
  }
  return { mean, sd };
}

/**
 * The objective of the module doc at (w, b) on standardised rows `z`, labels y in {0, 1}:
 * `0.5 ||w||^2 + C sum_i [softplus(t_i) - y_i t_i]`, t_i = w . z_i + b.
 */
function objective(
  z: Float64Array,
  y: ArrayLike<number>,
  p: number,
  c: number,
  theta: Float64Array,
): number {
  const n = y.length;
  let loss = 0;
  for (let i = 0; i < n; i++) {
    let t = theta[p];
    for (let j = 0; j < p; j++) t += theta[j] * z[i * p + j];
    loss += softplus(t) - y[i] * t;
  }
  let reg = 0;
  for (let j = 0; j < p; j++) reg += theta[j] * theta[j];
  return 0.5 * reg + c * loss;
}

/**
 * Fits the L2-regularised logistic regression of the module doc. `x` is n x p row-major float64,
 * `y` holds n labels in {0, 1} (1 = the positive class, e.g. in-distribution). Rows of one class
 * only, or non-finite inputs, are a `DataError`.
 *
 * @example
 * ```ts
 * const m = fitLogistic(Float64Array.from([0, 1, 2, 3]), 1, [0, 0, 1, 1]);
 * logisticDecision(m, Float64Array.from([1.5]), 1); // ~0: the midpoint
 * ```
 */
export function fitLogistic(
  x: Float64Array,
  p: number,
  y: ArrayLike<number>,
  options: LogisticOptions = {},
): LogisticModel {
  const n = checkInputs(x, p, y);
  const c = options.c ?? 1;
  if (!(c > 0 && Number.isFinite(c))) throw new RangeError(`C must be > 0, got ${c}`);
  const maxIter = options.maxIter ?? 100;
  const tol = options.tol ?? 1e-10;
  const { mean, sd } = columnScaling(x, n, p, options.standardize ?? true);
  const z = new Float64Array(n * p);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < p; j++) z[i * p + j] = (x[i * p + j] - mean[j]) / sd[j];
  }
  const m = p + 1;
  const theta = new Float64Array(m);
  let f = objective(z, y, p, c, theta);
  let iterations = 0;
  let converged = false;
  const grad = new Float64Array(m);
  const hess = new Float64Array(m * m);
  const row = new Float64Array(m);
  for (; iterations < maxIter; iterations++) {
    grad.fill(0);
    hess.fill(0);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < p; j++) row[j] = z[i * p + j];
      row[p] = 1;
      let t = 0;
      for (let j = 0; j < m; j++) t += theta[j] * row[j];
      const pr = sigmoid(t);
      const r = pr - y[i];
      const wgt = pr * (1 - pr);
      for (let j = 0; j < m; j++) {
        grad[j] += r * row[j];
        const s = wgt * row[j];
        for (let k = 0; k <= j; k++) hess[j * m + k] += s * row[k];
      }
    }
    for (let j = 0; j < m; j++) {
      grad[j] *= c;
      for (let k = 0; k <= j; k++) {
        hess[j * m + k] *= c;
        hess[k * m + j] = hess[j * m + k];
      }
    }
    for (let j = 0; j < p; j++) {
      grad[j] += theta[j];
      hess[j * m + j] += 1;
    }
    let gmax = 0;
    for (let j = 0; j < m; j++) gmax = Math.max(gmax, Math.abs(grad[j]));
    // Relative to the loss term's natural size, C n, so the test means the same for every C.
    if (gmax <= tol * (1 + c * n)) {
      converged = true;
      break;
    }
    const step = choleskySolve(hess, grad, m);
    let scale = 1;
    // Near the optimum a full step changes f below its rounding; a slack of a few ulps lets it
    // through instead of halving it away.
    const slack = 1e-13 * Math.max(1, Math.abs(f));
    const next = new Float64Array(m);
    let fNext = Infinity;
    for (let halvings = 0; halvings < 60; halvings++) {
      for (let j = 0; j < m; j++) next[j] = theta[j] - scale * step[j];
      fNext = objective(z, y, p, c, next);
      if (fNext <= f + slack) break;
      scale /= 2;
    }
    if (!(fNext <= f + slack)) {
      // No decrease even for a tiny step: at the optimum up to rounding.
      converged = true;
      break;
    }
    for (let j = 0; j < m; j++) theta[j] -= scale * step[j];
    f = fNext;
  }
  // Back to raw features: w_raw = w / sd, b_raw = b - sum_j w_j mean_j / sd_j.
  const weights = new Float64Array(p);
  let intercept = theta[p];
  for (let j = 0; j < p; j++) {
    weights[j] = theta[j] / sd[j];
    intercept -= weights[j] * mean[j];
  }
  return { weights, intercept, c, iterations, converged };
}

/** Decision values `weights . x_i + intercept` (log-odds of class 1) of n x p rows `x`. */
export function logisticDecision(model: LogisticModel, x: Float64Array, p: number): Float64Array {
  if (model.weights.length !== p) {
    throw new RangeError(`model has ${model.weights.length} weights, rows have ${p} features`);
  }
  if (x.length % p !== 0) throw new RangeError(`x has ${x.length} values, not a multiple of ${p}`);
  const n = x.length / p;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let t = model.intercept;
    for (let j = 0; j < p; j++) t += model.weights[j] * x[i * p + j];
    out[i] = t;
  }
  return out;
}

/** `logspace(-4, 4, 10)`: scikit-learn's default C grid of `LogisticRegressionCV`. */
export function defaultCs(): number[] {
  return Array.from({ length: 10 }, (_, i) => 10 ** (-4 + (8 * i) / 9));
}

/**
 * Fold of every row: rows of each class, in order, are cut into `folds` contiguous blocks whose
 * sizes differ by at most one (the first blocks take the extra rows).
 */
export function stratifiedFolds(y: ArrayLike<number>, folds: number): Int32Array {
  const out = new Int32Array(y.length);
  for (const cls of [0, 1]) {
    const idx: number[] = [];
    for (let i = 0; i < y.length; i++) if (y[i] === cls) idx.push(i);
    if (idx.length < folds) {
      throw new DataError(
        `Cross-validation with ${folds} folds needs at least ${folds} rows of each class, got ` +
          `${idx.length} of class ${cls}; give more fitting rows`,
      );
    }
    const base = Math.floor(idx.length / folds);
    const extra = idx.length % folds;
    let pos = 0;
    for (let f = 0; f < folds; f++) {
      const size = base + (f < extra ? 1 : 0);
      for (let k = 0; k < size; k++) out[idx[pos++]] = f;
    }
  }
  return out;
}

/** Picks C by stratified k-fold accuracy, then refits on every row (see the module doc). */
export function fitLogisticCV(
  x: Float64Array,
  p: number,
  y: ArrayLike<number>,
  options: LogisticCvOptions = {},
): LogisticCvModel {
  const n = checkInputs(x, p, y);
  const cs = options.cs ?? defaultCs();
  const folds = options.folds ?? 5;
  if (!Number.isInteger(folds) || folds < 2) {
    throw new RangeError(`folds must be an integer >= 2, got ${folds}`);
  }
  const fold = stratifiedFolds(y, folds);
  const cvAccuracy: { c: number; accuracy: number }[] = [];
  let best = -1;
  let bestC = cs[0];
  for (const c of cs) {
    let sum = 0;
    for (let f = 0; f < folds; f++) {
      let nTrain = 0;
      for (let i = 0; i < n; i++) if (fold[i] !== f) nTrain++;
      const xt = new Float64Array(nTrain * p);
      const yt = new Float64Array(nTrain);
      const xv = new Float64Array((n - nTrain) * p);
      const yv: number[] = [];
      let a = 0;
      let b = 0;
      for (let i = 0; i < n; i++) {
        if (fold[i] !== f) {
          xt.set(x.subarray(i * p, i * p + p), a * p);
          yt[a++] = y[i];
        } else {
          xv.set(x.subarray(i * p, i * p + p), b * p);
          yv.push(y[i]);
          b++;
        }
      }
      const model = fitLogistic(xt, p, yt, { ...options, c });
      const d = logisticDecision(model, xv, p);
      let correct = 0;
      // scikit-learn predicts class 1 when the decision value is > 0.
      for (let i = 0; i < yv.length; i++) if ((d[i] > 0 ? 1 : 0) === yv[i]) correct++;
      sum += correct / yv.length;
    }
    const accuracy = sum / folds;
    cvAccuracy.push({ c, accuracy });
    if (accuracy > best) {
      best = accuracy;
      bestC = c;
    }
  }
  return { ...fitLogistic(x, p, y, { ...options, c: bestC }), cvAccuracy };
}
