/**
 * SHE (Simplified Hopfield Energy), Zhang et al., "Out-of-Distribution Detection based on
 * In-Distribution Data Patterns Memorization with Modern Hopfield Energy", ICLR 2023: each class
 * stores one pattern, the mean penultimate feature of the ID training samples of that class that
 * the head classifies correctly, and the score is the similarity of a test feature to the pattern
 * of its predicted class, by default the inner product `score = x . P_{argmax z}`. Checked against
 * OpenOOD `openood/postprocessors/she_postprocessor.py` (mask `labels == c and preds == c`, mean,
 * `distance(feature, activation_log[pred], metric)` with inner_product / euclidean / cosine) and
 * `configs/postprocessors/she.yml` (metric inner_product).
 *
 * Deviation: a class whose training rows are all misclassified has no pattern in OpenOOD (a NaN
 * mean, so NaN scores); here it falls back to the mean of all its training rows.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import type { Matrix } from "../matrix.ts";
import type { ChunkOptions, RowSource } from "../ort/linear.ts";
import {
  checkFeatures,
  checkHeadKind,
  checkLogits,
  type DetectorHead,
  forEachFeatureLogitsChunk,
  rowArgmax,
} from "./common.ts";

/** SHE similarity. */
export type SheMetric = "inner_product" | "euclidean" | "cosine";

/** Fitted SHE patterns. */
export interface SheModel {
  /** C x D stored patterns. */
  patterns: Matrix;
  metric: SheMetric;
  /** Classes that fell back to the mean of all their rows (none correctly classified). */
  fallbackClasses: number[];
}

/** Fits SHE patterns on streamed labelled ID training features. */
export async function fitShe(
  train: RowSource,
  labels: Int32Array,
  head: DetectorHead,
  metric: SheMetric = "inner_product",
  opts: ChunkOptions = {},
): Promise<SheModel> {
  checkHeadKind("she", "flat", head.kind);
  checkFeatures("SHE", train, head);
  const c = head.weight.rows;
  const d = train.cols;
  if (labels.length !== train.rows) {
    throw new DataError(`SHE fit: ${labels.length} labels for ${train.rows} training rows.`);
  }
  const sumsOk = new Float64Array(c * d);
  const sumsAll = new Float64Array(c * d);
  const nOk = new Float64Array(c);
  const nAll = new Float64Array(c);
  await forEachFeatureLogitsChunk(train, head, (start, x, logits) => {
    for (let i = 0; i < x.rows; i++) {
      const y = labels[start + i];
      if (!(y >= 0 && y < c)) {
        throw new DataError(`SHE fit: label ${y} of row ${start + i} is outside [0, ${c}).`);
      }
      const ok = rowArgmax(logits, i) === y;
      nAll[y]++;
      if (ok) nOk[y]++;
      for (let j = 0; j < d; j++) {
        const v = x.data[i * d + j];
        sumsAll[y * d + j] += v;
        if (ok) sumsOk[y * d + j] += v;
      }
    }
  }, opts);
  const patterns = new Float32Array(c * d);
  const fallbackClasses: number[] = [];
  for (let k = 0; k < c; k++) {
    if (nAll[k] === 0) {
      throw new DataError(`SHE fit: class ${k} has no training rows; every class needs features.`);
    }
    const useOk = nOk[k] > 0;
    if (!useOk) fallbackClasses.push(k);
    const src = useOk ? sumsOk : sumsAll;
    const n = useOk ? nOk[k] : nAll[k];
    for (let j = 0; j < d; j++) patterns[k * d + j] = src[k * d + j] / n;
  }
  return { patterns: { data: patterns, rows: c, cols: d }, metric, fallbackClasses };
}

/** SHE score per row from features and their logits (higher = more in-distribution). */
export function she(model: SheModel, features: Matrix, logits: Matrix): Float32Array {
  const { patterns, metric } = model;
  const d = features.cols;
  checkLogits("SHE", logits, features.rows, patterns.rows);
  if (patterns.cols !== d) {
    throw new DataError(`SHE patterns are ${patterns.cols}-d but the features are ${d}-d.`);
  }
  const out = new Float32Array(features.rows);
  for (let i = 0; i < features.rows; i++) {
    const pb = rowArgmax(logits, i) * d;
    const xb = i * d;
    let dot = 0;
    let xx = 0;
    let pp = 0;
    let sq = 0;
    for (let j = 0; j < d; j++) {
      const x = features.data[xb + j];
      const p = patterns.data[pb + j];
      dot += x * p;
      xx += x * x;
      pp += p * p;
      sq += (x - p) * (x - p);
    }
    out[i] = metric === "inner_product" ? dot : metric === "euclidean"
      ? -Math.sqrt(sq)
      // torch.cosine_similarity clamps each norm at eps = 1e-8.
      : dot / (Math.max(Math.sqrt(xx), 1e-8) * Math.max(Math.sqrt(pp), 1e-8));
  }
  return out;
}
