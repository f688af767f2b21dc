/**
 * What the report draws from two score arrays (ID and one OOD set, higher = more ID): the
 * precision-recall curve with ID as the positive class (the curve whose area is Table 3's
 * AUPR-In) and a histogram of both sets on shared bins. The ROC curve is
 * {@linkcode rocPoints} of lib/figures/roc_curves.ts; all three come from the one sorted sweep of
 * lib/metrics/auroc.ts ({@linkcode scoreCurve}), so a curve and the table's metric never disagree
 * about ties.
 *
 * @module
 */
import { type RocCurve, rocFromCurve } from "../metrics/roc.ts";
import { aurocFromCurve, type ScoreCurve, scoreCurve, type Scores } from "../metrics/auroc.ts";

/** A precision-recall curve as fractions in [0, 1]; recall non-decreasing. */
export interface PrCurve {
  recall: number[];
  precision: number[];
}

/**
 * The precision-recall curve of ID (positive) vs OOD: one vertex per distinct score, descending
 * (ties form one threshold, as in sklearn's `precision_recall_curve`), starting at the highest
 * threshold. Thinned like `rocPoints`: a vertex is kept when recall or precision moved at least
 * `1 / maxPoints` since the last kept one; the first and last vertices are always kept.
 */
export function prPoints(id: Scores, ood: Scores, maxPoints = 200): PrCurve {
  return prFromCurve(scoreCurve(id, ood), maxPoints);
}

function checkMaxPoints(maxPoints: number): void {
  if (!Number.isInteger(maxPoints) || maxPoints < 2) {
    throw new RangeError(`maxPoints must be an integer >= 2, got ${maxPoints}`);
  }
}

/** {@linkcode prPoints} from a prepared {@linkcode scoreCurve}. */
export function prFromCurve(c: ScoreCurve, maxPoints = 200): PrCurve {
  checkMaxPoints(maxPoints);
  const recall: number[] = [];
  const precision: number[] = [];
  const step = 1 / maxPoints;
  let tp = 0;
  let fp = 0;
  for (let g = 0; g < c.length; g++) {
    tp += c.idCount[g];
    fp += c.oodCount[g];
    const r = tp / c.numId;
    const p = tp / (tp + fp);
    const n = recall.length;
    if (
      n === 0 || g === c.length - 1 ||
      r - recall[n - 1] >= step || Math.abs(p - precision[n - 1]) >= step
    ) {
      recall.push(r);
      precision.push(p);
    }
  }
  return { recall, precision };
}

/** ROC and PR curves and the AUROC (a fraction) of ID vs OOD, from one sorted sweep. */
export function curvesOf(
  id: Scores,
  ood: Scores,
  maxPoints = 200,
): { roc: RocCurve; pr: PrCurve; auroc: number } {
  const c = scoreCurve(id, ood);
  return {
    roc: rocFromCurve(c, maxPoints),
    pr: prFromCurve(c, maxPoints),
    auroc: aurocFromCurve(c),
  };
}

/** Histogram of one score array on shared bins. */
export interface Histogram {
  /** Bin edges, `bins + 1` ascending values. */
  edges: number[];
  /** Fraction of the array's samples in each bin (sums to 1). */
  fraction: number[];
}

/** Shared bins of several score arrays (see {@linkcode histogramRange}). */
export interface HistogramRange {
  lo: number;
  hi: number;
  /** Samples below `lo` or above `hi`, counted in the end bins. */
  clipped: number;
}

/**
 * Value at quantile `q` in [0, 1] of the sorted `values` (linear interpolation between order
 * statistics, numpy's default).
 */
export function quantileSorted(values: Float64Array, q: number): number {
  if (values.length === 0) throw new RangeError("quantile of an empty array");
  const pos = q * (values.length - 1);
  const i = Math.floor(pos);
  const f = pos - i;
  return i + 1 < values.length ? values[i] + f * (values[i + 1] - values[i]) : values[i];
}

/**
 * The range every histogram of a method shares: the pooled minimum to maximum of all given
 * arrays, unless that is more than 1.5 times as wide as the `tail` to `1 - tail` quantile range
 * (a long tail, as Mahalanobis distances and the MSP of 1000 classes have): then the quantile range, so one extreme score cannot
 * squeeze the rest into one bin, and `clipped` counts the samples left outside. A range of zero
 * width (all scores equal) is widened to +-0.5 around the value so the bars still have a width.
 */
export function histogramRange(arrays: readonly Scores[], tail = 0.005): HistogramRange {
  let n = 0;
  for (const a of arrays) n += a.length;
  if (n === 0) throw new RangeError("histogramRange needs at least one score");
  const pooled = new Float64Array(n);
  let o = 0;
  for (const a of arrays) {
    pooled.set(a, o);
    o += a.length;
  }
  pooled.sort();
  let lo = pooled[0];
  let hi = pooled[n - 1];
  const qlo = quantileSorted(pooled, tail);
  const qhi = quantileSorted(pooled, 1 - tail);
  if (hi - lo > 1.5 * (qhi - qlo)) {
    lo = qlo;
    hi = qhi;
  }
  if (!(hi > lo)) {
    lo -= 0.5;
    hi += 0.5;
  }
  let clipped = 0;
  for (let i = 0; i < n; i++) if (pooled[i] < lo || pooled[i] > hi) clipped++;
  return { lo, hi, clipped };
}

/**
 * Fraction of `scores` in each of `bins` equal-width bins over `[range.lo, range.hi]`; samples
 * outside the range count in the first or last bin. The last bin is closed on the right.
 */
export function histogram(scores: Scores, range: HistogramRange, bins = 40): Histogram {
  if (!Number.isInteger(bins) || bins < 1) {
    throw new RangeError(`bins must be a positive integer, got ${bins}`);
  }
  if (scores.length === 0) throw new RangeError("histogram of an empty score array");
  const { lo, hi } = range;
  const width = (hi - lo) / bins;
  const counts = new Float64Array(bins);
  for (let i = 0; i < scores.length; i++) {
    let b = Math.floor((scores[i] - lo) / width);
    if (b < 0) b = 0;
    if (b >= bins) b = bins - 1;
    counts[b]++;
  }
  const edges = Array.from({ length: bins + 1 }, (_, i) => i === bins ? hi : lo + i * width);
  return { edges, fraction: Array.from(counts, (c) => c / scores.length) };
}

/**
 * Drops the vertices of a polyline that lie inside a horizontal or vertical run (same x as both
 * neighbours, or same y as both): the drawn line is unchanged, and a ROC curve's long vertical
 * and horizontal stretches shrink to their two ends. Returns the indices kept.
 */
export function keepCorners(xs: readonly number[], ys: readonly number[]): number[] {
  const keep: number[] = [];
  for (let i = 0; i < xs.length; i++) {
    const inner = i > 0 && i < xs.length - 1;
    const vertical = inner && xs[i - 1] === xs[i] && xs[i] === xs[i + 1];
    const horizontal = inner && ys[i - 1] === ys[i] && ys[i] === ys[i + 1];
    if (!vertical && !horizontal) keep.push(i);
  }
  return keep;
}
