/**
 * The score stage shared by `score`, the demo and the paper pipelines: every check that can fail
 * runs first, then the stage runner (lib/io/stage.ts) locks the output directory, reuses a result
 * whose manifest matches, and stages scores, metrics, timings and intervals with the manifest last.
 *
 * @module
 */
import { DataError, UsageError } from "../../lib/errors.ts";
import { writeTextAtomic } from "../../lib/io/atomic.ts";
import { assertOutsideInputs, type NamedPath } from "../../lib/io/containment.ts";
import { readFeatureSet } from "../../lib/io/feature_set.ts";
import { type FeatureStream, openFeatureStream } from "../../lib/io/feature_stream.ts";
import { type Head, readHead } from "../../lib/io/head.ts";
import { intervalsCsv, writeScoreOutputs } from "../../lib/scoring/score_files.ts";
import { runStage } from "../../lib/io/stage.ts";
import { assertFitsInMemory } from "../../lib/memory_budget.ts";
import { scoreMapIntervals } from "../../lib/metrics/bootstrap.ts";
import type { FprConvention } from "../../lib/metrics/fpr95.ts";
import { detectorByKey, needsOf } from "../../lib/detectors/registry.ts";
import { checkMethodsForHead, type MethodKey } from "../../lib/scoring/methods.ts";
import {
  checkEvaluatedSets,
  type KlVariant,
  methodsFromFeatures,
  type NamedSet,
  overridesFor,
  type ScoreResult,
  scoreSets,
} from "../../lib/scoring/score_sets.ts";

/** Options of {@linkcode runScoreStage}. */
export interface ScoreStageOptions {
  head: string;
  id: { name: string; dir: string };
  ood: { name: string; dir: string }[];
  train?: string;
  methods: MethodKey[];
  klVariant: KlVariant;
  fprConvention: FprConvention;
  odinTemperature: number;
  out: string;
  threads?: number;
  /** MiB bound of KL's template blocks and Mahalanobis's class-mean blocks (memory, not results). */
  blockMb?: number;
  /** Most MiB of logits held; past it MSP/ODIN/Energy/MOS score from features (memory, not results). */
  maxLogitsMb?: number;
  force?: boolean;
  onStep?: (message: string) => void;
  /** Bootstrap 95% intervals into metrics_ci.csv (resamples, seed). */
  ci?: { resamples: number; seed: number };
}

/** Result of a score stage: the computed result, or null when reused (read metrics.csv). */
export interface ScoreStageResult {
  result: ScoreResult | null;
  skipped: boolean;
}

/** Scores (or reuses) one head against ID + OOD sets into `out`. */
export async function runScoreStage(o: ScoreStageOptions): Promise<ScoreStageResult> {
  // Before anything is read: the output must not be (in) an input. `--out` equal to the head
  // directory once replaced the head's manifest.json.
  const scoreInputs: NamedPath[] = [
    { label: "--head", path: o.head },
    { label: "--id", path: o.id.dir },
    ...o.ood.map((s) => ({ label: `--ood ${s.name}=`, path: s.dir })),
  ];
  if (o.train) scoreInputs.push({ label: "--train", path: o.train });
  assertOutsideInputs({ label: "--out", path: o.out }, scoreInputs);
  const head = await readHead(o.head);
  checkMethodsForHead(o.methods, head.info.kind, o.head);
  const config = {
    methods: o.methods,
    id: o.id.name,
    ood: o.ood.map((s) => s.name),
    kl_variant: o.klVariant,
    // Not the former `fpr_convention` key: "openood" now sets AUPR too, and Mahalanobis scores
    // moved to the authors' -0.5 scale, so a directory scored before is not reused.
    metrics_convention: o.fprConvention,
    odin_temperature: o.odinTemperature,
    ...(o.ci ? { ci: o.ci } : {}),
  };
  // From the registry: which requested methods stream training features (KL by its variant).
  const usesTrain = o.methods.some((m) => trainNeeded(o, m));
  const inputs: Record<string, string> = { head: o.head, [`id:${o.id.name}`]: o.id.dir };
  for (const s of o.ood) inputs[`ood:${s.name}`] = s.dir;
  if (usesTrain && o.train) inputs.train = o.train;

  // Every check that can fail runs before the output directory is touched.
  const id = await readScoredSet(o, head, o.id);
  const ood: NamedSet[] = [];
  for (const s of o.ood) ood.push(await readScoredSet(o, head, s));
  checkEvaluatedSets(head, [id, ...ood]);
  checkScoreNeeds(o, usesTrain, id);
  const train = usesTrain && o.train ? await openScoreTrain(o, o.train, head) : undefined;
  try {
    checkScoreMemory(head, [id, ...ood], o.methods, o.maxLogitsMb);
    const run = await runStage<ScoreResult | null>({
      dir: o.out,
      stage: "score",
      label: "--out",
      config,
      inputs,
      force: o.force,
      markers: ["timings.csv", "metrics_ci.csv", "metrics.csv"],
      reuse: () => Promise.resolve(null),
      compute: () =>
        scoreSets({
          head,
          id,
          ood,
          methods: o.methods,
          train: train
            ? { dir: train.dir, source: train.features, labels: train.labels, label: "--train" }
            : undefined,
          klVariant: o.klVariant,
          fprConvention: o.fprConvention,
          odinTemperature: o.odinTemperature,
          threads: o.threads,
          blockMb: o.blockMb,
          maxLogitsMb: o.maxLogitsMb,
        }, o.onStep),
      write: (w, result) => writeScoreFiles(w.path, result!, o),
    });
    return { result: run.result, skipped: run.reused };
  } finally {
    train?.close();
  }
}

/** Whether method `m` streams training features under the stage's options (registry needs). */
function trainNeeded(o: ScoreStageOptions, m: string): boolean {
  return needsOf(detectorByKey(m), overridesFor({ klVariant: o.klVariant }, m)).train === true;
}

/** Reads one evaluated set, which must come from the head's backbone. */
async function readScoredSet(
  o: ScoreStageOptions,
  head: Head,
  n: { name: string; dir: string },
): Promise<NamedSet> {
  const set = await readFeatureSet(n.dir, { numClasses: head.info.num_classes });
  const want = head.info.backbone;
  if (typeof want === "string" && set.meta.backbone !== want) {
    throw new DataError(
      `Feature set ${n.dir} comes from backbone "${set.meta.backbone}" but head ${o.head} was ` +
        `trained on "${want}" features; score features of the head's backbone`,
    );
  }
  return { name: n.name, set };
}

/** Refuses methods whose data is missing: --train for Mahalanobis / clean KL, ID labels for KL. */
function checkScoreNeeds(o: ScoreStageOptions, usesTrain: boolean, id: NamedSet): void {
  if (usesTrain && !o.train) {
    const other = o.methods.find((m) => m !== "mahalanobis" && m !== "kl" && trainNeeded(o, m));
    throw new UsageError(
      o.methods.includes("mahalanobis")
        ? "--methods mahalanobis needs --train DIR (class means and covariance come from the " +
          "training features); add --train or drop mahalanobis"
        : other
        ? `--methods ${other} needs --train DIR (it fits on the training features); add --train ` +
          `or drop ${other}`
        : "--kl-variant clean needs --train DIR (templates come from a held-out ID split)",
    );
  }
  if (o.methods.includes("kl") && o.klVariant === "paper" && id.set.labels.some((l) => l < 0)) {
    throw new DataError(
      `KL matching (paper variant) builds templates from the ID set's labels, but ` +
        `${id.set.dir}/labels.npy has -1 entries; label the ID set or use --kl-variant clean --train DIR`,
    );
  }
}

/** Opens the training features for Mahalanobis / clean KL, checked against the head. */
async function openScoreTrain(
  o: ScoreStageOptions,
  dir: string,
  head: Head,
): Promise<FeatureStream> {
  let train: FeatureStream;
  try {
    train = await openFeatureStream(dir, { numClasses: head.info.num_classes });
  } catch (e) {
    throw e instanceof DataError ? new DataError(`--train: ${e.message}`) : e;
  }
  try {
    if (train.meta.dim !== head.weight.cols) {
      throw new DataError(
        `--train ${dir} has D = ${train.meta.dim} but head ${o.head} expects D = ` +
          `${head.weight.cols}; use training features of the head's backbone`,
      );
    }
    const bad = train.labels.findIndex((l) => l < 0);
    if (bad !== -1 && o.methods.includes("mahalanobis")) {
      throw new DataError(
        `${dir}/labels.npy has label ${train.labels[bad]} at row ${bad}; Mahalanobis ` +
          `statistics need labelled ID training rows (no -1)`,
      );
    }
  } catch (e) {
    train.close();
    throw e;
  }
  return train;
}

/** Writes scores, metrics, timings and (with `ci`) bootstrap intervals into `dir`. */
async function writeScoreFiles(
  dir: string,
  result: ScoreResult,
  o: ScoreStageOptions,
): Promise<void> {
  await writeScoreOutputs(dir, result);
  if (!o.ci) return;
  o.onStep?.(`bootstrap intervals (${o.ci.resamples} resamples)`);
  const rows = scoreMapIntervals(result.scores, o.id.name, o.ood.map((s) => s.name), {
    resamples: o.ci.resamples,
    seed: o.ci.seed,
    fprConvention: o.fprConvention,
  });
  await writeTextAtomic(`${dir}/metrics_ci.csv`, intervalsCsv(rows, o.ci));
}

/** Bytes per float32. */
const F32 = 4;

/**
 * Refuses a scoring run whose logits (N x O per set, held with the features) and per-class
 * statistics (Mahalanobis means, KL templates: C x D and C x O) do not fit.
 */
function checkScoreMemory(
  head: Head,
  sets: NamedSet[],
  methods: readonly MethodKey[],
  maxLogitsMb?: number,
): void {
  const O = head.weight.rows;
  const D = head.weight.cols;
  let rows = 0;
  let total = 0;
  for (const s of sets) {
    rows = Math.max(rows, s.set.features.rows);
    total += s.set.features.rows;
  }
  // Methods scored from features hold two feature chunks and onnxruntime's chunk x O blocks.
  const streamed = methodsFromFeatures(methods, total, O, maxLogitsMb);
  const held = methods.some((m) => !streamed.includes(m) && detectorByKey(m).needs.logits);
  let bytes = held ? 2 * rows * O * F32 : 8 * 2048 * O * F32;
  if (methods.includes("mahalanobis")) bytes += head.info.num_classes * D * F32 + 2 * D * D * 8;
  if (methods.includes("kl")) bytes += 2 * head.info.num_classes * O * F32;
  assertFitsInMemory(
    bytes,
    `Scoring ${rows} rows with head ${head.dir} (${O} outputs x ${D} features)`,
    "score the sets in smaller parts or on a machine with more memory",
  );
}
