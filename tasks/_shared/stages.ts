/**
 * Stages shared by the single-step tasks (train-head, score) and the pipelines (demo, table1):
 * the train stage here, the score stage in ./score_stage.ts (re-exported). Every check that can fail runs first, then the stage runner (lib/io/stage.ts) locks the output
 * directory, skips work whose manifest matches its config and inputs, and stages every file with
 * the manifest last, so a failure keeps the previous result.
 *
 * @module
 */
import { DataError } from "../../lib/errors.ts";
import { groupLayout } from "../../lib/groups.ts";
import { readClassTable } from "../../lib/io/classes.ts";
import { assertOutsideInputs, type NamedPath } from "../../lib/io/containment.ts";
import { type FeatureSet, readFeatureSet } from "../../lib/io/feature_set.ts";
import { openFeatureStream } from "../../lib/io/feature_stream.ts";
import { type Head, readHead, writeHead } from "../../lib/io/head.ts";
import { runStage } from "../../lib/io/stage.ts";
import { assertFitsInMemory } from "../../lib/memory_budget.ts";
import { resolveGroups } from "../../lib/train/groups_spec.ts";
import { hyperRule, type HyperRuleOverrides } from "../../lib/train/hyperrule.ts";
import { type FileFeatureSource, npyFeatureSource } from "../../lib/train/file_source.ts";
import { evaluateAccuracy, gatherSource, trainHead } from "../../lib/train/trainer.ts";
import { openViewSource, type ViewSource } from "../../lib/train/view_source.ts";
import { createProgress } from "./progress.ts";

export { runScoreStage, type ScoreStageOptions, type ScoreStageResult } from "./score_stage.ts";

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

/** Sets above 1 GiB (ImageNet train: 5.2 GB as float16) are gathered from the file batch by batch. */
const FILE_SOURCE_BYTES = 1 << 30;

/** The training set: in memory, or (large sets) labels and meta with the features on disk. */
interface TrainSet {
  set: FeatureSet;
  fPath: string;
  fileSource?: FileFeatureSource;
}

/** Everything training needs, checked before the output directory is touched. */
interface TrainPlan {
  numClasses: number;
  groups: number[][] | null;
  choice: string;
  val?: FeatureSet;
  rule: ReturnType<typeof hyperRule>;
}

/** Trains (or reuses) a head; see the module doc for the guarantees. */
export async function runTrainStage(o: TrainStageOptions): Promise<TrainStageResult> {
  const trainInputs: NamedPath[] = [{ label: "--features", path: o.features }];
  if (o.val) trainInputs.push({ label: "--val", path: o.val });
  if (typeof o.groups === "string" && !["flat", "taxonomy"].includes(o.groups)) {
    trainInputs.push({ label: "--groups", path: o.groups });
  }
  assertOutsideInputs({ label: "--out", path: o.out }, trainInputs);
  const src = await openTrainSet(o.features);
  let viewSrc: ViewSource | null = null;
  try {
    const plan = await planTraining(o, src.set);
    // Augmented views (extract --views V): one seeded view per example per step.
    viewSrc = await openViewSource(o.features, o.seed, FILE_SOURCE_BYTES, {
      hint: "rerun the extraction with --views",
    });
    const views = viewSrc ? viewSrc.views : 1;
    const config = {
      kind: plan.groups ? "group" : "flat",
      groups: plan.groups,
      num_classes: plan.numClasses,
      rule: plan.rule,
      seed: o.seed,
      ...(views > 1 ? { views } : {}),
    };
    const inputs: Record<string, string> = { features: o.features };
    if (o.val) inputs.val = o.val;
    const removeCheckpoint = () =>
      Deno.remove(`${o.out}/.checkpoint`, { recursive: true }).catch(() => {});
    const run = await runStage({
      dir: o.out,
      stage: "train_head",
      purpose: "train-head",
      label: "--out",
      config,
      seed: o.seed,
      inputs,
      force: o.force,
      markers: ["head.json"],
      reuse: async () => {
        // A kill between the commit and `committed` leaves the checkpoint of a finished run.
        await removeCheckpoint();
        const head = await readHead(o.out);
        const acc = head.info.train?.val_accuracy;
        return { head, valAccuracy: typeof acc === "number" ? acc : null };
      },
      // The checkpoint never resumes other features (same shape and labels).
      compute: (ctx) => trainAndEvaluate(o, src, plan, viewSrc, ctx.inputs.features),
      write: (w, r) => writeHead(w.path, r.head),
      committed: removeCheckpoint,
    });
    if (!run.reused) run.result.head.dir = o.out;
    return { ...run.result, skipped: run.reused };
  } finally {
    src.fileSource?.close();
    viewSrc?.close();
  }
}

/**
 * Opens the training set. Sets above 1 GiB are gathered from the file batch by batch, so memory
 * stays bounded by the batch, not the set; same bytes as reading it whole.
 */
async function openTrainSet(features: string): Promise<TrainSet> {
  const fPath = `${features}/features.npy`;
  const big = await Deno.stat(fPath).then((s) => s.size > FILE_SOURCE_BYTES, () => false);
  if (!big) return { set: await readFeatureSet(features), fPath };
  const stream = await openFeatureStream(features);
  let fileSource: FileFeatureSource;
  try {
    const { rows, cols } = stream.features;
    if (rows !== stream.meta.count || cols !== stream.meta.dim) {
      throw new DataError(
        `${fPath} is ${rows} x ${cols} but ${features}/meta.json says count ` +
          `${stream.meta.count}, dim ${stream.meta.dim}; rewrite the feature set`,
      );
    }
    fileSource = npyFeatureSource(stream.features);
  } catch (e) {
    stream.close();
    throw e;
  }
  // Only labels and meta are used from `set`; the features stay on disk.
  const set: FeatureSet = {
    dir: stream.dir,
    meta: stream.meta,
    labels: stream.labels,
    features: { rows: fileSource.rows, cols: fileSource.cols, data: new Float32Array(0) },
  };
  return { set, fPath, fileSource };
}

/** Classes, groups, labels, the validation set and the schedule, all checked. */
async function planTraining(o: TrainStageOptions, set: FeatureSet): Promise<TrainPlan> {
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
  const label = typeof o.groups === "string" ? `--groups ${o.groups}` : undefined;
  const groups = resolveGroups(choice, C, { fileText, classTable, label });
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
  return { numClasses: C, groups, choice, val, rule };
}

/** Trains the head (resuming its checkpoint) and measures its accuracy on the validation set. */
async function trainAndEvaluate(
  o: TrainStageOptions,
  src: TrainSet,
  plan: TrainPlan,
  viewSrc: ViewSource | null,
  featuresHash: string,
): Promise<{ head: Head; valAccuracy: number | null }> {
  const { set } = src;
  const { rule, numClasses: C, groups, val } = plan;
  const layout = groups ? groupLayout(groups, C) : null;
  const progress = createProgress({
    label: o.label ?? "train-head",
    total: rule.totalSteps,
    unit: "steps",
  });
  const result = await trainHead({
    source: viewSrc ?? src.fileSource ?? gatherSource(set.features),
    featuresPath: viewSrc ? `${o.features}/views.npy` : src.fPath,
    divergedHint: "rescale them or lower --lr",
    labels: set.labels,
    numClasses: C,
    layout,
    rule,
    seed: o.seed,
    threads: o.threads,
    checkpoint: {
      dir: `${o.out}/.checkpoint`,
      every: Math.max(50, Math.ceil(rule.totalSteps / 20)),
      key: featuresHash,
    },
    onProgress: (step, _total, loss) => progress.update(step, `loss ${loss.toFixed(4)}`),
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
      features: `${set.meta.dataset} (${set.meta.backbone}) ${featuresHash}`,
      train: {
        config: { ...rule, groups: plan.choice, views: viewSrc ? viewSrc.views : 1 },
        seed: o.seed,
        steps: result.steps,
        final_loss: result.finalLoss,
        val_accuracy: valAccuracy,
      },
    },
    weight: result.weight,
    bias: result.bias,
  };
  return { head, valAccuracy };
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
