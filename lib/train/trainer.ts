/**
 * Head training on cached features: a flat softmax head or the paper's group-softmax head,
 * zero-initialised, SGD momentum 0.9 under BiT-HyperRule, one onnxruntime graph per step.
 *
 * Every random choice is a pure function of the seed and the step (batch indices via
 * `createBatchSampler`, mixup via `mixupDraw`), and the optimiser state is fully in the
 * checkpoint, so a run resumed from a checkpoint at step s finishes with the same bytes as the
 * uninterrupted run (same engine and thread count).
 *
 * @module
 */
import { DataError } from "../errors.ts";
import { type GroupLayout, groupPredict } from "../groups.ts";
import { argmaxRows, type Matrix, matrix } from "../matrix.ts";
import { forEachLogitsChunk, matrixSource } from "../ort/linear.ts";
import { type Checkpoint, configHash, readCheckpoint, writeCheckpoint } from "./checkpoint.ts";
import { type HyperRule, learningRate } from "./hyperrule.ts";
import { mixupDraw } from "./mixup.ts";
import { createReferenceStep } from "./reference_step.ts";
import { createBatchSampler } from "./sampler.ts";
import { createOrtStep, type StepBatch, type StepShape, type TrainStep } from "./step_graph.ts";

/**
 * Steps per onnxruntime run in `trainHead` (see `createOrtStep`): amortises the per-run cost of
 * the JS binding; checkpoints, progress and abort still work per step boundary of a run.
 */
export const DEFAULT_UNROLL = 4;

/** Training features addressed by row index (in memory or a mapped file). */
export interface FeatureSource {
  /** Number of training rows N. */
  rows: number;
  /** Feature dimension D (values per row). */
  cols: number;
  /**
   * Copies rows `indices[i]` into `out[i * cols ..]` (indices may repeat, in any order). `step`
   * lets per-step sources (augmented views) choose deterministically, so a resume is exact.
   */
  gather(indices: Int32Array, out: Float32Array, step?: number): void;
}

/** A {@linkcode FeatureSource} over an in-memory matrix. */
export function gatherSource(m: Matrix): FeatureSource {
  const { data, cols } = m;
  return {
    rows: m.rows,
    cols,
    gather(indices: Int32Array, out: Float32Array): void {
      for (let i = 0; i < indices.length; i++) {
        const r = indices[i] * cols;
        out.set(data.subarray(r, r + cols), i * cols);
      }
    },
  };
}

/** Options of {@linkcode trainHead}. */
export interface TrainOptions {
  /** The training features. */
  source: FeatureSource;
  /** Class of each training row, in [0, numClasses). */
  labels: Int32Array;
  /** C, the number of classes. */
  numClasses: number;
  /** Group layout for the group-softmax head; `null` trains a flat softmax head. */
  layout: GroupLayout | null;
  /** Schedule and hyperparameters (from `hyperRule`). */
  rule: HyperRule;
  /** Seed of the batch order and the mixup draws; the same seed gives the same head. */
  seed: number;
  /** Intra-op threads for onnxruntime (default: all cores). */
  threads?: number;
  /** Called after every step with the number of completed steps and that step's loss. */
  onProgress?: (step: number, total: number, loss: number) => void;
  /**
   * Write `<dir>/checkpoint.bin` every `every` steps and at the end; resume from it when its
   * config hash matches. `key` adds caller identity to the hash (e.g. the feature set's id).
   */
  checkpoint?: { dir: string; every: number; key?: string };
  /**
   * Aborting stops training: no `onProgress` call follows the one during which it was aborted,
   * and the promise rejects with the signal's reason. Nothing after the last checkpoint is saved.
   */
  signal?: AbortSignal;
  /** `"ort"` (default) or `"reference"` (plain TypeScript, for tests and tiny heads). */
  engine?: "ort" | "reference";
  /** Steps per onnxruntime run (default {@linkcode DEFAULT_UNROLL}); results do not depend on it. */
  unroll?: number;
  /** The training features file, named by the error when the loss or weights stop being finite. */
  featuresPath?: string;
  /**
   * The advice of that error (default "rescale them or lower the learning rate"); a task names
   * its flag, e.g. "rescale them or lower --lr".
   */
  divergedHint?: string;
}

/** Result of {@linkcode trainHead}. */
export interface TrainResult {
  /** O x D head weight (O = C flat, C + K group). */
  weight: Matrix;
  /** Head bias, length O. */
  bias: Float32Array;
  /** Loss of the last step. */
  finalLoss: number;
  /** Steps of the whole run (including steps done before a resume). */
  steps: number;
  /** Loss of every step. */
  lossHistory: Float32Array;
  /** Step the run resumed from (0 for a fresh run). */
  resumedFrom: number;
}

function labelsHash(labels: Int32Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < labels.length; i++) {
    h = Math.imul(h ^ labels[i], 0x01000193);
    h ^= h >>> 15;
  }
  return h >>> 0;
}

function validate(opts: TrainOptions): void {
  const { source, labels, numClasses, layout } = opts;
  if (labels.length !== source.rows) {
    throw new DataError(
      `Training labels have ${labels.length} entries but the features have ${source.rows} rows; ` +
        `use labels.npy and features.npy from the same feature set`,
    );
  }
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (!(y >= 0 && y < numClasses)) {
      throw new DataError(
        `Training label ${y} at row ${i} is outside [0, ${numClasses}); training needs every row ` +
          `labelled with an in-distribution class`,
      );
    }
  }
  if (layout && layout.numClasses !== numClasses) {
    throw new DataError(
      `The grouping covers ${layout.numClasses} classes but the features have ${numClasses}; ` +
        `use groups over the feature set's label space`,
    );
  }
  const every = opts.checkpoint?.every;
  if (every !== undefined && !(Number.isInteger(every) && every >= 1)) {
    throw new RangeError(`Checkpoint interval must be a positive integer, got ${every}`);
  }
}

/** The features file of a run: `featuresPath`, else the path a file-backed source carries. */
function featuresName(opts: TrainOptions): string {
  const path = (opts.source as { path?: unknown }).path;
  return opts.featuresPath ?? (typeof path === "string" ? path : "the training features");
}

/** The one error of a run whose loss or weights stopped being finite (nothing is written). */
function diverged(opts: TrainOptions, what: string): DataError {
  return new DataError(
    `Head training on ${featuresName(opts)} diverged: ${what} ` +
      `(float32 overflow); the features are too large for this learning rate, ` +
      (opts.divergedHint ?? "rescale them or lower the learning rate"),
  );
}

/** The hash a checkpoint must carry to be resumed by this run: everything that shapes its steps. */
function trainConfigHash(opts: TrainOptions): Promise<string> {
  const layout = opts.layout;
  return configHash({
    kind: layout ? "group" : "flat",
    groups: layout?.groups ?? null,
    numClasses: opts.numClasses,
    rows: opts.source.rows,
    cols: opts.source.cols,
    labels: labelsHash(opts.labels),
    rule: opts.rule,
    seed: opts.seed,
    key: opts.checkpoint?.key ?? "",
  });
}

/**
 * The checkpoint this run resumes from, its losses copied into `losses`; null without a
 * checkpoint directory, without a matching checkpoint, or when it is past this run's last step.
 */
async function resumePoint(
  opts: TrainOptions,
  hash: string,
  numOutputs: number,
  losses: Float32Array,
): Promise<Checkpoint | null> {
  if (!opts.checkpoint) return null;
  const found = await readCheckpoint(opts.checkpoint.dir, {
    configHash: hash,
    numOutputs,
    dim: opts.source.cols,
  });
  if (!found || found.step > opts.rule.totalSteps) return null;
  losses.set(found.losses.subarray(0, found.step));
  return found;
}

/** Throws the divergence error when a weight or bias of the trained head is not finite. */
function checkFiniteState(
  opts: TrainOptions,
  s: { weight: Float32Array; bias: Float32Array },
  total: number,
): void {
  const badW = s.weight.findIndex((v) => v - v !== 0);
  const badB = s.bias.findIndex((v) => v - v !== 0);
  if (badW !== -1 || badB !== -1) {
    const what = badW !== -1
      ? `weight ${badW} is ${s.weight[badW]}`
      : `bias ${badB} is ${s.bias[badB]}`;
    throw diverged(opts, `after step ${total} ${what}`);
  }
}

/**
 * Trains a head; resolves to its weights. See the module doc for determinism and resume.
 *
 * @example
 * ```ts
 * import { groupLayout } from "../groups.ts";
 * import { readFeatureSet } from "../io/feature_set.ts";
 * import { hyperRule } from "./hyperrule.ts";
 * const { features, labels } = await readFeatureSet("data/features/bit-s-r101x1/imagenet_train");
 * declare const groups: number[][]; // class ids per group, e.g. the paper's 8 super-classes
 * const layout = groupLayout(groups, 1000);
 * const rule = hyperRule(labels.length);
 * const head = await trainHead({
 *   source: gatherSource(features), labels, numClasses: 1000, layout, rule, seed: 0,
 *   checkpoint: { dir: "results/heads/mos/.ckpt", every: 500 },
 * });
 * ```
 */
export async function trainHead(opts: TrainOptions): Promise<TrainResult> {
  validate(opts);
  const { source, labels, layout, rule, seed } = opts;
  const B = rule.batch;
  const D = source.cols;
  const O = layout ? layout.numOutputs : opts.numClasses;
  const total = rule.totalSteps;
  const shape: StepShape = { batch: B, dim: D, numOutputs: O, layout, mixup: rule.mixupAlpha > 0 };
  const hash = await trainConfigHash(opts);
  const losses = new Float32Array(total);
  const resumed = await resumePoint(opts, hash, O, losses);
  const start = resumed?.step ?? 0;
  const step: TrainStep = opts.engine === "reference"
    ? createReferenceStep(shape, resumed?.state)
    : await createOrtStep(shape, {
      threads: opts.threads,
      initial: resumed?.state,
      unroll: opts.unroll ?? DEFAULT_UNROLL,
    });
  try {
    const sampler = createBatchSampler(seed, source.rows, B);
    const idx = new Int32Array(B);
    const batches: StepBatch[] = step.xs.map(() => ({
      labels: new Int32Array(B),
      draw: { lam: 1, lamc: 0, perm: null },
      lr: 0,
    }));
    const every = opts.checkpoint?.every ?? Infinity;
    const save = (t: number) =>
      writeCheckpoint(opts.checkpoint!.dir, {
        step: t,
        configHash: hash,
        state: step.state(),
        losses,
      });
    for (let t = start; t < total;) {
      opts.signal?.throwIfAborted();
      // A run never crosses a checkpoint boundary, so checkpoints land on the same steps for any
      // unroll; step i's kernels are the same in a k-step and a 1-step graph.
      const m = Math.min(step.unroll, total - t, every - (t % every));
      for (let j = 0; j < m; j++) {
        const batch = batches[j];
        sampler.indices(t + j, idx);
        source.gather(idx, step.xs[j], t + j);
        for (let i = 0; i < B; i++) batch.labels[i] = labels[idx[i]];
        batch.draw = mixupDraw(seed, t + j, B, rule.mixupAlpha);
        batch.lr = learningRate(rule, t + j)!;
      }
      const out = await step.run(batches.slice(0, m));
      for (let j = 0; j < m; j++, t++) {
        const loss = out[j];
        // A non-finite weight makes the next step's loss non-finite, so this check also stops a
        // run whose weights overflowed; the last update is checked after the loop.
        if (!Number.isFinite(loss)) throw diverged(opts, `the loss of step ${t + 1} is ${loss}`);
        losses[t] = loss;
        opts.onProgress?.(t + 1, total, loss);
        // Stop reporting at once; later steps of this run are discarded with the rest.
        opts.signal?.throwIfAborted();
      }
      if (opts.checkpoint && t % every === 0 && t < total) await save(t);
    }
    const s = step.state();
    // The last update has no next loss to reveal an overflow: check its weights once (O x D).
    checkFiniteState(opts, s, total);
    if (opts.checkpoint && start < total) await save(total);
    return {
      weight: matrix(O, D, s.weight),
      bias: s.bias,
      finalLoss: total > 0 ? losses[total - 1] : NaN,
      steps: total,
      lossHistory: losses,
      resumedFrom: start,
    };
  } finally {
    await step.release();
  }
}

/**
 * Top-1 accuracy of a head on labelled features (rows labelled -1 are skipped): argmax of the
 * logits for a flat head, the paper's group prediction (`groupPredict`) for a group head.
 * Logits come from onnxruntime in chunks (lib/ort/linear.ts).
 */
export async function evaluateAccuracy(
  weight: Matrix,
  bias: Float32Array,
  layout: GroupLayout | null,
  features: Matrix,
  labels: Int32Array,
  threads?: number,
): Promise<number> {
  if (labels.length !== features.rows) {
    throw new DataError(
      `Evaluation labels have ${labels.length} entries but the features have ${features.rows} ` +
        `rows; use labels.npy and features.npy from the same feature set`,
    );
  }
  let correct = 0;
  let counted = 0;
  await forEachLogitsChunk(matrixSource(features), weight, bias, (start, logits) => {
    const pred = layout ? groupPredict(layout, logits).classes : argmaxRows(logits);
    for (let i = 0; i < logits.rows; i++) {
      const y = labels[start + i];
      if (y < 0) continue;
      counted++;
      if (pred[i] === y) correct++;
    }
  }, { threads });
  return counted > 0 ? correct / counted : NaN;
}
