/**
 * Mahalanobis over several layers, as Lee et al. 2018 ran it and the MOS paper's Table 1 baseline
 * was released: for each pooled layer (the ResNetV2 root block and blocks 1-4, the outputs that
 * extraction exports as `root.npy`, `block1.npy`, ... `block4.npy`) class means and one shared
 * covariance are fitted on the training features of that layer; each layer gives the score
 * `-0.5 min_c (x - mu_c)^T P (x - mu_c)` (the released code's scale; the regression standardises
 * its inputs, so the scale changes nothing here); a logistic regression combines the layer scores
 * into one.
 *
 * Deviations from the released code, because cached features have no gradients:
 * - no input preprocessing (the FGSM-style noise magnitude is 0);
 * - the regression is fitted on a held-out ID split against a separate OOD-val set (the released
 *   code fitted it on ID images against FGSM-perturbed copies of them, which needs input
 *   gradients); tables say so.
 * The regression is {@linkcode fitLogisticCV} (scikit-learn `LogisticRegressionCV` defaults: C
 * picked by 5-fold accuracy) on standardised layer scores; the detector's score is its decision
 * value `w . s + b` (the log-odds of in-distribution), monotone in the predicted probability but
 * free of the float32 ties that probabilities near 1 would create.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import type { Matrix } from "../matrix.ts";
import { matrixSource, type RowSource } from "../row_source.ts";
import {
  type FastFitOptions,
  fitMahalanobisFast,
  mahalanobisFast,
  type MahalanobisModel,
} from "../ort/mahalanobis_kernel.ts";
import {
  fitLogisticCV,
  type LogisticCvModel,
  type LogisticCvOptions,
  logisticDecision,
} from "./logistic.ts";
import { checkFiniteScores, withSite } from "../numerics.ts";

/** Method key of the detector, as the overflow guard names it. */
const METHOD = "mahalanobis-multilayer";

/** The file a layer's rows come from: an opened `.npy` knows its path. */
function layerFile(rows: LayerRows, layer: string): string {
  const path = (rows as { path?: unknown }).path;
  return typeof path === "string" ? path : `${layer}.npy`;
}

/** The pooled layers extraction can export, shallow to deep (file `<name>.npy` in a feature set). */
export const MAHALANOBIS_LAYERS: readonly string[] = Object.freeze([
  "root",
  "block1",
  "block2",
  "block3",
  "block4",
]);

/** One layer's Mahalanobis statistics. */
export interface LayerStatistics {
  layer: string;
  model: MahalanobisModel;
}

/** A layer's rows: in memory or streamed (an opened `.npy`). */
export type LayerRows = Matrix | RowSource;

/**
 * Per-layer Mahalanobis scores of one set: an n x L float64 matrix (row-major, column l = layer
 * l of `stats`), the input of the combiner.
 */
export interface LayerScores {
  layers: string[];
  rows: number;
  data: Float64Array;
}

/**
 * Fits class means and the shared covariance of every layer on its training rows (`train[layer]`,
 * all with the same `labels`), one layer at a time so only one layer's covariance is in memory.
 */
export async function fitLayerStatistics(
  train: Record<string, LayerRows>,
  layers: readonly string[],
  labels: Int32Array,
  numClasses: number,
  opts: FastFitOptions = {},
): Promise<LayerStatistics[]> {
  const out: LayerStatistics[] = [];
  for (const layer of layers) {
    const rows = train[layer];
    if (!rows) {
      throw new DataError(
        `Multi-layer Mahalanobis: the training set has no "${layer}" features; extract the ` +
          `pooled layer outputs (${layers.join(", ")}) with the features`,
      );
    }
    const source = "data" in rows ? matrixSource(rows) : rows;
    const model = await withSite(
      { method: METHOD, set: `training layer ${layer}`, file: layerFile(rows, layer) },
      () => fitMahalanobisFast(source, labels, numClasses, opts),
    );
    out.push({ layer, model: { means: model.means, precision: model.precision } });
  }
  return out;
}

/**
 * Scores every row of one set on every layer (`set[layer]` must have the same row count). A layer
 * score that overflows float32 (NaN / Inf) is a `DataError` naming the layer's file and
 * `opts.set` (the dataset name), before it can reach the regression.
 */
export async function layerScores(
  stats: readonly LayerStatistics[],
  set: Record<string, LayerRows>,
  opts: FastFitOptions & { set?: string } = {},
): Promise<LayerScores> {
  const L = stats.length;
  let n = -1;
  let data = new Float64Array(0);
  for (let l = 0; l < L; l++) {
    const { layer, model } = stats[l];
    const rows = set[layer];
    if (!rows) {
      throw new DataError(
        `Multi-layer Mahalanobis: a scored set has no "${layer}" features; every set needs the ` +
          `same layer files (${stats.map((s) => s.layer).join(", ")})`,
      );
    }
    if (n === -1) {
      n = rows.rows;
      data = new Float64Array(n * L);
    } else if (rows.rows !== n) {
      throw new DataError(
        `Multi-layer Mahalanobis: layer "${layer}" has ${rows.rows} rows but ` +
          `"${stats[0].layer}" has ${n}; the layer files of one set must have one row per image`,
      );
    }
    const s = await mahalanobisFast(model, rows, opts);
    checkFiniteScores(s, {
      method: `${METHOD} (layer ${layer})`,
      set: opts.set ?? "a scored set",
      file: layerFile(rows, layer),
    }, "data" in rows ? rows : undefined);
    for (let i = 0; i < n; i++) data[i * L + l] = s[i];
  }
  return { layers: stats.map((s) => s.layer), rows: Math.max(n, 0), data };
}

/** The rows `rows` of a layer-score matrix, copied (for the ID-val / ID-test split). */
export function selectLayerScores(s: LayerScores, rows: Int32Array): LayerScores {
  const L = s.layers.length;
  const data = new Float64Array(rows.length * L);
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k];
    if (!(r >= 0 && r < s.rows)) throw new RangeError(`row ${r} outside [0, ${s.rows})`);
    data.set(s.data.subarray(r * L, r * L + L), k * L);
  }
  return { layers: s.layers, rows: rows.length, data };
}

/** The fitted combiner. */
export interface LayerCombiner {
  layers: string[];
  regression: LogisticCvModel;
}

/**
 * Fits the logistic regression on layer scores of ID rows (label 1) against OOD rows (label 0):
 * under both protocols, the held-out ID-val split against the OOD-val set.
 */
export function fitLayerCombiner(
  id: LayerScores,
  ood: LayerScores,
  options: LogisticCvOptions = {},
): LayerCombiner {
  if (id.layers.join() !== ood.layers.join()) {
    throw new RangeError(`layer lists differ: ${id.layers} vs ${ood.layers}`);
  }
  const L = id.layers.length;
  const x = new Float64Array((id.rows + ood.rows) * L);
  x.set(id.data, 0);
  x.set(ood.data, id.rows * L);
  const y = new Uint8Array(id.rows + ood.rows);
  y.fill(1, 0, id.rows);
  return { layers: [...id.layers], regression: fitLogisticCV(x, L, y, options) };
}

/** Combined score per row: the regression's decision value (higher = more in-distribution). */
export function combineLayerScores(combiner: LayerCombiner, s: LayerScores): Float32Array {
  if (combiner.layers.join() !== s.layers.join()) {
    throw new RangeError(`layer lists differ: ${combiner.layers} vs ${s.layers}`);
  }
  return Float32Array.from(logisticDecision(combiner.regression, s.data, s.layers.length));
}
