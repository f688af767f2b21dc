/**
 * AUPR-In and AUPR-Out in the two conventions of ./convention.ts.
 *
 * **paper** (default): average precision, `sklearn.metrics.average_precision_score` semantics
 * (what the released MOS code's `get_measures` reports): `AP = sum_n (R_n - R_{n-1}) P_n` over
 * the distinct thresholds in descending order, R_{-1} = 0, a step function (no interpolation).
 *
 * **openood**: OpenOOD v1.5's `auc(recall, precision)` of `precision_recall_curve` (default
 * `drop_intermediate=False`): the curve points are (R_n, P_n) for every distinct threshold plus
 * the point (recall 0, precision 1) that sklearn appends, and the area is the trapezoid rule
 * over them, `sum_n (R_n - R_{n-1}) (P_n + P_{n-1}) / 2` with (R_{-1}, P_{-1}) = (0, 1). Curve
 * points at full recall, which older sklearn versions drop, add zero-width trapezoids, so the
 * area does not depend on the sklearn version.
 *
 * In both, ties form one threshold, and:
 * - AUPR-In: ID positive, score as is (`average_precision_score(labels, scores)`,
 *   `precision_recall_curve(1 - ood_indicator, conf)`); the paper's Table 3 "AUPR".
 * - AUPR-Out: OOD positive, score negated (`average_precision_score(1 - labels, -scores)`,
 *   `precision_recall_curve(ood_indicator, -conf)`).
 *
 * @module
 */
import { type ScoreCurve, scoreCurve, type Scores } from "./auroc.ts";
import { type MetricsConvention, metricsConvention } from "./convention.ts";

/** AUPR-In (ID positive) from a prepared {@linkcode scoreCurve}. */
export function auprInFromCurve(curve: ScoreCurve): number {
  let tp = 0;
  let fp = 0;
  let ap = 0;
  for (let g = 0; g < curve.length; g++) {
    const ni = curve.idCount[g];
    tp += ni;
    fp += curve.oodCount[g];
    if (ni !== 0) ap += ni * (tp / (tp + fp));
  }
  // Recall steps are ni / numId; dividing once at the end keeps a perfect ranking exactly 1.
  return ap / curve.numId;
}

/** AUPR-Out (OOD positive on -score) from a prepared {@linkcode scoreCurve}. */
export function auprOutFromCurve(curve: ScoreCurve): number {
  // Descending -score = ascending score: walk the groups from the bottom.
  let tp = 0;
  let fp = 0;
  let ap = 0;
  for (let g = curve.length - 1; g >= 0; g--) {
    const no = curve.oodCount[g];
    tp += no;
    fp += curve.idCount[g];
    if (no !== 0) ap += no * (tp / (tp + fp));
  }
  return ap / curve.numOod;
}

/**
 * Trapezoid area under the precision-recall curve (OpenOOD's `auc(recall, precision)`) of the
 * per-group positive counts `pos` and negative counts `neg`, walked from the highest ranking
 * score down: from group 0 on, or from the last group back when `fromEnd` (the ranking score is
 * then the negated curve score); `numPos` positives in all.
 */
function trapezoidArea(
  pos: Float64Array,
  neg: Float64Array,
  numPos: number,
  fromEnd: boolean,
): number {
  const G = pos.length;
  let tp = 0;
  let fp = 0;
  // sklearn's appended point: recall 0, precision 1.
  let prevRecall = 0;
  let prevPrecision = 1;
  let area = 0;
  for (let k = 0; k < G; k++) {
    const g = fromEnd ? G - 1 - k : k;
    tp += pos[g];
    fp += neg[g];
    // recall = tps / tps[-1] and precision = tps / (tps + fps), as sklearn computes them.
    const recall = tp / numPos;
    const precision = tp / (tp + fp);
    area += (recall - prevRecall) * (precision + prevPrecision) / 2;
    prevRecall = recall;
    prevPrecision = precision;
  }
  return area;
}

/** AUPR-In as OpenOOD computes it (trapezoid rule) from a prepared {@linkcode scoreCurve}. */
export function auprInTrapezoidFromCurve(curve: ScoreCurve): number {
  return trapezoidArea(curve.idCount, curve.oodCount, curve.numId, false);
}

/** AUPR-Out as OpenOOD computes it (trapezoid rule, OOD positive on -score). */
export function auprOutTrapezoidFromCurve(curve: ScoreCurve): number {
  // Descending -score = ascending score: walk the groups from the bottom.
  return trapezoidArea(curve.oodCount, curve.idCount, curve.numOod, true);
}

/** AUPR-In of `convention` on a prepared {@linkcode scoreCurve}. */
export function auprInFromCurveAs(curve: ScoreCurve, convention: MetricsConvention): number {
  return convention === "openood" ? auprInTrapezoidFromCurve(curve) : auprInFromCurve(curve);
}

/** AUPR-Out of `convention` on a prepared {@linkcode scoreCurve}. */
export function auprOutFromCurveAs(curve: ScoreCurve, convention: MetricsConvention): number {
  return convention === "openood" ? auprOutTrapezoidFromCurve(curve) : auprOutFromCurve(curve);
}

/**
 * AUPR with ID as the positive class (AUPR-In), a fraction in [0, 1]: average precision under
 * the paper convention (default), the trapezoid area under OpenOOD's. An unknown convention is a
 * UsageError.
 *
 * @example
 * ```ts
 * auprIn(new Float32Array([3, 1]), new Float32Array([2])); // 0.5 * 1 + 0.5 * 2/3 = 0.8333
 * auprIn(new Float32Array([3, 1]), new Float32Array([2]), "openood"); // 0.5 + 7/24 = 0.7917
 * ```
 */
export function auprIn(id: Scores, ood: Scores, convention: MetricsConvention = "paper"): number {
  const c = metricsConvention(convention);
  return auprInFromCurveAs(scoreCurve(id, ood), c);
}

/** AUPR with OOD as the positive class on negated scores (AUPR-Out); see {@linkcode auprIn}. */
export function auprOut(id: Scores, ood: Scores, convention: MetricsConvention = "paper"): number {
  const c = metricsConvention(convention);
  return auprOutFromCurveAs(scoreCurve(id, ood), c);
}
