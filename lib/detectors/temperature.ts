/**
 * Temperature scaling, Guo et al., "On Calibration of Modern Neural Networks", ICML 2017: one
 * temperature T is fitted by minimising the negative log-likelihood of `softmax(z / T)` on held-out
 * ID data; the OOD score is the calibrated max softmax `max_j softmax(z / T)_j`. Checked against
 * OpenOOD `openood/postprocessors/temp_scaling_postprocessor.py` (NLL on the ID `val` split,
 * LBFGS from T = 1.5, score = max softmax of `logits / T`).
 *
 * The fit here minimises the same NLL exactly instead of 50 LBFGS steps: with beta = 1 / T,
 * `NLL(beta) = mean_i (logsumexp(beta z_i) - beta z_{i, y_i})` is convex in beta (its second
 * derivative is the mean variance of z under `softmax(beta z)`), so a safeguarded Newton iteration
 * on beta converges to the global minimum.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import type { Matrix } from "../matrix.ts";
import { maxSoftmaxRows } from "../softmax.ts";

/** A fitted temperature. */
export interface TemperatureModel {
  temperature: number;
}

/** First and second derivative of the NLL in beta, and its value. */
function nllDerivatives(logits: Matrix, labels: Int32Array, beta: number) {
  const { rows, cols, data } = logits;
  let f = 0;
  let g = 0;
  let h = 0;
  for (let i = 0; i < rows; i++) {
    const base = i * cols;
    let m = -Infinity;
    for (let j = 0; j < cols; j++) m = Math.max(m, beta * data[base + j]);
    let s = 0;
    let s1 = 0;
    let s2 = 0;
    for (let j = 0; j < cols; j++) {
      const z = data[base + j];
      const e = Math.exp(beta * z - m);
      s += e;
      s1 += e * z;
      s2 += e * z * z;
    }
    const mean = s1 / s;
    const zy = data[base + labels[i]];
    f += m + Math.log(s) - beta * zy;
    g += mean - zy;
    h += s2 / s - mean * mean;
  }
  return { f: f / rows, g: g / rows, h: h / rows };
}

/**
 * Fits T on N x C ID logits with labels in [0, C) by minimising the NLL of `softmax(z / T)`.
 * When the NLL keeps decreasing as T grows (the logits carry no label information) or as T
 * shrinks (every row already predicted right), T is clamped to [1e-3, 1e3].
 */
export function fitTemperature(logits: Matrix, labels: Int32Array): TemperatureModel {
  if (labels.length !== logits.rows || logits.rows === 0) {
    throw new DataError(
      `Temperature fit needs one label per logits row and at least one row, got ${labels.length} ` +
        `labels for ${logits.rows} rows; pass the ID validation split's labels.`,
    );
  }
  for (let i = 0; i < labels.length; i++) {
    if (!(labels[i] >= 0 && labels[i] < logits.cols)) {
      throw new DataError(
        `Temperature fit: label ${labels[i]} of row ${i} is outside [0, ${logits.cols}); ` +
          `fit on labelled ID rows only.`,
      );
    }
  }
  const lo0 = 1e-3;
  const hi0 = 1e3;
  // Bracket the minimiser of a convex function in beta through the sign of its derivative.
  let lo = 1 / hi0;
  let hi = 1 / lo0;
  if (nllDerivatives(logits, labels, lo).g >= 0) return { temperature: hi0 };
  if (nllDerivatives(logits, labels, hi).g <= 0) return { temperature: lo0 };
  let beta = 1 / 1.5;
  for (let it = 0; it < 200; it++) {
    const { g, h } = nllDerivatives(logits, labels, beta);
    if (g > 0) hi = beta;
    else lo = beta;
    let next = h > 0 ? beta - g / h : NaN;
    // Newton steps that leave the bracket are replaced by bisection.
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
    if (Math.abs(next - beta) <= 1e-12 * beta || hi - lo <= 1e-12 * hi) {
      beta = next;
      break;
    }
    beta = next;
  }
  return { temperature: 1 / beta };
}

/** Temperature-scaled max softmax per row (higher = more in-distribution). */
export function temperatureScore(model: TemperatureModel, logits: Matrix): Float32Array {
  return maxSoftmaxRows(logits, model.temperature);
}
