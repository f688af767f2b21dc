/**
 * BiT-HyperRule, the head-training schedule the MOS code ran (google-research/big_transfer
 * `bit_hyperrule.py`, copied into deeplearning-wisc/large_scale_ood `utils/finetune_utils.py`).
 *
 * Step semantics, reproduced exactly from BiT's `get_lr(step, dataset_size, base_lr)`:
 * - steps are numbered from 0; the update of step `t` uses `learningRate(rule, t)`;
 * - warm-up: `lr = base * t / supports[0]` for `t < supports[0]`, so step 0 runs with lr = 0
 *   (the momentum buffer still takes that step's gradient);
 * - decay: for `t >= supports[0]`, `base` is divided by 10 once for every later support `s` with
 *   `s < t` (strictly), so the step equal to a boundary still uses the old rate and the next step
 *   the new one;
 * - training stops before step `supports[last]`: `learningRate` returns `null` there and after.
 *
 * @module
 */
import { UsageError } from "../errors.ts";

/** The schedule and hyperparameters of one head-training run. */
export interface HyperRule {
  /** [warm-up length, decay boundaries..., total steps], increasing (ties allowed after scaling). */
  supports: number[];
  /** Number of optimisation steps (= last support). */
  totalSteps: number;
  /** Linear warm-up length in steps (= first support). */
  warmup: number;
  /** Peak learning rate (0.003 x batch / 512 unless overridden). */
  baseLr: number;
  /** Batch size. */
  batch: number;
  /** Mixup Beta(alpha, alpha) parameter; 0 disables mixup. */
  mixupAlpha: number;
}

/** Optional overrides of {@linkcode hyperRule}; omitted fields follow BiT-HyperRule. */
export interface HyperRuleOverrides {
  /**
   * Total steps. The schedule's supports are scaled by `steps / defaultTotal` and rounded to
   * integers (the last becomes exactly `steps`), so warm-up and decays keep their relative place:
   * e.g. 1000 steps on >= 500k images gives supports [25, 300, 600, 900, 1000].
   */
  steps?: number;
  /** Warm-up length in steps (applied after the `steps` scaling); must not exceed the total. */
  warmup?: number;
  /** Peak learning rate; default 0.003 x batch / 512. */
  lr?: number;
  /** Mixup alpha; default 0.1 for >= 20k images, else 0. */
  mixupAlpha?: number;
  /** Batch size; default 512. */
  batch?: number;
}

/** BiT's default schedule for a training set of `datasetSize` images. */
export function defaultSupports(datasetSize: number): number[] {
  if (datasetSize < 20_000) return [100, 200, 300, 400, 500];
  if (datasetSize < 500_000) return [500, 3000, 6000, 9000, 10_000];
  return [500, 6000, 12_000, 18_000, 20_000];
}

function checkInt(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) {
    throw new UsageError(`Training override ${name} = ${v} is invalid; give an integer >= ${min}`);
  }
}

/**
 * The BiT-HyperRule for a training set of `datasetSize` examples, with optional overrides.
 *
 * @example
 * ```ts
 * const rule = hyperRule(1_281_167); // supports [500, 6000, 12000, 18000, 20000], lr 0.003
 * const quick = hyperRule(1_281_167, { steps: 2000, batch: 256 });
 * ```
 */
export function hyperRule(datasetSize: number, overrides: HyperRuleOverrides = {}): HyperRule {
  if (!Number.isInteger(datasetSize) || datasetSize < 1) {
    throw new RangeError(`Dataset size must be a positive integer, got ${datasetSize}`);
  }
  const batch = overrides.batch ?? 512;
  checkInt("batch", batch, 1);
  let supports = defaultSupports(datasetSize);
  if (overrides.steps !== undefined) {
    checkInt("steps", overrides.steps, 1);
    const total = overrides.steps;
    const last = supports[supports.length - 1];
    supports = supports.map((s, i) =>
      i === supports.length - 1 ? total : Math.min(total, Math.round((s * total) / last))
    );
  }
  const totalSteps = supports[supports.length - 1];
  if (overrides.warmup !== undefined) {
    checkInt("warmup", overrides.warmup, 0);
    if (overrides.warmup > totalSteps) {
      throw new UsageError(
        `Training override warmup = ${overrides.warmup} exceeds the ${totalSteps} training steps; ` +
          `give a shorter warm-up or more steps`,
      );
    }
    supports[0] = overrides.warmup;
    // Keep the supports non-decreasing: a decay boundary inside the new warm-up moves to its end.
    for (let i = 1; i < supports.length; i++) supports[i] = Math.max(supports[i], supports[0]);
  }
  const baseLr = overrides.lr ?? 0.003 * batch / 512;
  if (!(Number.isFinite(baseLr) && baseLr > 0)) {
    throw new UsageError(`Training override lr = ${overrides.lr} is invalid; give a number > 0`);
  }
  const mixupAlpha = overrides.mixupAlpha ?? (datasetSize < 20_000 ? 0 : 0.1);
  if (!(Number.isFinite(mixupAlpha) && mixupAlpha >= 0)) {
    throw new UsageError(
      `Training override mixup alpha = ${overrides.mixupAlpha} is invalid; give a number >= 0 ` +
        `(0 disables mixup)`,
    );
  }
  return { supports, totalSteps, warmup: supports[0], baseLr, batch, mixupAlpha };
}

/**
 * Learning rate of step `step` (0-based), or `null` once training is over (`step >= totalSteps`).
 * Same arithmetic as BiT's `get_lr`, including the repeated division by 10.
 */
export function learningRate(rule: HyperRule, step: number): number | null {
  const s = rule.supports;
  if (step < s[0]) return rule.baseLr * step / s[0];
  if (step >= s[s.length - 1]) return null;
  let lr = rule.baseLr;
  for (let i = 1; i < s.length; i++) if (s[i] < step) lr /= 10;
  return lr;
}
