/**
 * The table of post-hoc detectors, so a task can fit and run every one of them the same way
 * (Table 1 extended, held-out hyperparameter tuning).
 *
 * Interface. Each {@linkcode Detector} has
 * - `key` (lower case; the `scores/<key>/` and `metrics.csv` method name) and `label` (for tables);
 * - `extension: true` for the group-aware variants that are this toolkit's own combinations, not
 *   a published method (label them as such in any table);
 * - `needs`: `head` "flat" | "group" | "any" (the head kind it reads), `train` (fit streams ID
 *   training features + labels from `ctx.train`), `idVal` (fit reads the ID validation split
 *   `ctx.idVal`: features, labels, logits), `fitData` (where the fit reads its ID data under each
 *   protocol, for a detector that reads `train` under one and `idVal` under the other, as
 *   Residual does; see {@linkcode fitDataOf}), `logits` (the score reads the logits it is handed,
 *   and a fit with `idVal` reads `ctx.idVal.logits`): such logits must be finite, a NaN or
 *   infinite logit (a float32 overflow of features x weights) is a DataError before the detector
 *   runs, since a max, an argmax or a softmax could turn it into a finite but wrong score;
 * - `note`: a line for a table's notes when the detector runs differently from OpenOOD's code
 *   or from protocol to protocol;
 * - `hyperparameters`: name -> `{ default, grid }`; defaults and grids are OpenOOD's
 *   (`configs/postprocessors/<name>.yml`) unless the entry says otherwise;
 * - `fit(ctx)`: returns the model. Always present (detectors with nothing to learn return their
 *   resolved hyperparameters) so callers need no branch. `ctx.hyperparameters` overrides defaults;
 *   an unknown name is a UsageError.
 * - `score(model, features, logits)`: N x D features and their N x O logits from `ctx.head`,
 *   returns N scores, HIGHER = MORE IN-DISTRIBUTION.
 *
 * A sweep refits per grid point; detectors whose fit is expensive and independent of the swept
 * value expose cheaper sweep helpers in their own modules (`knnScoresForKs`, `vimFromSpace`,
 * `residualFromSpace`).
 *
 * @example
 * ```ts
 * const det = detectorByKey("react");
 * const model = await det.fit({ head, idVal, hyperparameters: { percentile: 95 } });
 * const scores = await det.score(model, features, logits);
 * ```
 *
 * @module
 */
import { DataError, UsageError } from "../errors.ts";
import type { Matrix } from "../matrix.ts";
import { matrixSource, type RowSource } from "../ort/linear.ts";
import { ash, type AshVariant } from "./ash.ts";
import { checkLogitsFinite, type DetectorHead } from "./common.ts";
import { dice, fitDice } from "./dice.ts";
import { fdbd, fitFdbd } from "./fdbd.ts";
import { gen } from "./gen.ts";
import { gradNorm } from "./gradnorm.ts";
import { mosReact, mosTemperature } from "./group_variants.ts";
import { fitKnn, knn, type KnnSearchOptions } from "./knn.ts";
import { maxLogit } from "./mls.ts";
import { fitNnGuide, nnGuide } from "./nnguide.ts";
import { fitReact, react } from "./react.ts";
import { fitResidual, residual } from "./residual.ts";
import { fitRmds, rmds } from "./rmds.ts";
import { scale } from "./scale.ts";
import { fitShe, she, type SheMetric } from "./she.ts";
import { fitTemperature, temperatureScore } from "./temperature.ts";
import { fitVim, vim } from "./vim.ts";

/** A hyperparameter value. */
export type HyperValue = number | boolean | string;

/** A hyperparameter's default and sweep grid. */
export interface HyperSpec {
  default: HyperValue;
  grid: readonly HyperValue[];
}

/** The evaluation protocols: the paper's (defaults) and OpenOOD v1.5's held-out tuning. */
export type Protocol = "paper" | "heldout";

/** Where a fit reads its ID data: the training set or the ID validation split. */
export type FitData = "train" | "idVal";

/** What `fit` may read. */
export interface DetectorContext {
  head: DetectorHead;
  /**
   * The protocol the fit runs under (default "paper"): under "heldout", `idVal` is a split of
   * the ID evaluation set (OpenOOD's `id['val']`); under "paper", a sample of the training set.
   */
  protocol?: Protocol;
  /** Overrides of the defaults, by hyperparameter name. */
  hyperparameters?: Record<string, HyperValue>;
  /** ID training features (streamed) and their labels in [0, C). */
  train?: { features: RowSource; labels: Int32Array };
  /** ID validation split: features, labels and the head's logits. */
  idVal?: { features: Matrix; labels: Int32Array; logits: Matrix };
  /** Chunking / threads for the onnxruntime kernels (fit and score). */
  chunk?: KnnSearchOptions;
  /** Seed for detectors that sample (NNGuide's bank); default 0. */
  seed?: number;
}

/** A detector entry. */
export interface Detector<M = unknown> {
  key: string;
  label: string;
  extension?: boolean;
  needs: {
    head: "flat" | "group" | "any";
    train?: boolean;
    idVal?: boolean;
    /** The score reads its logits argument (and a fit with `idVal`, `ctx.idVal.logits`). */
    logits?: boolean;
    /** Where the fit reads its ID data per protocol, when that depends on the protocol. */
    fitData?: Record<Protocol, FitData>;
  };
  /** A line for a table's notes (see the module doc). */
  note?: string;
  hyperparameters: Record<string, HyperSpec>;
  fit(ctx: DetectorContext): Promise<M>;
  score(model: M, features: Matrix, logits: Matrix): Promise<Float32Array>;
}

/**
 * Defaults merged with `overrides`; an unknown name or a value of the wrong type is a
 * UsageError.
 */
export function resolveHyperparameters(
  det: Pick<Detector, "key" | "hyperparameters">,
  overrides: Record<string, HyperValue> = {},
): Record<string, HyperValue> {
  const out: Record<string, HyperValue> = {};
  for (const [name, spec] of Object.entries(det.hyperparameters)) out[name] = spec.default;
  for (const [name, v] of Object.entries(overrides)) {
    const spec = det.hyperparameters[name];
    if (!spec) {
      const known = Object.keys(det.hyperparameters);
      throw new UsageError(
        `Detector "${det.key}" has no hyperparameter "${name}"; ` +
          (known.length ? `its hyperparameters are ${known.join(", ")}.` : `it takes none.`),
      );
    }
    if (typeof v !== typeof spec.default) {
      throw new UsageError(
        `Hyperparameter "${name}" of "${det.key}" must be a ${typeof spec.default}, got ` +
          `${JSON.stringify(v)}.`,
      );
    }
    out[name] = v;
  }
  return out;
}

/**
 * Where `det`'s fit reads its ID data under `protocol`: `needs.fitData` when the detector
 * declares it, else the training set when it needs one, else the ID validation split when it
 * needs that, else null (nothing is fitted on ID data).
 */
export function fitDataOf(det: Pick<Detector, "needs">, protocol: Protocol): FitData | null {
  if (det.needs.fitData) return det.needs.fitData[protocol];
  if (det.needs.train) return "train";
  return det.needs.idVal ? "idVal" : null;
}

function need<T>(value: T | undefined, key: string, what: string): T {
  if (value === undefined) {
    throw new DataError(
      `Detector "${key}" needs ${what}; pass it (see lib/detectors/registry.ts).`,
    );
  }
  return value;
}

function checkKind(det: Detector, ctx: DetectorContext): void {
  if (det.needs.head !== "any" && ctx.head.kind !== det.needs.head) {
    throw new DataError(
      `Detector "${det.key}" needs a ${det.needs.head} head but got a ${ctx.head.kind} head; ` +
        `score it with a head trained with --groups ${
          det.needs.head === "flat" ? "flat" : "taxonomy"
        }.`,
    );
  }
}

type Params = Record<string, HyperValue>;

/** The model of detectors without a fit: the head and the resolved hyperparameters. */
interface Plain {
  head: DetectorHead;
  params: Params;
}

function entry<M>(d: Detector<M>): Detector {
  const fit = d.fit;
  const score = d.score;
  const readsLogits = d.needs.logits === true;
  return {
    ...d,
    // async: a missing input or a wrong head surfaces as a rejected promise, never a sync throw.
    fit: async (ctx: DetectorContext) => {
      checkKind(d as unknown as Detector, ctx);
      if (readsLogits && d.needs.idVal && ctx.idVal) {
        checkLogitsFinite(`${d.label} fit (ID validation rows)`, ctx.idVal.logits);
      }
      return await fit(ctx);
    },
    score: async (model: M, features: Matrix, logits: Matrix) => {
      if (readsLogits) checkLogitsFinite(d.label, logits);
      return await score(model, features, logits);
    },
  } as unknown as Detector;
}

function plainFit(key: string, hyper: Record<string, HyperSpec>) {
  return (ctx: DetectorContext): Promise<Plain> =>
    Promise.resolve({
      head: ctx.head,
      params: resolveHyperparameters({ key, hyperparameters: hyper }, ctx.hyperparameters),
    });
}

const PERCENTILES_65_95 = [65, 70, 75, 80, 85, 90, 95];

function ashEntry(v: AshVariant): Detector {
  const key = `ash-${v}`;
  const hyper = { percentile: { default: 90, grid: PERCENTILES_65_95 } };
  return entry<Plain & { chunk?: KnnSearchOptions }>({
    key,
    label: `ASH-${v.toUpperCase()}`,
    needs: { head: "flat" },
    hyperparameters: hyper,
    fit: async (ctx) => ({ ...(await plainFit(key, hyper)(ctx)), chunk: ctx.chunk }),
    score: (m, x) => ash(v, m.head, x, { ...m.chunk, percentile: m.params.percentile as number }),
  });
}

function fitParams(key: string, ctx: DetectorContext, hyper: Record<string, HyperSpec>): Params {
  return resolveHyperparameters({ key, hyperparameters: hyper }, ctx.hyperparameters);
}

const H = {
  gen: {
    gamma: { default: 0.1, grid: [0.01, 0.1, 0.5, 1, 2, 5, 10] },
    m: { default: 100, grid: [10, 50, 100, 200, 500, 1000] },
  },
  react: { percentile: { default: 90, grid: [85, 90, 95, 99] } },
  scale: { percentile: { default: 85, grid: PERCENTILES_65_95 } },
  dice: { p: { default: 90, grid: [90] } },
  knn: { k: { default: 50, grid: [50, 100, 200, 500, 1000] } },
  vim: { dim: { default: 256, grid: [256, 1000] } },
  residual: { dim: { default: 512, grid: [512] } },
  she: { metric: { default: "inner_product", grid: ["inner_product"] } },
  fdbd: { distanceAsNormalizer: { default: true, grid: [true, false] } },
  nnguide: { k: { default: 100, grid: [100] }, alpha: { default: 0.01, grid: [0.01] } },
  gradnorm: { temperature: { default: 1, grid: [1] } },
  // No published grid for these extensions: ODIN-like temperatures and ReAct's grid.
  mosTemperature: { temperature: { default: 1, grid: [0.5, 1, 2, 5, 10, 100, 1000] } },
} satisfies Record<string, Record<string, HyperSpec>>;

/** Residual's fit data per protocol (see its entry). */
const RESIDUAL_FIT_DATA: Record<Protocol, FitData> = { paper: "train", heldout: "idVal" };

/** Every detector, published methods first, then the labelled extensions. */
export const DETECTORS: readonly Detector[] = [
  entry<Plain>({
    key: "mls",
    label: "MaxLogit",
    needs: { head: "flat", logits: true },
    hyperparameters: {},
    fit: plainFit("mls", {}),
    score: (_m, _x, z) => Promise.resolve(maxLogit(z)),
  }),
  entry<{ temperature: number }>({
    key: "temperature",
    label: "Temperature scaling",
    needs: { head: "flat", idVal: true, logits: true },
    hyperparameters: {},
    fit: (ctx) => {
      fitParams("temperature", ctx, {});
      const v = need(ctx.idVal, "temperature", "the ID validation split (logits + labels)");
      return Promise.resolve(fitTemperature(v.logits, v.labels));
    },
    score: (m, _x, z) => Promise.resolve(temperatureScore(m, z)),
  }),
  entry<Plain>({
    key: "gen",
    label: "GEN",
    needs: { head: "flat", logits: true },
    hyperparameters: H.gen,
    fit: plainFit("gen", H.gen),
    score: (m, _x, z) =>
      Promise.resolve(gen(z, { gamma: m.params.gamma as number, m: m.params.m as number })),
  }),
  entry({
    key: "react",
    label: "ReAct",
    needs: { head: "flat", idVal: true },
    hyperparameters: H.react,
    fit: (ctx) => {
      const p = fitParams("react", ctx, H.react);
      const v = need(ctx.idVal, "react", "the ID validation features");
      return Promise.resolve({
        ...fitReact(v.features, p.percentile as number),
        head: ctx.head,
        chunk: ctx.chunk,
      });
    },
    score: (m, x) => react(m, m.head, x, m.chunk),
  }),
  ashEntry("p"),
  ashEntry("b"),
  ashEntry("s"),
  entry<Plain>({
    key: "scale",
    label: "SCALE",
    needs: { head: "flat", logits: true },
    hyperparameters: H.scale,
    fit: plainFit("scale", H.scale),
    score: (m, x, z) => Promise.resolve(scale(x, z, m.head.bias, m.params.percentile as number)),
  }),
  entry({
    key: "dice",
    label: "DICE",
    needs: { head: "flat", train: true },
    hyperparameters: H.dice,
    fit: async (ctx) => {
      const p = fitParams("dice", ctx, H.dice);
      const t = need(ctx.train, "dice", "ID training features");
      return {
        ...(await fitDice(t.features, ctx.head, p.p as number, ctx.chunk)),
        head: ctx.head,
        chunk: ctx.chunk,
      };
    },
    score: (m, x) => dice(m, m.head, x, m.chunk),
  }),
  entry({
    key: "knn",
    label: "KNN",
    needs: { head: "any", train: true },
    hyperparameters: H.knn,
    fit: (ctx) => {
      const p = fitParams("knn", ctx, H.knn);
      const t = need(ctx.train, "knn", "ID training features");
      return Promise.resolve({ ...fitKnn(t.features, p.k as number), chunk: ctx.chunk });
    },
    score: (m, x) => knn(m, x, m.chunk),
  }),
  entry({
    key: "vim",
    label: "ViM",
    needs: { head: "flat", train: true, logits: true },
    hyperparameters: H.vim,
    fit: async (ctx) => {
      const p = fitParams("vim", ctx, H.vim);
      const t = need(ctx.train, "vim", "ID training features");
      return {
        ...(await fitVim(t.features, ctx.head, p.dim as number, ctx.chunk)),
        chunk: ctx.chunk,
      };
    },
    score: (m, x, z) => vim(m, x, z, m.chunk),
  }),
  entry({
    key: "residual",
    label: "Residual",
    // OpenOOD's residual_postprocessor.py fits on `id_loader_dict['val']`, the ID-val split,
    // which only the held-out protocol has; the paper protocol's ID-val is a sample of the
    // training set, so there the fit keeps the whole training set, as ViM's does.
    needs: { head: "flat", train: true, idVal: true, fitData: RESIDUAL_FIT_DATA },
    note: "Residual: principal subspace fitted on ID-val under the held-out protocol (as " +
      "OpenOOD's residual_postprocessor.py), on the training set under the paper protocol " +
      "(which has no ID-val split of the evaluated set).",
    hyperparameters: H.residual,
    fit: async (ctx) => {
      const p = fitParams("residual", ctx, H.residual);
      const rows = RESIDUAL_FIT_DATA[ctx.protocol ?? "paper"] === "idVal"
        ? matrixSource(need(ctx.idVal, "residual", "the ID validation features").features)
        : need(ctx.train, "residual", "ID training features").features;
      return {
        ...(await fitResidual(rows, ctx.head, p.dim as number, ctx.chunk)),
        chunk: ctx.chunk,
      };
    },
    score: (m, x) => residual(m, x, m.chunk),
  }),
  entry({
    key: "rmds",
    label: "RMDS",
    needs: { head: "any", train: true },
    hyperparameters: {},
    fit: async (ctx) => {
      fitParams("rmds", ctx, {});
      const t = need(ctx.train, "rmds", "labelled ID training features");
      const c = ctx.head.layout?.numClasses ?? ctx.head.weight.rows;
      return { ...(await fitRmds(t.features, t.labels, c, ctx.chunk)), chunk: ctx.chunk };
    },
    score: (m, x) => rmds(m, x, m.chunk),
  }),
  entry({
    key: "she",
    label: "SHE",
    needs: { head: "flat", train: true, logits: true },
    hyperparameters: H.she,
    fit: (ctx) => {
      const p = fitParams("she", ctx, H.she);
      const t = need(ctx.train, "she", "labelled ID training features");
      return fitShe(t.features, t.labels, ctx.head, p.metric as SheMetric, ctx.chunk);
    },
    score: (m, x, z) => Promise.resolve(she(m, x, z)),
  }),
  entry({
    key: "fdbd",
    label: "fDBD",
    needs: { head: "flat", train: true, logits: true },
    hyperparameters: H.fdbd,
    fit: (ctx) => {
      const p = fitParams("fdbd", ctx, H.fdbd);
      const t = need(ctx.train, "fdbd", "ID training features");
      return fitFdbd(t.features, ctx.head, p.distanceAsNormalizer as boolean, ctx.chunk);
    },
    score: (m, x, z) => Promise.resolve(fdbd(m, x, z)),
  }),
  entry({
    key: "nnguide",
    label: "NNGuide",
    needs: { head: "flat", train: true, logits: true },
    hyperparameters: H.nnguide,
    fit: async (ctx) => {
      const p = fitParams("nnguide", ctx, H.nnguide);
      const t = need(ctx.train, "nnguide", "ID training features");
      const model = await fitNnGuide(t.features, ctx.head, {
        ...ctx.chunk,
        k: p.k as number,
        alpha: p.alpha as number,
        seed: ctx.seed ?? 0,
      });
      return { ...model, chunk: ctx.chunk };
    },
    score: (m, x, z) => nnGuide(m, x, z, m.chunk),
  }),
  entry<Plain>({
    key: "gradnorm",
    label: "GradNorm",
    needs: { head: "flat", logits: true },
    hyperparameters: H.gradnorm,
    fit: plainFit("gradnorm", H.gradnorm),
    score: (m, x, z) =>
      Promise.resolve(gradNorm(x, z, { temperature: m.params.temperature as number })),
  }),
  entry<Plain>({
    key: "mos-temperature",
    label: "MOS + temperature (extension)",
    extension: true,
    needs: { head: "group", logits: true },
    hyperparameters: H.mosTemperature,
    fit: plainFit("mos-temperature", H.mosTemperature),
    score: (m, _x, z) => {
      const layout = need(m.head.layout, "mos-temperature", "the group head's layout");
      return Promise.resolve(mosTemperature(layout, z, m.params.temperature as number));
    },
  }),
  entry({
    key: "mos-react",
    label: "MOS + ReAct (extension)",
    extension: true,
    needs: { head: "group", idVal: true },
    hyperparameters: H.react,
    fit: (ctx) => {
      const p = fitParams("mos-react", ctx, H.react);
      const v = need(ctx.idVal, "mos-react", "the ID validation features");
      return Promise.resolve({
        ...fitReact(v.features, p.percentile as number),
        head: ctx.head,
        chunk: ctx.chunk,
      });
    },
    score: (m, x) => mosReact(m, m.head, x, m.chunk),
  }),
];

/** The detector with `key`; an unknown key is a UsageError listing the known ones. */
export function detectorByKey(key: string): Detector {
  const d = DETECTORS.find((e) => e.key === key);
  if (!d) {
    throw new UsageError(
      `Unknown detector "${key}"; choose one of ${DETECTORS.map((e) => e.key).join(", ")}.`,
    );
  }
  return d;
}

/** Fits `det` on `ctx` and scores `features` / `logits` (a convenience for one-off runs). */
export async function runDetector(
  det: Detector,
  ctx: DetectorContext,
  features: Matrix,
  logits: Matrix,
): Promise<Float32Array> {
  return det.score(await det.fit(ctx), features, logits);
}
