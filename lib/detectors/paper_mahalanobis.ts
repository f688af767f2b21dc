/**
 * Mahalanobis as registry entries: the paper's single-layer baseline on penultimate features and
 * the multi-layer variant of Lee et al. 2018 (lib/scoring/multilayer_mahalanobis.ts). Both fit
 * class means and one shared covariance on the training features; the per-sample score is
 * `-0.5 min_c (x - mu_c)^T P (x - mu_c)`, the released code's scale. Fast paths:
 * lib/ort/mahalanobis_kernel.ts; references: lib/scores/mahalanobis.ts in float64.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import type { Matrix } from "../matrix.ts";
import type { RowSource } from "../row_source.ts";
import {
  fitMahalanobisFast,
  mahalanobisFast,
  type MahalanobisModel,
} from "../ort/mahalanobis_kernel.ts";
import { mahalanobis } from "../scores/mahalanobis.ts";
import {
  combineLayerScores,
  fitLayerCombiner,
  fitLayerStatistics,
  type LayerCombiner,
  type LayerScores,
  layerScores,
  type LayerStatistics,
  MAHALANOBIS_LAYERS,
} from "./multilayer_mahalanobis.ts";
import type { DetectorHead } from "./common.ts";
import { defineDetector, type LayerSet, need } from "./detector.ts";

/** Classes of a head: C of a flat head, the layout's C of a group head. */
function numClassesOf(head: DetectorHead): number {
  return head.layout?.numClasses ?? head.weight.rows;
}

interface MahalanobisFit {
  model: MahalanobisModel;
  threads?: number;
  /** MiB bound of the class-mean blocks of the score (lib/ort/mahalanobis_kernel.ts). */
  blockMb?: number;
}

/** The paper's Mahalanobis baseline on penultimate features. */
export const MAHALANOBIS_DETECTOR = defineDetector<MahalanobisFit>({
  key: "mahalanobis",
  label: "Mahalanobis",
  paper: true,
  needs: { head: "flat", train: true, labels: true },
  note: "mahalanobis: penultimate features, class means + shared covariance of the training set",
  hyperparameters: {},
  fit: async (ctx) => {
    const train = need(ctx.train, "mahalanobis", "labelled ID training features");
    const threads = ctx.chunk?.threads;
    const model = await fitMahalanobisFast(
      train.features,
      train.labels,
      numClassesOf(ctx.head),
      { threads },
    );
    return { model, threads, blockMb: ctx.blockMb };
  },
  score: (m, x) => mahalanobisFast(m.model, x, { threads: m.threads, blockMb: m.blockMb }),
  reference: (m, x) => mahalanobis(m.model, x),
});

/** Key of the multi-layer detector. */
export const MULTILAYER_KEY = "mahalanobis-multilayer";

interface MultilayerModel {
  stats: LayerStatistics[];
  combiner: LayerCombiner;
  threads?: number;
}

/** The layers of a set a multi-layer fit or score reads; missing ones are a DataError. */
function layersOf(layers: LayerSet | undefined, what: string): LayerSet {
  if (!layers) {
    throw new DataError(
      `Multi-layer Mahalanobis needs the pooled layer outputs (${MAHALANOBIS_LAYERS.join(", ")}) ` +
        `of ${what}; extract them with the features`,
    );
  }
  return layers;
}

/** All rows of a layer in memory (the float64 reference reads matrices). */
async function layerMatrix(rows: Matrix | RowSource): Promise<Matrix> {
  if ("data" in rows) return rows;
  const data = new Float32Array(rows.rows * rows.cols);
  await rows.readRows(0, rows.rows, data);
  return { data, rows: rows.rows, cols: rows.cols };
}

/** Multi-layer Mahalanobis: per-layer scores combined by a logistic regression. */
export const MULTILAYER_DETECTOR = defineDetector<MultilayerModel>({
  key: MULTILAYER_KEY,
  label: "Mahalanobis (5 layers + LR)",
  needs: { head: "flat", train: true, labels: true, layers: true, idVal: true, oodVal: true },
  hyperparameters: {},
  noteFor: (protocol) =>
    "Mahalanobis (5 layers + LR): root and blocks 1-4, class means + shared covariance per " +
    "layer, combined by a logistic regression (C by 5-fold CV) fitted on " +
    (protocol === "heldout"
      ? "ID-val"
      : "a held-out sample of the training set (left out of the layer statistics)") +
    " against the OOD-val set, NOT on FGSM-perturbed ID images as the released code did; no " +
    "input preprocessing.",
  fit: async (ctx) => {
    const opts = { threads: ctx.chunk?.threads };
    const train = need(ctx.train, MULTILAYER_KEY, "labelled ID training features");
    const idVal = need(ctx.idVal, MULTILAYER_KEY, "the ID validation split");
    const oodVal = need(ctx.oodVal, MULTILAYER_KEY, "the OOD validation set");
    const stats = await fitLayerStatistics(
      layersOf(train.layers, "the training set"),
      MAHALANOBIS_LAYERS,
      train.labels,
      numClassesOf(ctx.head),
      opts,
    );
    const id = await layerScores(stats, layersOf(idVal.layers, "ID-val"), {
      ...opts,
      set: "id-val",
    });
    const ood = await layerScores(stats, layersOf(oodVal.layers, "OOD-val"), {
      ...opts,
      set: "ood-val",
    });
    return { stats, combiner: fitLayerCombiner(id, ood), threads: opts.threads };
  },
  score: async (m, _x, _z, layers) =>
    combineLayerScores(
      m.combiner,
      await layerScores(m.stats, layersOf(layers, "a scored set"), { threads: m.threads }),
    ),
  reference: async (m, _x, _z, layers) => {
    const set = layersOf(layers, "a scored set");
    const L = m.stats.length;
    let s: LayerScores | undefined;
    for (let l = 0; l < L; l++) {
      const x = await layerMatrix(set[m.stats[l].layer]);
      const per = mahalanobis(m.stats[l].model, x);
      s ??= {
        layers: m.stats.map((t) => t.layer),
        rows: x.rows,
        data: new Float64Array(x.rows * L),
      };
      for (let i = 0; i < x.rows; i++) s.data[i * L + l] = per[i];
    }
    return combineLayerScores(m.combiner, s!);
  },
});
