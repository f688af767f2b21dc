/**
 * Scoring: one head, one ID feature set and any number of OOD feature sets in; per-method scores,
 * metrics and wall times out. The logits of every set are computed once (onnxruntime,
 * lib/ort/linear.ts); then each requested method is looked up in the registry
 * (lib/detectors/registry.ts), fitted and run on every set through its fast path.
 *
 * Numerics. Every logits matrix and every score vector passes the float32 overflow guard of
 * ./numerics.ts before it reaches a metric: finite features that overflow (values near 3.4e38,
 * or products and squares of large values) stop the run with one error naming the method, the
 * dataset and the file, instead of NaN or silently wrong metrics.
 *
 * Memory. The logits are held only up to `maxLogitsMb` (default
 * {@linkcode DEFAULT_MAX_LOGITS_MB}); past it (a 100,000-row set on BiT-M's 21,843-way head has
 * 8.3 GiB of them) the methods with a streamed path (MSP, ODIN, Energy, MOS: `scoreFromFeatures`)
 * score straight from features, chunk by chunk, with the same numbers, and the logits are computed
 * only if another requested method reads them.
 *
 * Time per method (the paper's "test time" column) includes the head's forward pass over every
 * evaluated set for the methods that read logits, plus the method's own fitting (Mahalanobis
 * statistics, KL templates, ...).
 *
 * @module
 */
import { DataError } from "../errors.ts";
import type { FeatureSet } from "../io/feature_set.ts";
import type { Head } from "../io/head.ts";
import type { Matrix } from "../matrix.ts";
import { type DetectionMetrics, evaluate } from "../metrics/evaluate.ts";
import type { MetricRow } from "../metrics/metric_row.ts";
import { metricsConventionNote } from "../metrics/convention.ts";
import type { FprConvention } from "../metrics/fpr95.ts";
import { linearLogits, matrixSource, type RowSource } from "../ort/linear.ts";
import { detectorHead } from "../detectors/common.ts";
import type { KlVariant } from "../detectors/paper_kl.ts";
import {
  type AnyDetector,
  checkHeadKind,
  detectorByKey,
  type DetectorContext,
  detectorNote,
  type LayerSet,
  needsOf,
  type Params,
  type Protocol,
} from "../detectors/registry.ts";
import { checkFiniteLogits, checkFiniteScores, withSite } from "../numerics.ts";

export type { KlVariant };

/** A named evaluated set (with its pooled layer outputs for multi-layer Mahalanobis). */
export interface NamedSet {
  /** The set's name in results and metrics.csv (e.g. "inaturalist"). */
  name: string;
  /** The feature set (features, labels, optional logits). */
  set: FeatureSet;
  /** Its pooled layer outputs by name, for layer-reading detectors. */
  layers?: LayerSet;
}

/** Training features (Mahalanobis statistics, clean KL templates, ...), streamed. */
export interface TrainSource {
  /** Directory of the training feature set (named in errors and fit provenance). */
  dir: string;
  /** The training features, N x D, read in row blocks. */
  source: RowSource;
  /** Class labels in [0, C), length N. */
  labels: Int32Array;
  /** Pooled layer outputs of the training set, by name. */
  layers?: LayerSet;
  /**
   * The set's name in errors of a fit that reads it (default "training set"); a task may pass
   * its flag, e.g. "--train".
   */
  label?: string;
}

/** Everything {@linkcode scoreSets} needs. */
export interface ScoreInputs {
  /** The trained head whose logits every method scores. */
  head: Head;
  /** The in-distribution evaluation set. */
  id: NamedSet;
  /** The OOD sets, in metrics.csv order. */
  ood: NamedSet[];
  /** Registry keys (lib/detectors/registry.ts). */
  methods: readonly string[];
  /** Training features, for the detectors whose fit reads them (Mahalanobis, KNN, ...). */
  train?: TrainSource;
  /** ID validation split, for the detectors whose fit reads one (ReAct, temperature, ...). */
  idVal?: NamedSet;
  /** OOD validation set (multi-layer Mahalanobis's regression). */
  oodVal?: NamedSet;
  /** Hyperparameter overrides by method key (defaults: the registry's). */
  hyperparameters?: Record<string, Params>;
  /** Shorthand for `hyperparameters.kl.variant`. */
  klVariant?: KlVariant;
  /** Metrics convention of FPR95 and AUPR (lib/metrics/convention.ts; default "paper"). */
  fprConvention?: FprConvention;
  /** Shorthand for `hyperparameters.odin.temperature`. */
  odinTemperature?: number;
  /** Shorthand for `hyperparameters.energy.temperature`. */
  energyTemperature?: number;
  /** Intra-op threads of the onnxruntime kernels (default: every core). */
  threads?: number;
  /** MiB bound of KL's template blocks and Mahalanobis's class-mean blocks (see DetectorContext). */
  blockMb?: number;
  /**
   * Most MiB of logits held at once (default {@linkcode DEFAULT_MAX_LOGITS_MB}); past it the
   * methods with a streamed path score from features (see the module doc).
   */
  maxLogitsMb?: number;
  /** Seed of detectors that sample (NNGuide's bank); default 0. */
  seed?: number;
}

/** Output of {@linkcode scoreSets}. */
export interface ScoreResult {
  /** method -> dataset -> scores (higher = more ID). */
  scores: Map<string, Map<string, Float32Array>>;
  /** One row per (method, OOD set), metrics in percent. */
  metrics: MetricRow[];
  /** method -> seconds. */
  seconds: Record<string, number>;
  /** Notes printed with the results (e.g. ODIN without input perturbation). */
  notes: string[];
  /** The methods scored straight from features (their sets' logits were over the bound). */
  streamed: string[];
}

/**
 * Default {@linkcode ScoreInputs.maxLogitsMb}: the paper's ImageNet-1k evaluation (85,640 rows x
 * 1000 outputs) holds 327 MiB of logits; BiT-M's 21,843-way head passes 2 GiB at about 24,500 rows.
 */
export const DEFAULT_MAX_LOGITS_MB = 2048;

/** MiB of float32 logits of `rows` rows at `outputs` head outputs. */
export function logitsMb(rows: number, outputs: number): number {
  return (rows * outputs * 4) / 2 ** 20;
}

/**
 * Which of `methods` score straight from features: those with a streamed path, when the logits
 * of every evaluated set (`rows` in all) would exceed `maxLogitsMb`.
 */
export function methodsFromFeatures(
  methods: readonly string[],
  rows: number,
  outputs: number,
  maxLogitsMb: number = DEFAULT_MAX_LOGITS_MB,
): string[] {
  if (!(maxLogitsMb > 0)) {
    throw new RangeError(`maxLogitsMb must be a positive number of MiB, got ${maxLogitsMb}`);
  }
  if (logitsMb(rows, outputs) <= maxLogitsMb) return [];
  return methods.filter((m) => detectorByKey(m).scoreFromFeatures !== undefined);
}

/** Progress callback: a short description of the step that starts. */
export type StepListener = (message: string) => void;

function elapsed(t0: number): number {
  return (performance.now() - t0) / 1000;
}

/** Checks that no evaluated set is empty and that every set's D matches the head's. */
export function checkEvaluatedSets(head: Head, sets: readonly NamedSet[]): void {
  for (const s of sets) {
    if (s.set.features.rows === 0) {
      throw new DataError(
        `Feature set ${s.set.dir} (${s.name}) is empty (0 samples); every evaluated set needs ` +
          `at least one sample`,
      );
    }
  }
  checkDims(head, sets.map((s) => ({ name: s.name, dir: s.set.dir, dim: s.set.meta.dim })));
}

/** Checks that every set's feature dimension matches the head's and returns nothing. */
export function checkDims(head: Head, sets: { name: string; dir: string; dim: number }[]): void {
  const D = head.weight.cols;
  for (const s of sets) {
    if (s.dim !== D) {
      throw new DataError(
        `Feature set ${s.dir} (${s.name}) has D = ${s.dim} but head ${head.dir ?? ""} expects ` +
          `D = ${D}; use features extracted with the same backbone as the head`,
      );
    }
  }
}

/** The features file of an evaluated set (what the numeric guard names). */
function featuresFile(s: NamedSet): string {
  return `${s.set.dir}/features.npy`;
}

/** The weight file of a head (what the logits guard names). */
function weightFile(head: Head): string {
  return head.dir ? `${head.dir}/weight.npy` : "the head's weight.npy";
}

/** The hyperparameter overrides of `key`: the shorthands, then `inputs.hyperparameters`. */
export function overridesFor(
  inputs: Pick<
    ScoreInputs,
    "odinTemperature" | "energyTemperature" | "klVariant" | "hyperparameters"
  >,
  key: string,
): Params {
  const out: Params = {};
  if (key === "odin" && inputs.odinTemperature !== undefined) {
    out.temperature = inputs.odinTemperature;
  }
  if (key === "energy" && inputs.energyTemperature !== undefined) {
    out.temperature = inputs.energyTemperature;
  }
  if (key === "kl" && inputs.klVariant !== undefined) out.variant = inputs.klVariant;
  return { ...out, ...(inputs.hyperparameters?.[key] ?? {}) };
}

/**
 * The one head-kind check of a method list: a method that does not read `kind` heads is a
 * DataError naming the method and `where` (the head directory), before any work.
 */
export function checkMethodsForHead(
  methods: readonly string[],
  kind: "flat" | "group",
  where = "the head",
): void {
  for (const m of methods) checkHeadKind(m, detectorByKey(m).needs.head, kind, where);
}

/** The logits of every set a method reads, computed once, and their wall time. */
async function setLogits(
  inputs: ScoreInputs,
  sets: readonly NamedSet[],
  logitMethods: readonly string[],
): Promise<{ logits: Map<string, Matrix>; seconds: number }> {
  const { head, threads } = inputs;
  const logits = new Map<string, Matrix>();
  const t0 = performance.now();
  for (const s of sets) {
    logits.set(s.name, await linearLogits(s.set.features, head.weight, head.bias, { threads }));
  }
  const seconds = elapsed(t0);
  // One pass over N x K per set, shared by every logit-based method (~1 ns a value, under a
  // tenth of the GEMM's time); a validation of the inputs like readFeatureSet's, so untimed.
  for (const s of sets) {
    checkFiniteLogits(logits.get(s.name)!, {
      method: logitMethods.join(", "),
      set: s.name,
      file: featuresFile(s),
      weights: weightFile(head),
    }, { features: s.set.features });
  }
  return { logits, seconds };
}

/** What a method's fit reads, from the inputs and the sets' logits (exported for tests). */
export function fitContext(
  inputs: ScoreInputs,
  logits: Map<string, Matrix>,
  overrides: Params,
): DetectorContext {
  const { head, id, train, idVal, oodVal } = inputs;
  const fitSet = (s: NamedSet) => ({
    features: s.set.features,
    labels: s.set.labels,
    logits: logits.get(s.name)!,
    layers: s.layers,
  });
  return {
    head: detectorHead(head),
    protocol: "paper" as Protocol,
    hyperparameters: overrides,
    train: train
      ? {
        features: train.source,
        labels: train.labels,
        layers: train.layers,
        file: `${train.dir}/features.npy`,
      }
      : undefined,
    id: logits.has(id.name) ? { ...fitSet(id), file: `${id.set.dir}/labels.npy` } : undefined,
    idVal: idVal && logits.has(idVal.name) ? fitSet(idVal) : undefined,
    oodVal: oodVal && logits.has(oodVal.name) ? fitSet(oodVal) : undefined,
    chunk: { threads: inputs.threads },
    blockMb: inputs.blockMb,
    seed: inputs.seed ?? 0,
  };
}

/**
 * Fits `det` and scores every evaluated set with it (through `scoreFromFeatures` when
 * `fromFeatures`); the overflow guard runs on each result.
 */
async function runMethod(
  det: AnyDetector,
  inputs: ScoreInputs,
  logits: Map<string, Matrix>,
  overrides: Params,
  fromFeatures = false,
): Promise<Map<string, Float32Array>> {
  const ctx = fitContext(inputs, logits, overrides);
  const train = inputs.train;
  const model = needsOf(det, overrides).train && train
    ? await withSite(
      { method: det.key, set: train.label ?? "training set", file: `${train.dir}/features.npy` },
      () => det.fit(ctx),
    )
    : await det.fit(ctx);
  const per = new Map<string, Float32Array>();
  for (const s of [inputs.id, ...inputs.ood]) {
    const z = logits.get(s.name) ?? emptyLogits(s.set.features.rows);
    const scores = fromFeatures
      ? await det.scoreFromFeatures!(model, matrixSource(s.set.features))
      : await det.score(model, s.set.features, z, s.layers);
    checkFiniteScores(
      scores,
      { method: det.key, set: s.name, file: featuresFile(s) },
      s.set.features,
    );
    per.set(s.name, scores);
  }
  return per;
}

/** A 0-column stand-in for the logits of a method that does not read them. */
function emptyLogits(rows: number): Matrix {
  return { data: new Float32Array(0), rows, cols: 0 };
}

/** The metric rows of every method and OOD set against the ID set. */
function metricRows(inputs: ScoreInputs, scores: Map<string, Map<string, Float32Array>>) {
  const metrics: MetricRow[] = [];
  const { id, ood } = inputs;
  for (const method of inputs.methods) {
    const per = scores.get(method)!;
    for (const s of ood) {
      const m: DetectionMetrics = evaluate(per.get(id.name)!, per.get(s.name)!, {
        fprConvention: inputs.fprConvention,
        label: `${method} (ID "${id.name}" vs OOD "${s.name}")`,
      });
      metrics.push({
        method,
        dataset: s.name,
        auroc: 100 * m.auroc,
        fpr95: 100 * m.fpr95,
        aupr_in: 100 * m.auprIn,
        aupr_out: 100 * m.auprOut,
      });
    }
  }
  return metrics;
}

/**
 * Scores every set with every method and evaluates each OOD set against the ID set. Methods
 * must fit the head kind (see {@linkcode checkMethodsForHead}).
 */
export async function scoreSets(inputs: ScoreInputs, onStep?: StepListener): Promise<ScoreResult> {
  const { head, id, ood, methods } = inputs;
  if (ood.length === 0) {
    throw new DataError("No OOD set given; scoring needs at least one OOD feature set");
  }
  checkEvaluatedSets(head, [id, ...ood]);
  const dets = methods.map((m) => detectorByKey(m));
  checkMethodsForHead(methods, head.info.kind, head.dir);
  const reads = (d: AnyDetector) => {
    const n = needsOf(d, overridesFor(inputs, d.key));
    return n.logits === true || n.evaluatedId === true;
  };
  const rows = [id, ...ood].reduce((n, s) => n + s.set.features.rows, 0);
  const O = head.weight.rows;
  const streamed = methodsFromFeatures(methods, rows, O, inputs.maxLogitsMb);
  const logitMethods = dets.filter((d) => reads(d) && !streamed.includes(d.key)).map((d) => d.key);
  let logits = new Map<string, Matrix>();
  let logitsSeconds = 0;
  if (logitMethods.length > 0 || dets.some((d) => d.needs.idVal || d.needs.oodVal)) {
    const sets = [id, ...ood];
    onStep?.(`logits of ${sets.length} sets`);
    for (const v of [inputs.idVal, inputs.oodVal]) if (v) sets.push(v);
    ({ logits, seconds: logitsSeconds } = await setLogits(inputs, sets, logitMethods));
  }
  const scores = new Map<string, Map<string, Float32Array>>();
  const seconds: Record<string, number> = {};
  for (const det of dets) {
    const overrides = overridesFor(inputs, det.key);
    const t0 = performance.now();
    if (streamed.includes(det.key)) {
      onStep?.(
        `${det.key} (from features: the logits would take ${logitsMb(rows, O).toFixed(0)} MiB)`,
      );
      scores.set(det.key, await runMethod(det, inputs, logits, overrides, true));
      seconds[det.key] = elapsed(t0);
      continue;
    }
    onStep?.(det.key);
    scores.set(det.key, await runMethod(det, inputs, logits, overrides));
    seconds[det.key] = elapsed(t0) + (reads(det) ? logitsSeconds : 0);
  }
  return {
    scores,
    metrics: metricRows(inputs, scores),
    seconds,
    notes: scoreNotes(inputs),
    streamed,
  };
}

/**
 * The table notes of a scoring run: each method's registry note under its overrides, then the
 * metrics convention's when it is not the paper's. A function of the inputs alone, so a reused
 * result gets the notes a fresh one would.
 */
export function scoreNotes(
  inputs: Pick<
    ScoreInputs,
    | "methods"
    | "fprConvention"
    | "odinTemperature"
    | "energyTemperature"
    | "klVariant"
    | "hyperparameters"
  >,
): string[] {
  const notes: string[] = [];
  for (const key of inputs.methods) {
    const note = detectorNote(detectorByKey(key), "paper", overridesFor(inputs, key));
    if (note !== undefined) notes.push(note);
  }
  // The default convention's metrics are the paper's and need no note.
  if (inputs.fprConvention === "openood") notes.push(metricsConventionNote("openood"));
  return notes;
}
