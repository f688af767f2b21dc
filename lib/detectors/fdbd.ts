/**
 * fDBD, Liu and Qin, "Fast Decision Boundary based Out-of-Distribution Detector", ICML 2024: the
 * feature's distance to every decision boundary of its predicted class (in closed form for a
 * linear head, `|z_pred - z_c| / || w_pred - w_c ||`), summed over classes and regularised by the
 * feature's distance to the ID training mean:
 * `score = sum_{c != pred} (|z_pred - z_c| / ||w_pred - w_c||) / ||x - mu_train||`
 * (or `/ ||x||` when `distanceAsNormalizer` is false). The paper's 1 / (C - 1) factor is a
 * constant and, as in OpenOOD, dropped. Checked against OpenOOD `openood/postprocessors/
 * fdbd_postprocessor.py` (`denominator_matrix[p, c] = ||w_c - w_p||`, 1 on the diagonal; `train_mean`
 * over the ID `train` features) and `configs/postprocessors/fdbd.yml` (distance_as_normalizer
 * true, sweep [true, false]).
 *
 * @module
 */
import type { Matrix } from "../matrix.ts";
import type { ChunkOptions, RowSource } from "../ort/linear.ts";
import {
  checkFeatures,
  checkHeadKind,
  checkLogits,
  columnMeans,
  type DetectorHead,
  rowArgmax,
} from "./common.ts";

/** A fitted fDBD detector. */
export interface FdbdModel {
  /** Mean ID training feature (length D). */
  trainMean: Float64Array;
  /** C x C, `||w_p - w_c||` (1 on the diagonal). */
  weightDistances: Float64Array;
  numClasses: number;
  distanceAsNormalizer: boolean;
}

/** The C x C matrix `||w_p - w_c||` of an O x D weight (diagonal set to 1), in float64. */
export function weightDistances(weight: Matrix): Float64Array {
  const { rows: c, cols: d, data: w } = weight;
  const out = new Float64Array(c * c);
  for (let p = 0; p < c; p++) {
    out[p * c + p] = 1;
    for (let q = p + 1; q < c; q++) {
      let s = 0;
      for (let k = 0; k < d; k++) {
        const t = w[p * d + k] - w[q * d + k];
        s += t * t;
      }
      out[p * c + q] = out[q * c + p] = Math.sqrt(s);
    }
  }
  return out;
}

/** Fits fDBD: ID training mean (streamed) and the head's pairwise weight distances. */
export async function fitFdbd(
  train: RowSource,
  head: DetectorHead,
  distanceAsNormalizer = true,
  opts: ChunkOptions = {},
): Promise<FdbdModel> {
  checkHeadKind("fdbd", "flat", head.kind);
  checkFeatures("fDBD", train, head);
  return {
    trainMean: await columnMeans(train, opts),
    weightDistances: weightDistances(head.weight),
    numClasses: head.weight.rows,
    distanceAsNormalizer,
  };
}

/** fDBD score per row from features and their logits (higher = more in-distribution). */
export function fdbd(model: FdbdModel, features: Matrix, logits: Matrix): Float32Array {
  const c = model.numClasses;
  checkLogits("fDBD", logits, features.rows, c);
  const d = features.cols;
  const mu = model.trainMean;
  const out = new Float32Array(features.rows);
  for (let i = 0; i < features.rows; i++) {
    const p = rowArgmax(logits, i);
    const zb = i * c;
    const zp = logits.data[zb + p];
    let s = 0;
    for (let k = 0; k < c; k++) {
      s += Math.abs(zp - logits.data[zb + k]) / model.weightDistances[p * c + k];
    }
    let n = 0;
    for (let j = 0; j < d; j++) {
      const v = features.data[i * d + j] - (model.distanceAsNormalizer ? mu[j] : 0);
      n += v * v;
    }
    out[i] = s / Math.sqrt(n);
  }
  return out;
}
