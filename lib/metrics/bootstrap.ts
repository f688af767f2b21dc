/**
 * Bootstrap confidence intervals of AUROC, FPR95, AUPR-In and AUPR-Out, in either metrics
 * convention (./convention.ts; the resamples use the same rules as the point estimate).
 *
 * Resampling: the ID scores and the OOD scores are resampled separately (each with replacement,
 * each keeping its size), as two independent samples should be; a joint resample would let the
 * ID / OOD ratio drift, which moves AUPR. The interval is the percentile interval of the
 * resampled statistics (numpy's default "linear" quantile: position q (B - 1) between order
 * statistics).
 *
 * Paired by construction: the ID rows of resample b are drawn by sample index from their own
 * stream, `createRng(seed)`, and the OOD rows from another, `createRng(oodSeed)`. So every
 * detector scored on the same ID set, and every OOD set evaluated against it, sees the same ID
 * rows in resample b; averaging resample b across OOD sets ({@linkcode averageDistributions})
 * is then a valid bootstrap of the paper's "Average" column (give each OOD set its own
 * `oodSeed`).
 *
 * Cost. The scores are sorted once ({@linkcode scoreCurve}) and each sample is mapped to its tie
 * group; a resample only changes how many copies of each group there are, so each resample draws
 * n + m indices, adds them up per group (a multinomial count vector) and runs the same O(G)
 * sweeps as `evaluate`: O(n + m) per resample, no sorting.
 *
 * @module
 */
import { createRng } from "../random.ts";
import { auprInFromCurveAs, auprOutFromCurveAs } from "./aupr.ts";
import { aurocFromCurve, type ScoreCurve, scoreCurve, type Scores } from "./auroc.ts";
import { type MetricsConvention, metricsConvention } from "./convention.ts";
import type { DetectionMetrics } from "./evaluate.ts";
import { evaluate } from "./evaluate.ts";
import { fpr95FromCurve } from "./fpr95.ts";

/** Default number of bootstrap resamples. */
export const DEFAULT_RESAMPLES = 1000;

/** Default confidence level of the intervals. */
export const DEFAULT_LEVEL = 0.95;

/** Options of {@linkcode bootstrapMetrics} and {@linkcode bootstrapDistribution}. */
export interface BootstrapOptions {
  /** Resamples (default 1000). */
  resamples?: number;
  /** Seed of the ID resampling stream (default 0). */
  seed?: number;
  /** Seed of the OOD resampling stream (default `seed + 1`). */
  oodSeed?: number;
  /** Confidence level in (0, 1) (default 0.95). */
  level?: number;
  /** Metrics convention of FPR95 and AUPR, as `evaluate`'s (default "paper"). */
  fprConvention?: MetricsConvention;
}

/** A two-sided interval, fractions like the metrics. */
export interface Interval {
  /** Lower bound, the (1 - level) / 2 quantile of the resampled metric. */
  low: number;
  /** Upper bound, the (1 + level) / 2 quantile of the resampled metric. */
  high: number;
}

/** Intervals of the four metrics. */
export interface MetricIntervals {
  /** Interval of AUROC (ID as the positive class). */
  auroc: Interval;
  /** Interval of the FPR of OOD samples at 95% TPR of ID samples (lower is better). */
  fpr95: Interval;
  /** Interval of AUPR-In (ID as the positive class). */
  auprIn: Interval;
  /** Interval of AUPR-Out (OOD as the positive class, scores negated). */
  auprOut: Interval;
}

/** Point estimates (on the full data), their intervals and how they were made. */
export interface BootstrapResult {
  /** The four metrics on the full, unresampled scores, fractions in [0, 1]. */
  estimate: DetectionMetrics;
  /** Percentile intervals of the four metrics at `level`. */
  ci: MetricIntervals;
  /** Bootstrap resamples drawn. */
  resamples: number;
  /** Confidence level of the intervals, in (0, 1). */
  level: number;
  /** Seed of the ID resampling stream. */
  seed: number;
  /** Seed of the OOD resampling stream. */
  oodSeed: number;
}

/** Every resample's four metrics, in draw order. */
export interface BootstrapDistribution {
  /** AUROC of each resample, fractions in [0, 1]. */
  auroc: Float64Array;
  /** FPR95 of each resample, fractions in [0, 1]. */
  fpr95: Float64Array;
  /** AUPR-In of each resample, fractions in [0, 1]. */
  auprIn: Float64Array;
  /** AUPR-Out of each resample, fractions in [0, 1]. */
  auprOut: Float64Array;
}

function checkOptions(o: BootstrapOptions): Required<BootstrapOptions> {
  const resamples = o.resamples ?? DEFAULT_RESAMPLES;
  const level = o.level ?? DEFAULT_LEVEL;
  const seed = o.seed ?? 0;
  const oodSeed = o.oodSeed ?? seed + 1;
  if (!Number.isInteger(resamples) || resamples < 1) {
    throw new RangeError(`Bootstrap resamples must be a positive integer, got ${resamples}`);
  }
  if (!(level > 0 && level < 1)) {
    throw new RangeError(`Bootstrap level must be in (0, 1), got ${level}`);
  }
  return { resamples, level, seed, oodSeed, fprConvention: metricsConvention(o.fprConvention) };
}

/** For each sample, the index of its tie group in the descending `values` (binary search). */
function groupOfSample(scores: Scores, values: Float64Array): Int32Array {
  const out = new Int32Array(scores.length);
  for (let i = 0; i < scores.length; i++) {
    const v = scores[i];
    let lo = 0;
    let hi = values.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (values[mid] > v) lo = mid + 1;
      else hi = mid;
    }
    out[i] = lo;
  }
  return out;
}

/**
 * The four metrics of every bootstrap resample (see the module doc). Inputs are validated as by
 * `evaluate` (empty or non-finite scores are a `DataError`).
 */
export function bootstrapDistribution(
  id: Scores,
  ood: Scores,
  options: BootstrapOptions = {},
): BootstrapDistribution {
  const o = checkOptions(options);
  const base = scoreCurve(id, ood);
  const G = base.length;
  const n = base.numId;
  const m = base.numOod;
  const idGroup = groupOfSample(id, base.values);
  const oodGroup = groupOfSample(ood, base.values);
  const idRng = createRng(o.seed);
  const oodRng = createRng(o.oodSeed);
  const idRaw = new Float64Array(G);
  const oodRaw = new Float64Array(G);
  // Groups that a resample leaves empty on both sides are dropped, so the curve handed to the
  // metric sweeps is exactly the tie-grouped curve of the resampled scores.
  const idCount = new Float64Array(G);
  const oodCount = new Float64Array(G);
  const values = new Float64Array(G);
  const out: BootstrapDistribution = {
    auroc: new Float64Array(o.resamples),
    fpr95: new Float64Array(o.resamples),
    auprIn: new Float64Array(o.resamples),
    auprOut: new Float64Array(o.resamples),
  };
  const convention = o.fprConvention;
  for (let b = 0; b < o.resamples; b++) {
    idRaw.fill(0);
    oodRaw.fill(0);
    for (let k = 0; k < n; k++) idRaw[idGroup[idRng.int(n)]]++;
    for (let k = 0; k < m; k++) oodRaw[oodGroup[oodRng.int(m)]]++;
    let len = 0;
    for (let g = 0; g < G; g++) {
      if (idRaw[g] === 0 && oodRaw[g] === 0) continue;
      idCount[len] = idRaw[g];
      oodCount[len] = oodRaw[g];
      values[len] = base.values[g];
      len++;
    }
    const curve: ScoreCurve = {
      length: len,
      values: values.subarray(0, len),
      idCount: idCount.subarray(0, len),
      oodCount: oodCount.subarray(0, len),
      numId: n,
      numOod: m,
    };
    out.auroc[b] = aurocFromCurve(curve);
    out.fpr95[b] = fpr95FromCurve(curve, convention);
    out.auprIn[b] = auprInFromCurveAs(curve, convention);
    out.auprOut[b] = auprOutFromCurveAs(curve, convention);
  }
  return out;
}

/**
 * The `q` quantile of `values` by linear interpolation between order statistics at position
 * `q (B - 1)` (numpy's default method). `values` is not modified.
 */
export function quantile(values: ArrayLike<number>, q: number): number {
  if (values.length === 0) throw new RangeError("quantile of an empty array");
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile q must be in [0, 1], got ${q}`);
  const s = Float64Array.from(values).sort();
  const pos = q * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, s.length - 1);
  const t = pos - lo;
  return t === 0 ? s[lo] : s[lo] + t * (s[hi] - s[lo]);
}

/** Percentile interval at `level` (e.g. 0.95: the 2.5% and 97.5% quantiles) of `values`. */
export function percentileInterval(values: ArrayLike<number>, level = DEFAULT_LEVEL): Interval {
  const a = (1 - level) / 2;
  return { low: quantile(values, a), high: quantile(values, 1 - a) };
}

/**
 * Point metrics of (`id`, `ood`) and their seeded bootstrap percentile intervals.
 *
 * @example
 * ```ts
 * const idScores = new Float32Array([0.9, 0.8, 0.75, 0.6]); // higher = more in-distribution
 * const oodScores = new Float32Array([0.7, 0.4, 0.3, 0.2]);
 * const r = bootstrapMetrics(idScores, oodScores, { seed: 0 }); // 1,000 resamples, 95%
 * console.log(r.estimate.auroc, r.ci.auroc.low, r.ci.auroc.high);
 * ```
 */
export function bootstrapMetrics(
  id: Scores,
  ood: Scores,
  options: BootstrapOptions = {},
): BootstrapResult {
  const o = checkOptions(options);
  const estimate = evaluate(id, ood, { fprConvention: o.fprConvention });
  const d = bootstrapDistribution(id, ood, o);
  return {
    estimate,
    ci: distributionIntervals(d, o.level),
    resamples: o.resamples,
    level: o.level,
    seed: o.seed,
    oodSeed: o.oodSeed,
  };
}

/**
 * Element-wise mean of bootstrap distributions of equal length: resample b of the result is the
 * mean of resample b of each input (for the "Average" column; see the module doc on pairing).
 */
export function averageDistributions(
  dists: readonly BootstrapDistribution[],
): BootstrapDistribution {
  if (dists.length === 0) throw new RangeError("averageDistributions needs at least one input");
  const B = dists[0].auroc.length;
  const out: BootstrapDistribution = {
    auroc: new Float64Array(B),
    fpr95: new Float64Array(B),
    auprIn: new Float64Array(B),
    auprOut: new Float64Array(B),
  };
  for (const d of dists) {
    if (d.auroc.length !== B) {
      throw new RangeError(`distributions differ in length: ${d.auroc.length} vs ${B}`);
    }
    for (const k of ["auroc", "fpr95", "auprIn", "auprOut"] as const) {
      for (let b = 0; b < B; b++) out[k][b] += d[k][b] / dists.length;
    }
  }
  return out;
}

/** Percentile intervals of the four metrics of a distribution. */
export function distributionIntervals(
  d: BootstrapDistribution,
  level = DEFAULT_LEVEL,
): MetricIntervals {
  return {
    auroc: percentileInterval(d.auroc, level),
    fpr95: percentileInterval(d.fpr95, level),
    auprIn: percentileInterval(d.auprIn, level),
    auprOut: percentileInterval(d.auprOut, level),
  };
}

/** One metric of one method on one OOD set with its interval, in percent (for `--ci` outputs). */
export interface IntervalRow {
  /** Method key, as in metrics.csv. */
  method: string;
  /** OOD set name. */
  dataset: string;
  /** Which metric, named as the metrics.csv column. */
  metric: "auroc" | "fpr95" | "aupr_in" | "aupr_out";
  /** Point estimate on the full scores, in percent. */
  estimate: number;
  /** Lower bound of the interval, in percent. */
  low: number;
  /** Upper bound of the interval, in percent. */
  high: number;
}

/**
 * Intervals of every (method, OOD set) pair of a score map (method -> dataset -> scores, as
 * `scoreSets` returns), in percent. The ID rows are resampled with `seed` for every pair and OOD
 * set k (in `oodNames` order) with `seed + 1 + k`, so resample b is paired across methods and
 * sets (see the module doc). Rows come method by method, set by set, in metrics.csv metric order.
 */
export function scoreMapIntervals(
  scores: ReadonlyMap<string, ReadonlyMap<string, Scores>>,
  idName: string,
  oodNames: readonly string[],
  options: BootstrapOptions = {},
): IntervalRow[] {
  const o = checkOptions(options);
  const rows: IntervalRow[] = [];
  for (const [method, per] of scores) {
    const id = per.get(idName);
    if (!id) throw new RangeError(`method ${method} has no scores for the ID set ${idName}`);
    oodNames.forEach((dataset, k) => {
      const ood = per.get(dataset);
      if (!ood) throw new RangeError(`method ${method} has no scores for ${dataset}`);
      const r = bootstrapMetrics(id, ood, { ...o, oodSeed: o.seed + 1 + k });
      const pairs = [
        ["auroc", r.estimate.auroc, r.ci.auroc],
        ["fpr95", r.estimate.fpr95, r.ci.fpr95],
        ["aupr_in", r.estimate.auprIn, r.ci.auprIn],
        ["aupr_out", r.estimate.auprOut, r.ci.auprOut],
      ] as const;
      for (const [metric, est, iv] of pairs) {
        rows.push({
          method,
          dataset,
          metric,
          estimate: 100 * est,
          low: 100 * iv.low,
          high: 100 * iv.high,
        });
      }
    });
  }
  return rows;
}
