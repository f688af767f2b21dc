/**
 * The modern post-hoc detectors as registry entries (OpenOOD v1.5's postprocessors, whose
 * defaults and grids they take from `configs/postprocessors/<name>.yml` unless an entry says
 * otherwise), then the toolkit's group-aware extensions. A sweep refits per grid point; detectors
 * whose fit is expensive and independent of the swept value expose cheaper sweep helpers in their
 * own modules (`knnScoresForKs`, `vimFromSpace`, `residualFromSpace`).
 *
 * @module
 */
import type { Matrix } from "../matrix.ts";
import { matrixSource } from "../ort/linear.ts";
import { ash, type AshVariant } from "./ash.ts";
import type { DetectorHead } from "./common.ts";
import {
  defineDetector,
  type Detector,
  type FitData,
  type HyperSpec,
  need,
  type Params,
  plainFit,
  type PlainModel,
  type Protocol,
} from "./detector.ts";
import { dice, type DiceModel, fitDice } from "./dice.ts";
import { fdbd, fitFdbd } from "./fdbd.ts";
import { gen } from "./gen.ts";
import { gradNorm } from "./gradnorm.ts";
import { mosReact, mosTemperature } from "./group_variants.ts";
import { fitKnn, knn, type KnnSearchOptions } from "./knn.ts";
import { maxLogit } from "./mls.ts";
import { fitNnGuide, nnGuide } from "./nnguide.ts";
import { fitReact, react, type ReactModel } from "./react.ts";
import {
  ashReference,
  diceReference,
  knnReference,
  mosReactReference,
  nnGuideReference,
  reactReference,
  residualReference,
  rmdsReference,
  vimReference,
} from "./reference_paths.ts";
import { fitResidual, residual } from "./residual.ts";
import { fitRmds, rmds } from "./rmds.ts";
import { scale } from "./scale.ts";
import { fitShe, she, type SheMetric } from "./she.ts";
import { fitTemperature, temperatureScore } from "./temperature.ts";
import { fitVim, vim } from "./vim.ts";

type NoParams = Record<never, never>;
type Percentile = { percentile: number };
type Dim = { dim: number };
type K = { k: number };

const PERCENTILES_65_95 = [65, 70, 75, 80, 85, 90, 95];
const REACT_GRID: { percentile: HyperSpec<number> } = {
  percentile: { default: 90, grid: [85, 90, 95, 99] },
};

/** Residual's fit data per protocol (see its entry). */
const RESIDUAL_FIT_DATA: Record<Protocol, FitData> = { paper: "train", heldout: "idVal" };

/** A fitted model with the head and the chunking its score reads. */
type WithHead<M> = M & { head: DetectorHead; chunk?: KnnSearchOptions };

function ashEntry(v: AshVariant) {
  return defineDetector<PlainModel<Percentile>, Percentile>({
    key: `ash-${v}`,
    label: `ASH-${v.toUpperCase()}`,
    needs: { head: "flat" },
    hyperparameters: { percentile: { default: 90, grid: PERCENTILES_65_95 } },
    fit: plainFit,
    score: (m, x) => ash(v, m.head, x, { ...m.chunk, percentile: m.params.percentile }),
    reference: (m, x) => ashReference(v, m.head, x, m.params.percentile),
  });
}

function reactEntry(key: "react" | "mos-react") {
  const group = key === "mos-react";
  return defineDetector<WithHead<ReactModel>, Percentile>({
    key,
    label: group ? "MOS + ReAct (extension)" : "ReAct",
    ...(group ? { extension: true } : {}),
    needs: { head: group ? "group" : "flat", idVal: true },
    hyperparameters: REACT_GRID,
    fit: (ctx, p) => {
      const v = need(ctx.idVal, key, "the ID validation features");
      return { ...fitReact(v.features, p.percentile), head: ctx.head, chunk: ctx.chunk };
    },
    score: (m, x) => group ? mosReact(m, m.head, x, m.chunk) : react(m, m.head, x, m.chunk),
    reference: (m, x) =>
      group
        ? mosReactReference(m.threshold, m.head, need(m.head.layout, key, "a group layout"), x)
        : reactReference(m.threshold, m.head, x),
  });
}

/** The published modern detectors, in Table 1 extended's order. */
export const MODERN_DETECTORS: readonly Detector<unknown, Params>[] = [
  defineDetector<PlainModel<NoParams>>({
    key: "mls",
    label: "MaxLogit",
    needs: { head: "flat", logits: true },
    hyperparameters: {},
    fit: plainFit,
    score: (_m, _x, z) => Promise.resolve(maxLogit(z)),
  }),
  defineDetector<ReturnType<typeof fitTemperature>>({
    key: "temperature",
    label: "Temperature scaling",
    needs: { head: "flat", idVal: true, labels: true, logits: true },
    hyperparameters: {},
    fit: (ctx) => {
      const v = need(ctx.idVal, "temperature", "the ID validation split (logits + labels)");
      return fitTemperature(v.logits, v.labels);
    },
    score: (m, _x, z) => Promise.resolve(temperatureScore(m, z)),
  }),
  defineDetector<PlainModel<{ gamma: number; m: number }>, { gamma: number; m: number }>({
    key: "gen",
    label: "GEN",
    needs: { head: "flat", logits: true },
    hyperparameters: {
      gamma: { default: 0.1, grid: [0.01, 0.1, 0.5, 1, 2, 5, 10] },
      m: { default: 100, grid: [10, 50, 100, 200, 500, 1000] },
    },
    fit: plainFit,
    score: (m, _x, z) => Promise.resolve(gen(z, m.params)),
  }),
  reactEntry("react"),
  ashEntry("p"),
  ashEntry("b"),
  ashEntry("s"),
  defineDetector<PlainModel<Percentile>, Percentile>({
    key: "scale",
    label: "SCALE",
    needs: { head: "flat", logits: true },
    hyperparameters: { percentile: { default: 85, grid: PERCENTILES_65_95 } },
    fit: plainFit,
    score: (m, x, z) => Promise.resolve(scale(x, z, m.head.bias, m.params.percentile)),
  }),
  defineDetector<WithHead<DiceModel>, { p: number }>({
    key: "dice",
    label: "DICE",
    needs: { head: "flat", train: true },
    hyperparameters: { p: { default: 90, grid: [90] } },
    fit: async (ctx, p) => {
      const t = need(ctx.train, "dice", "ID training features");
      return {
        ...(await fitDice(t.features, ctx.head, p.p, ctx.chunk)),
        head: ctx.head,
        chunk: ctx.chunk,
      };
    },
    score: (m, x) => dice(m, m.head, x, m.chunk),
    reference: (m, x) => diceReference(m.maskedWeight, m.head.bias, x),
  }),
  defineDetector<ReturnType<typeof fitKnn> & { chunk?: KnnSearchOptions }, K>({
    key: "knn",
    label: "KNN",
    needs: { head: "any", train: true },
    hyperparameters: { k: { default: 50, grid: [50, 100, 200, 500, 1000] } },
    fit: (ctx, p) => {
      const t = need(ctx.train, "knn", "ID training features");
      return { ...fitKnn(t.features, p.k), chunk: ctx.chunk };
    },
    score: (m, x) => knn(m, x, m.chunk),
    reference: (m, x) => knnReference(m.train, m.k, x),
  }),
  defineDetector<Awaited<ReturnType<typeof fitVim>> & { chunk?: KnnSearchOptions }, Dim>({
    key: "vim",
    label: "ViM",
    needs: { head: "flat", train: true, logits: true },
    hyperparameters: { dim: { default: 256, grid: [256, 1000] } },
    fit: async (ctx, p) => {
      const t = need(ctx.train, "vim", "ID training features");
      return { ...(await fitVim(t.features, ctx.head, p.dim, ctx.chunk)), chunk: ctx.chunk };
    },
    score: (m, x, z) => vim(m, x, z, m.chunk),
    reference: (m, x, z) => vimReference(m, x, z),
  }),
  defineDetector<Awaited<ReturnType<typeof fitResidual>> & { chunk?: KnnSearchOptions }, Dim>({
    key: "residual",
    label: "Residual",
    // OpenOOD's residual_postprocessor.py fits on `id_loader_dict['val']`, the ID-val split,
    // which only the held-out protocol has; the paper protocol's ID-val is a sample of the
    // training set, so there the fit keeps the whole training set, as ViM's does.
    needs: { head: "flat", train: true, idVal: true, fitData: RESIDUAL_FIT_DATA },
    note: "Residual: principal subspace fitted on ID-val under the held-out protocol (as " +
      "OpenOOD's residual_postprocessor.py), on the training set under the paper protocol " +
      "(which has no ID-val split of the evaluated set).",
    hyperparameters: { dim: { default: 512, grid: [512] } },
    fit: async (ctx, p) => {
      const rows = RESIDUAL_FIT_DATA[ctx.protocol ?? "paper"] === "idVal"
        ? matrixSource(need(ctx.idVal, "residual", "the ID validation features").features)
        : need(ctx.train, "residual", "ID training features").features;
      return { ...(await fitResidual(rows, ctx.head, p.dim, ctx.chunk)), chunk: ctx.chunk };
    },
    score: (m, x) => residual(m, x, m.chunk),
    reference: (m, x) => residualReference(m, x),
  }),
  defineDetector<Awaited<ReturnType<typeof fitRmds>> & { chunk?: KnnSearchOptions }>({
    key: "rmds",
    label: "RMDS",
    needs: { head: "any", train: true, labels: true },
    hyperparameters: {},
    fit: async (ctx) => {
      const t = need(ctx.train, "rmds", "labelled ID training features");
      const c = ctx.head.layout?.numClasses ?? ctx.head.weight.rows;
      return { ...(await fitRmds(t.features, t.labels, c, ctx.chunk)), chunk: ctx.chunk };
    },
    score: (m, x) => rmds(m, x, m.chunk),
    reference: (m, x) => rmdsReference(m, x),
  }),
  defineDetector<Awaited<ReturnType<typeof fitShe>>, { metric: SheMetric }>({
    key: "she",
    label: "SHE",
    needs: { head: "flat", train: true, labels: true, logits: true },
    hyperparameters: { metric: { default: "inner_product", grid: ["inner_product"] } },
    fit: (ctx, p) => {
      const t = need(ctx.train, "she", "labelled ID training features");
      return fitShe(t.features, t.labels, ctx.head, p.metric, ctx.chunk);
    },
    score: (m, x, z) => Promise.resolve(she(m, x, z)),
  }),
  defineDetector<Awaited<ReturnType<typeof fitFdbd>>, { distanceAsNormalizer: boolean }>({
    key: "fdbd",
    label: "fDBD",
    needs: { head: "flat", train: true, logits: true },
    hyperparameters: { distanceAsNormalizer: { default: true, grid: [true, false] } },
    fit: (ctx, p) => {
      const t = need(ctx.train, "fdbd", "ID training features");
      return fitFdbd(t.features, ctx.head, p.distanceAsNormalizer, ctx.chunk);
    },
    score: (m, x, z) => Promise.resolve(fdbd(m, x, z)),
  }),
  defineDetector<
    Awaited<ReturnType<typeof fitNnGuide>> & { chunk?: KnnSearchOptions },
    { k: number; alpha: number }
  >({
    key: "nnguide",
    label: "NNGuide",
    needs: { head: "flat", train: true, logits: true },
    hyperparameters: { k: { default: 100, grid: [100] }, alpha: { default: 0.01, grid: [0.01] } },
    fit: async (ctx, p) => {
      const t = need(ctx.train, "nnguide", "ID training features");
      const model = await fitNnGuide(t.features, ctx.head, {
        ...ctx.chunk,
        k: p.k,
        alpha: p.alpha,
        seed: ctx.seed ?? 0,
      });
      return { ...model, chunk: ctx.chunk };
    },
    score: (m, x, z) => nnGuide(m, x, z, m.chunk),
    reference: (m, x, z) => nnGuideReference(m, x, z),
  }),
  defineDetector<PlainModel<{ temperature: number }>, { temperature: number }>({
    key: "gradnorm",
    label: "GradNorm",
    needs: { head: "flat", logits: true },
    hyperparameters: { temperature: { default: 1, grid: [1] } },
    fit: plainFit,
    score: (m, x, z) => Promise.resolve(gradNorm(x, z, m.params)),
  }),
];

/** The toolkit's own group-aware combinations (labelled as extensions in every table). */
export const EXTENSION_DETECTORS: readonly Detector<unknown, Params>[] = [
  defineDetector<PlainModel<{ temperature: number }>, { temperature: number }>({
    key: "mos-temperature",
    label: "MOS + temperature (extension)",
    extension: true,
    needs: { head: "group", logits: true },
    // No published grid for this extension: ODIN-like temperatures.
    hyperparameters: { temperature: { default: 1, grid: [0.5, 1, 2, 5, 10, 100, 1000] } },
    fit: plainFit,
    score: (m, _x, z: Matrix) => {
      const layout = need(m.head.layout, "mos-temperature", "the group head's layout");
      return Promise.resolve(mosTemperature(layout, z, m.params.temperature));
    },
  }),
  reactEntry("mos-react"),
];
