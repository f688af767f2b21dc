/**
 * Stages shared by the single-step tasks (train-head, score) and the pipelines (demo, table1):
 * each takes a lock on its output directory, skips work whose manifest matches its config and
 * inputs, writes every file atomically and the manifest last.
 *
 * @module
 */
import { DataError, UsageError } from "../../lib/errors.ts";
import { groupLayout } from "../../lib/groups.ts";
import { writeTextAtomic } from "../../lib/io/atomic.ts";
import { readClassTable } from "../../lib/io/classes.ts";
import { assertOutsideInputs, type NamedPath } from "../../lib/io/containment.ts";
import { type FeatureSet, readFeatureSet } from "../../lib/io/feature_set.ts";
import { openFeatureStream } from "../../lib/io/feature_stream.ts";
import { type Head, readHead, writeHead } from "../../lib/io/head.ts";
import { acquireLock } from "../../lib/io/lock.ts";
import {
  buildManifest,
  hashInputs,
  manifestMatches,
  writeManifest,
} from "../../lib/io/manifest.ts";
import { intervalsCsv, writeScoreOutputs } from "../../lib/io/score_files.ts";
import { prepareOutDir, removeFreshOutDir } from "../../lib/io/out_dir.ts";
import { commitStaging, createStaging, discardStaging } from "../../lib/io/staging.ts";
import { assertFitsInMemory } from "../../lib/memory_budget.ts";
import { scoreMapIntervals } from "../../lib/metrics/bootstrap.ts";
import type { FprConvention } from "../../lib/metrics/fpr95.ts";
import { checkMethodsForHead, type MethodKey } from "../../lib/scoring/methods.ts";
import {
  checkEvaluatedSets,
  type KlVariant,
  type NamedSet,
  type ScoreResult,
  scoreSets,
} from "../../lib/scoring/score_sets.ts";
import { resolveGroups } from "../../lib/train/groups_spec.ts";
import { hyperRule, type HyperRuleOverrides } from "../../lib/train/hyperrule.ts";
import { type FileFeatureSource, npyFeatureSource } from "../../lib/train/file_source.ts";
import { evaluateAccuracy, gatherSource, trainHead } from "../../lib/train/trainer.ts";
import { openViewSource, type ViewSource } from "../../lib/train/view_source.ts";
import { createProgress } from "./progress.ts";

/** Number of classes of a training set: meta.num_classes when recorded, else max label + 1. */
export function numClassesOf(set: FeatureSet): number {
  const recorded = set.meta.num_classes;
  if (typeof recorded === "number" && Number.isInteger(recorded) && recorded > 0) return recorded;
  let max = -1;
  for (const l of set.labels) if (l > max) max = l;
  if (max < 0) {
    throw new DataError(
      `${set.dir} has no labelled rows (all labels -1); head training needs class labels`,
    );
  }
  return max + 1;
}

/** Options of {@linkcode runTrainStage}. */
export interface TrainStageOptions {
  features: string;
  out: string;
  /**
   * "flat", "taxonomy", a path to a groups JSON file, or the groups themselves (ablations that
   * compute groupings in code; validated like a file).
   */
  groups: string | number[][];
  overrides: HyperRuleOverrides;
  seed: number;
  val?: string;
  threads?: number;
  numClasses?: number;
  force?: boolean;
  /** Name printed in progress lines. */
  label?: string;
}

/** Result of a train stage. */
export interface TrainStageResult {
  head: Head;
  skipped: boolean;
  valAccuracy: number | null;
}

/** Trains (or reuses) a head; see the module doc for the guarantees. */
export async function runTrainStage(o: TrainStageOptions): Promise<TrainStageResult> {
  const label = o.label ?? "train-head";
  const trainInputs: NamedPath[] = [{ label: "--features", path: o.features }];
  if (o.val) trainInputs.push({ label: "--val", path: o.val });
  if (typeof o.groups === "string" && !["flat", "taxonomy"].includes(o.groups)) {
    trainInputs.push({ label: "--groups", path: o.groups });
  }
  assertOutsideInputs({ label: "--out", path: o.out }, trainInputs);
  // Sets above 1 GiB (ImageNet train: 5.2 GB as float16) are gathered from the file batch by
  // batch, so memory stays bounded by the batch, not the set; same bytes as reading it whole.
  const FILE_SOURCE_BYTES = 1 << 30;
  const fPath = `${o.features}/features.npy`;
  const big = await Deno.stat(fPath).then((s) => s.size > FILE_SOURCE_BYTES, () => false);
  let set: FeatureSet;
  let fileSource: FileFeatureSource | undefined;
  let viewSrc: ViewSource | null = null;
  if (big) {
    const stream = await openFeatureStream(o.features);
    try {
      const { rows, cols } = stream.features;
      if (rows !== stream.meta.count || cols !== stream.meta.dim) {
        throw new DataError(
          `${fPath} is ${rows} x ${cols} but ${o.features}/meta.json says count ` +
            `${stream.meta.count}, dim ${stream.meta.dim}; rewrite the feature set`,
        );
      }
      fileSource = npyFeatureSource(stream.features);
    } catch (e) {
      stream.close();
      throw e;
    }
    // Only labels and meta are used from `set` below; the features stay on disk.
    set = {
      dir: stream.dir,
      meta: stream.meta,
      labels: stream.labels,
      features: { rows: fileSource.rows, cols: fileSource.cols, data: new Float32Array(0) },
    };
  } else {
    set = await readFeatureSet(o.features);
  }
  try {
    if (set.features.rows === 0) {
      throw new DataError(
        `--features ${o.features} is empty (0 samples); training needs labelled rows`,
      );
    }
    const C = o.numClasses ?? numClassesOf(set);
    checkTrainMemory(o, set, C);
    let fileText: string | undefined;
    const choice = typeof o.groups === "string" ? o.groups : "groups (computed)";
    if (typeof o.groups !== "string") {
      fileText = JSON.stringify(o.groups);
    } else if (o.groups !== "flat" && o.groups !== "taxonomy") {
      try {
        fileText = await Deno.readTextFile(o.groups);
      } catch {
        throw new DataError(
          `--groups ${o.groups}: file not found; use flat, taxonomy or a JSON file of class-id groups`,
        );
      }
    }
    const classTable = o.groups === "taxonomy" ? await readClassTable() : undefined;
    const groups = resolveGroups(choice, C, { fileText, classTable });
    const layout = groups ? groupLayout(groups, C) : null;
    for (let i = 0; i < set.labels.length; i++) {
      if (!(set.labels[i] >= 0 && set.labels[i] < C)) {
        throw new DataError(
          `${o.features}/labels.npy: label ${set.labels[i]} at row ${i} is outside [0, ${C}); ` +
            `training features need class labels 0..${C - 1}`,
        );
      }
    }
    const val = o.val ? await readFeatureSet(o.val, { numClasses: C }) : undefined;
    if (val && val.meta.dim !== set.meta.dim) {
      throw new DataError(
        `--val ${o.val} has D = ${val.meta.dim} but --features ${o.features} has D = ` +
          `${set.meta.dim}; use features from the same backbone`,
      );
    }
    const rule = hyperRule(set.features.rows, o.overrides);
    // Augmented views (extract --views V): one seeded view per example per step.
    viewSrc = await openViewSource(o.features, o.seed, FILE_SOURCE_BYTES);
    const views = viewSrc ? viewSrc.views : 1;
    const config = {
      kind: groups ? "group" : "flat",
      groups,
      num_classes: C,
      rule,
      seed: o.seed,
      ...(views > 1 ? { views } : {}),
    };
    const inputPaths: Record<string, string> = { features: o.features };
    if (o.val) inputPaths.val = o.val;

    const outDir = await prepareOutDir(o.out, "--out");
    let done = false;
    const lock = await acquireLock(o.out, "train-head").catch(async (e) => {
      await removeFreshOutDir(outDir);
      throw e;
    });
    try {
      const inputs = await hashInputs(inputPaths);
      if (!o.force && await manifestMatches(o.out, { stage: "train_head", config, inputs })) {
        const head = await readHead(o.out);
        const acc = head.info.train?.val_accuracy;
        done = true;
        return { head, skipped: true, valAccuracy: typeof acc === "number" ? acc : null };
      }
      // The previous head stays intact (and consistent with its manifest) until the new one is
      // written in full; see commitStaging.
      const t0 = performance.now();
      const progress = createProgress({ label, total: rule.totalSteps, unit: "steps" });
      let started = false;
      const result = await trainHead({
        source: viewSrc ?? fileSource ?? gatherSource(set.features),
        featuresPath: viewSrc ? `${o.features}/views.npy` : fPath,
        labels: set.labels,
        numClasses: C,
        layout,
        rule,
        seed: o.seed,
        threads: o.threads,
        checkpoint: {
          dir: `${o.out}/.checkpoint`,
          every: Math.max(50, Math.ceil(rule.totalSteps / 20)),
          // Never resume a checkpoint of other features (same shape and labels).
          key: inputs.features,
        },
        onProgress: (step, _total, loss) => {
          if (!started) started = true;
          progress.update(step, `loss ${loss.toFixed(4)}`);
        },
      });
      progress.finish(
        `final loss ${result.finalLoss.toFixed(4)}` +
          (result.resumedFrom > 0 ? ` (resumed from step ${result.resumedFrom})` : ""),
      );
      const valAccuracy = val
        ? await evaluateAccuracy(
          result.weight,
          result.bias,
          layout,
          val.features,
          val.labels,
          o.threads,
        )
        : null;
      const head: Head = {
        info: {
          kind: groups ? "group" : "flat",
          num_classes: C,
          groups: groups ?? [],
          backbone: set.meta.backbone,
          features: `${set.meta.dataset} (${set.meta.backbone}) ${inputs.features}`,
          train: {
            config: { ...rule, groups: choice, views },
            seed: o.seed,
            steps: result.steps,
            final_loss: result.finalLoss,
            val_accuracy: valAccuracy,
          },
        },
        weight: result.weight,
        bias: result.bias,
      };
      const staging = await createStaging(o.out);
      try {
        await writeHead(staging, head);
        await writeManifest(
          staging,
          buildManifest({
            stage: "train_head",
            config,
            seed: o.seed,
            inputs,
            wallSeconds: (performance.now() - t0) / 1000,
          }),
        );
        await commitStaging(staging, o.out, ["head.json", "manifest.json"]);
      } catch (e) {
        await discardStaging(staging);
        throw e;
      }
      await Deno.remove(`${o.out}/.checkpoint`, { recursive: true }).catch(() => {});
      head.dir = o.out;
      done = true;
      return { head, skipped: false, valAccuracy };
    } finally {
      lock.release();
      if (!done) await removeFreshOutDir(outDir);
    }
  } finally {
    fileSource?.close();
    viewSrc?.close();
  }
}

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
  const usesTrain = o.methods.includes("mahalanobis") ||
    (o.methods.includes("kl") && o.klVariant === "clean");
  const inputPaths: Record<string, string> = { head: o.head, [`id:${o.id.name}`]: o.id.dir };
  for (const s of o.ood) inputPaths[`ood:${s.name}`] = s.dir;
  if (usesTrain && o.train) inputPaths.train = o.train;

  const C = head.info.num_classes;
  const read = async (n: { name: string; dir: string }): Promise<NamedSet> => {
    const set = await readFeatureSet(n.dir, { numClasses: C });
    const want = head.info.backbone;
    if (typeof want === "string" && set.meta.backbone !== want) {
      throw new DataError(
        `Feature set ${n.dir} comes from backbone "${set.meta.backbone}" but head ${o.head} was ` +
          `trained on "${want}" features; score features of the head's backbone`,
      );
    }
    return { name: n.name, set };
  };
  const id = await read(o.id);
  const ood: NamedSet[] = [];
  for (const s of o.ood) ood.push(await read(s));
  // Every check that can fail runs before the output directory is touched.
  checkEvaluatedSets(head, [id, ...ood]);
  if (usesTrain && !o.train) {
    throw new UsageError(
      o.methods.includes("mahalanobis")
        ? "--methods mahalanobis needs --train DIR (class means and covariance come from the " +
          "training features); add --train or drop mahalanobis"
        : "--kl-variant clean needs --train DIR (templates come from a held-out ID split)",
    );
  }
  if (o.methods.includes("kl") && o.klVariant === "paper" && id.set.labels.some((l) => l < 0)) {
    throw new DataError(
      `KL matching (paper variant) builds templates from the ID set's labels, but ` +
        `${id.set.dir}/labels.npy has -1 entries; label the ID set or use --kl-variant clean --train DIR`,
    );
  }
  let train: Awaited<ReturnType<typeof openFeatureStream>> | undefined;
  if (usesTrain && o.train) {
    try {
      train = await openFeatureStream(o.train, { numClasses: C });
    } catch (e) {
      throw e instanceof DataError ? new DataError(`--train: ${e.message}`) : e;
    }
  }
  try {
    if (train) {
      if (train.meta.dim !== head.weight.cols) {
        throw new DataError(
          `--train ${o.train} has D = ${train.meta.dim} but head ${o.head} expects D = ` +
            `${head.weight.cols}; use training features of the head's backbone`,
        );
      }
      const bad = train.labels.findIndex((l) => l < 0);
      if (bad !== -1 && o.methods.includes("mahalanobis")) {
        throw new DataError(
          `${o.train}/labels.npy has label ${train.labels[bad]} at row ${bad}; Mahalanobis ` +
            `statistics need labelled ID training rows (no -1)`,
        );
      }
    }
  } catch (e) {
    train?.close();
    throw e;
  }

  try {
    checkScoreMemory(head, [id, ...ood], o.methods);
    const outDir = await prepareOutDir(o.out, "--out");
    let done = false;
    const lock = await acquireLock(o.out, "score").catch(async (e) => {
      await removeFreshOutDir(outDir);
      throw e;
    });
    try {
      const inputs = await hashInputs(inputPaths);
      if (!o.force && await manifestMatches(o.out, { stage: "score", config, inputs })) {
        done = true;
        return { result: null, skipped: true };
      }
      // The previous result stays intact (and readable) until every new file exists.
      const t0 = performance.now();
      const result = await scoreSets({
        head,
        id,
        ood,
        methods: o.methods,
        train: train ? { dir: train.dir, source: train.features, labels: train.labels } : undefined,
        klVariant: o.klVariant,
        fprConvention: o.fprConvention,
        odinTemperature: o.odinTemperature,
        threads: o.threads,
      }, o.onStep);
      const staging = await createStaging(o.out);
      try {
        await writeScoreOutputs(staging, result);
        if (o.ci) {
          o.onStep?.(`bootstrap intervals (${o.ci.resamples} resamples)`);
          const rows = scoreMapIntervals(result.scores, o.id.name, o.ood.map((s) => s.name), {
            resamples: o.ci.resamples,
            seed: o.ci.seed,
            fprConvention: o.fprConvention,
          });
          await writeTextAtomic(`${staging}/metrics_ci.csv`, intervalsCsv(rows, o.ci));
        }
        await writeManifest(
          staging,
          buildManifest({
            stage: "score",
            config,
            inputs,
            wallSeconds: (performance.now() - t0) / 1000,
          }),
        );
        await commitStaging(staging, o.out, [
          "timings.csv",
          "metrics_ci.csv",
          "metrics.csv",
          "manifest.json",
        ]);
      } catch (e) {
        await discardStaging(staging);
        throw e;
      }
      done = true;
      return { result, skipped: false };
    } finally {
      lock.release();
      if (!done) await removeFreshOutDir(outDir);
    }
  } finally {
    train?.close();
  }
}

/** Bytes per float32. */
const F32 = 4;

/**
 * Refuses a head whose size the machine cannot hold while training: weights, momentum, gradient
 * and the step graph's copies (about six O x D float32 matrices) plus a batch of logits. A stray
 * label (2147483647 is a valid int32) would otherwise size a 2^31-class head.
 */
function checkTrainMemory(o: TrainStageOptions, set: FeatureSet, C: number): void {
  const D = set.features.cols;
  const O = C + (o.groups === "flat" ? 0 : Math.min(C, 1024));
  const batch = o.overrides.batch ?? 512;
  const bytes = 6 * O * D * F32 + 8 * batch * O * F32 + 4 * batch * D * F32;
  const source = o.numClasses !== undefined
    ? `--num-classes ${o.numClasses}`
    : typeof set.meta.num_classes === "number"
    ? `"num_classes" in ${o.features}/meta.json`
    : `the largest label ${C - 1} in ${o.features}/labels.npy`;
  assertFitsInMemory(
    bytes,
    `A head of ${C} classes x ${D} features (from ${source})`,
    o.numClasses !== undefined
      ? "give the number of classes the labels use"
      : "check labels.npy for a stray label, or pass --num-classes with the real class count",
  );
}

/**
 * Refuses a scoring run whose logits (N x O per set, held with the features) and per-class
 * statistics (Mahalanobis means, KL templates: C x D and C x O) do not fit.
 */
function checkScoreMemory(head: Head, sets: NamedSet[], methods: readonly MethodKey[]): void {
  const O = head.weight.rows;
  const D = head.weight.cols;
  let rows = 0;
  for (const s of sets) rows = Math.max(rows, s.set.features.rows);
  let bytes = 2 * rows * O * F32;
  if (methods.includes("mahalanobis")) bytes += head.info.num_classes * D * F32 + 2 * D * D * 8;
  if (methods.includes("kl")) bytes += 2 * head.info.num_classes * O * F32;
  assertFitsInMemory(
    bytes,
    `Scoring ${rows} rows with head ${head.dir} (${O} outputs x ${D} features)`,
    "score the sets in smaller parts or on a machine with more memory",
  );
}
