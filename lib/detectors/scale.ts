/**
 * SCALE, Xu et al., "Scaling for Training Time and Post-hoc Out-of-distribution Detection
 * Enhancement", ICLR 2024: the whole (unpruned) activation is multiplied by `exp(s1 / s2)`, s1 the
 * sum of all activations and s2 the sum of the k = n - round(n p / 100) largest, and the score is
 * the energy of the scaled logits. Checked against OpenOOD `openood/networks/scale_net.py`
 * (`scale`: prunes a copy to measure s2 but returns `input * exp(s1 / s2)`), `openood/
 * postprocessors/scale_postprocessor.py` (logsumexp) and `configs/postprocessors/scale.yml`
 * (percentile 85, sweep 65..95 by 5).
 *
 * The logits are linear in the feature, so `(r x) W^T + b = r (z - b) + b` with z the head's
 * logits of x: no second matrix product is needed.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import type { Matrix } from "../matrix.ts";
import { checkLogits, energyScore } from "./common.ts";
import { keepCount, topKMask } from "./percentile.ts";

/** The SCALE factor `exp(s1 / s2)` of each row of N x D features. */
export function scaleFactors(features: Matrix, percentile = 85): Float64Array {
  const d = features.cols;
  const k = keepCount(d, percentile);
  const keep = new Uint8Array(d);
  const scratch = new Float64Array(d);
  const out = new Float64Array(features.rows);
  for (let i = 0; i < features.rows; i++) {
    const row = features.data.subarray(i * d, (i + 1) * d);
    topKMask(row, k, keep, scratch);
    let s1 = 0;
    let s2 = 0;
    for (let j = 0; j < d; j++) {
      s1 += row[j];
      if (keep[j]) s2 += row[j];
    }
    out[i] = Math.exp(s1 / s2);
  }
  return out;
}

/**
 * SCALE score per row from N x D features, their N x O logits `z = x W^T + b` and the head's bias
 * (higher = more in-distribution).
 */
export function scale(
  features: Matrix,
  logits: Matrix,
  bias: Float32Array,
  percentile = 85,
): Float32Array {
  checkLogits("SCALE", logits, features.rows, bias.length);
  if (bias.length !== logits.cols) {
    throw new DataError(`SCALE: head bias has ${bias.length} values for ${logits.cols} logits.`);
  }
  const r = scaleFactors(features, percentile);
  const o = logits.cols;
  const scaled = new Float32Array(logits.data.length);
  for (let i = 0; i < logits.rows; i++) {
    for (let j = 0; j < o; j++) {
      scaled[i * o + j] = r[i] * (logits.data[i * o + j] - bias[j]) + bias[j];
    }
  }
  return energyScore({ data: scaled, rows: logits.rows, cols: o });
}
