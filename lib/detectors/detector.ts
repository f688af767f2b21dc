/**
 * The one detector model every OOD method of the toolkit follows: the paper's six (MSP, ODIN,
 * Mahalanobis, Energy, KL matching, MOS), multi-layer Mahalanobis and the modern post-hoc
 * detectors. A task fits and scores any of them the same way; `scores/<key>/`, `metrics.csv`,
 * tables and the held-out grid search read keys, labels, notes and grids from the entries alone
 * (./registry.ts lists them).
 *
 * A {@linkcode Detector} declares
 * - `key` (lower case; the `scores/<key>/` and `metrics.csv` method name) and `label` (tables);
 * - `paper: true` for the paper's six methods (Table 1's rows), `extension: true` for this
 *   toolkit's own group-aware combinations (label them as such in any table);
 * - `needs` ({@linkcode DetectorNeeds}): the head kind it reads and the data its fit reads;
 *   `needsWith(params)` refines them where a parameter changes the data (KL's variant);
 * - `note` / `noteFor(protocol, params)`: a line for a table's notes when the method runs
 *   differently from its reference implementation; {@linkcode detectorNote} picks the right one;
 * - `hyperparameters`: typed `{ default, grid }` per parameter (OpenOOD's configs unless the
 *   entry says otherwise); `fit` and `score` read them typed, never as casts;
 * - `fit(ctx)` -> model (always present: a detector with nothing to learn returns its resolved
 *   parameters), `score(model, features, logits, layers?)` -> N scores, HIGHER = MORE
 *   IN-DISTRIBUTION, through the onnxruntime kernels where the detector has one;
 * - `reference(model, ...)`: the plain float64 TypeScript path the fast one is tested against
 *   (absent where `score` itself is plain TypeScript).
 *
 * Entries are built with {@linkcode defineDetector}, which resolves typed parameters, runs the one
 * head-kind check ({@linkcode checkHeadKind}) and guards logits against float32 overflow.
 *
 * @module
 */
import { DataError, UsageError } from "../errors.ts";
import type { Matrix } from "../matrix.ts";
import type { RowSource } from "../row_source.ts";
import { checkHeadKind, checkLogitsFinite, type DetectorHead, type HeadKind } from "./common.ts";

export { checkHeadKind, type HeadKind };
import type { KnnSearchOptions } from "./knn.ts";

/** A hyperparameter value. */
export type HyperValue = number | boolean | string;

/** Resolved hyperparameters by name. */
export type Params = Record<string, HyperValue>;

/** A hyperparameter's default and sweep grid. */
export interface HyperSpec<V extends HyperValue = HyperValue> {
  /** Value used when the caller does not override it (the method's published default). */
  default: V;
  /** Values swept when tuning the parameter (held-out protocol, ablations). */
  grid: readonly V[];
}

/** The typed `{ default, grid }` of every parameter of `P`. */
export type ParamSpecs<P extends Params> = { [K in keyof P]: HyperSpec<P[K]> };

/** The evaluation protocols: the paper's (defaults) and OpenOOD v1.5's held-out tuning. */
export type Protocol = "paper" | "heldout";

/** Where a fit reads its ID data: the training set or the ID validation split. */
export type FitData = "train" | "idVal";

/** Extra layer outputs of a set (`root`, `block1`, ...), in memory or streamed. */
export type LayerSet = Record<string, Matrix | RowSource>;

/** What a detector's fit reads (each flag: the fit fails with a DataError without it). */
export interface DetectorNeeds {
  /** The kind of head the detector accepts: "flat", "group" or "any". */
  head: HeadKind;
  /** Streams ID training features from `ctx.train`. */
  train?: boolean;
  /** Reads ID class labels (of `ctx.train`, `ctx.idVal` or, for `evaluatedId`, `ctx.id`). */
  labels?: boolean;
  /** Reads the evaluated ID set itself (`ctx.id`: KL's paper variant, as the released code). */
  evaluatedId?: boolean;
  /** Reads the ID validation split `ctx.idVal`. */
  idVal?: boolean;
  /** Reads the OOD validation set `ctx.oodVal`. */
  oodVal?: boolean;
  /** Reads the pooled layer outputs of every set (`layers` of the fit sets and of `score`). */
  layers?: boolean;
  /** The score reads its logits argument (and a fit with `idVal`, `ctx.idVal.logits`). */
  logits?: boolean;
  /** Where the fit reads its ID data per protocol, when that depends on the protocol. */
  fitData?: Record<Protocol, FitData>;
}

/** A labelled set handed to a fit in memory. */
export interface FitSet {
  /** Penultimate features, N x D. */
  features: Matrix;
  /** Class labels in [0, C), length N. */
  labels: Int32Array;
  /** The head's logits of the features, N x O. */
  logits: Matrix;
  /** Pooled outputs of earlier layers, by name, for layer-reading detectors. */
  layers?: LayerSet;
}

/** What `fit` may read. */
export interface DetectorContext<P extends Params = Params> {
  /** The trained head the scores are computed from. */
  head: DetectorHead;
  /**
   * The protocol the fit runs under (default "paper"): under "heldout", `idVal` is a split of
   * the ID evaluation set (OpenOOD's `id['val']`); under "paper", a sample of the training set.
   */
  protocol?: Protocol;
  /** Overrides of the defaults, by hyperparameter name. */
  hyperparameters?: Partial<P>;
  /** ID training features (streamed), their labels in [0, C) and the file they come from. */
  train?: { features: RowSource; labels: Int32Array; layers?: LayerSet; file?: string };
  /** ID validation split: features, labels and the head's logits. */
  idVal?: FitSet;
  /** The evaluated ID set (its ground-truth labels; only KL's paper variant reads it). */
  id?: FitSet & { file?: string };
  /** OOD validation set (multi-layer Mahalanobis's regression). */
  oodVal?: { features: Matrix; logits: Matrix; layers?: LayerSet };
  /** Chunking / threads for the onnxruntime kernels (fit and score). */
  chunk?: KnnSearchOptions;
  /**
   * MiB bound of the blocks that grow with the number of classes: KL's templates
   * (lib/ort/kl_kernel.ts) and Mahalanobis's class means (lib/ort/mahalanobis_kernel.ts).
   * Default: each kernel's own default.
   */
  blockMb?: number;
  /** Seed for detectors that sample (NNGuide's bank); default 0. */
  seed?: number;
}

/** What every entry declares besides its fit (see the module doc). */
export interface DetectorInfo<M, P extends Params> {
  /** Registry key used on the command line and in results (e.g. "msp", "react"). */
  readonly key: string;
  /** Display name in tables and figures. */
  readonly label: string;
  /** True for the paper's six methods (Table 1 of MOS). */
  readonly paper?: boolean;
  /** True for this toolkit's group-aware extensions (labelled "(extension)", not in any paper). */
  readonly extension?: boolean;
  /** What the fit reads; a missing input is a DataError. */
  readonly needs: DetectorNeeds;
  /** A line for a table's notes that holds under every protocol and parameter. */
  readonly note?: string;
  /** Default and sweep grid of every hyperparameter. */
  readonly hyperparameters: ParamSpecs<P>;
  /** Needs that depend on a parameter value (merged over `needs`). */
  needsWith?(params: P): Partial<DetectorNeeds>;
  /** A note that depends on the protocol or the parameters (wins over `note`). */
  noteFor?(protocol: Protocol, params: P): string | undefined;
  /** The fast path: N scores, higher = more in-distribution. */
  score(model: M, features: Matrix, logits: Matrix, layers?: LayerSet): Promise<Float32Array>;
  /**
   * The streamed path of a score that reads only the head's logits: the features go through the
   * head inside the kernel (lib/ort/head_scores.ts), so the N x O logits never exist. `scoreSets`
   * takes it when the evaluated sets' logits would exceed its memory bound; the numbers are
   * those of `score` on the head's logits.
   */
  scoreFromFeatures?(model: M, features: RowSource): Promise<Float32Array>;
  /** The plain float64 TypeScript path the fast one is tested against. */
  reference?(
    model: M,
    features: Matrix,
    logits: Matrix,
    layers?: LayerSet,
  ): Float32Array | Promise<Float32Array>;
}

/** A detector entry. `M` is its model, `P` its parameters. */
export interface Detector<M = unknown, P extends Params = Params> extends DetectorInfo<M, P> {
  /** Resolves `ctx.hyperparameters` over the defaults, checks the head, fits. */
  fit(ctx: DetectorContext<P>): Promise<M>;
}

/** Any entry of the registry. */
export type AnyDetector = Detector<unknown, Params>;

/**
 * Defaults merged with `overrides`; an unknown name or a value of the wrong type is a
 * UsageError.
 */
export function resolveHyperparameters<P extends Params>(
  det: { key: string; hyperparameters: ParamSpecs<P> },
  overrides: Partial<P> | Params = {},
): P {
  const specs = det.hyperparameters as Record<string, HyperSpec>;
  const out: Params = {};
  for (const [name, spec] of Object.entries(specs)) out[name] = spec.default;
  for (const [name, v] of Object.entries(overrides)) {
    if (v === undefined) continue;
    const spec = specs[name];
    if (!spec) {
      const known = Object.keys(specs);
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
  return out as P;
}

/** `det.needs` refined by `needsWith(params)` (resolved from `overrides`). */
export function needsOf<P extends Params>(
  det: Detector<unknown, P>,
  overrides: Partial<P> | Params = {},
): DetectorNeeds {
  if (!det.needsWith) return det.needs;
  return { ...det.needs, ...det.needsWith(resolveHyperparameters(det, overrides)) };
}

/** The table note of `det` under `protocol` with `overrides` of its defaults. */
export function detectorNote<P extends Params>(
  det: Detector<unknown, P>,
  protocol: Protocol = "paper",
  overrides: Partial<P> | Params = {},
): string | undefined {
  if (det.noteFor) return det.noteFor(protocol, resolveHyperparameters(det, overrides));
  return det.note;
}

/**
 * Where `det`'s fit reads its ID data under `protocol`: `needs.fitData` when the detector
 * declares it, else the training set when it needs one, else the ID validation split when it
 * needs that, else null (nothing is fitted on ID data).
 */
export function fitDataOf(det: { needs: DetectorNeeds }, protocol: Protocol): FitData | null {
  if (det.needs.fitData) return det.needs.fitData[protocol];
  if (det.needs.train) return "train";
  return det.needs.idVal ? "idVal" : null;
}

/** The value, or a DataError saying that detector `key` needs `what`. */
export function need<T>(value: T | undefined, key: string, what: string): T {
  if (value === undefined) {
    throw new DataError(`Detector "${key}" needs ${what}; pass it to the fit.`);
  }
  return value;
}

/** An entry as written in the registry: `fit` receives the typed, resolved parameters. */
export interface DetectorSpec<M, P extends Params> extends DetectorInfo<M, P> {
  /** Fits the model from `ctx` with the resolved parameters (the head is already checked). */
  fit(ctx: DetectorContext<P>, params: P): M | Promise<M>;
}

/**
 * A registry entry from its spec: `fit` resolves the parameters (UsageError on unknown ones),
 * checks the head kind and the ID-val logits, `score` checks its logits when it reads them.
 * Both are async, so a missing input surfaces as a rejected promise, never a sync throw.
 */
export function defineDetector<M, P extends Params = Record<never, never>>(
  spec: DetectorSpec<M, P>,
): Detector<M, P> {
  const readsLogits = spec.needs.logits === true;
  return {
    ...spec,
    fit: async (ctx: DetectorContext<P>) => {
      const params = resolveHyperparameters(spec, ctx.hyperparameters ?? {});
      checkHeadKind(spec.key, spec.needs.head, ctx.head.kind);
      if (readsLogits && spec.needs.idVal && ctx.idVal) {
        checkLogitsFinite(`${spec.label} fit (ID validation rows)`, ctx.idVal.logits);
      }
      return await spec.fit(ctx, params);
    },
    score: async (model: M, features: Matrix, logits: Matrix, layers?: LayerSet) => {
      if (readsLogits) checkLogitsFinite(spec.label, logits);
      return await spec.score(model, features, logits, layers);
    },
  };
}

/** The resolved parameters of a detector without a fit, with the head (the model of those). */
export interface PlainModel<P extends Params> {
  head: DetectorHead;
  params: P;
  chunk?: KnnSearchOptions;
}

/** The fit of a detector with nothing to learn: the head, its parameters and the chunking. */
export function plainFit<P extends Params>(ctx: DetectorContext<P>, params: P): PlainModel<P> {
  return { head: ctx.head, params, chunk: ctx.chunk };
}
