/**
 * AUPR as average precision, `sklearn.metrics.average_precision_score` semantics (what the
 * released MOS code's `get_measures` reports): `AP = sum_n (R_n - R_{n-1}) P_n` over the distinct
 * thresholds in descending order, R_{-1} = 0, a step function (no interpolation). Ties form one
 * threshold.
 *
 * - AUPR-In: ID positive, score as is (`average_precision_score(labels, scores)`); the paper's
 *   Table 3 "AUPR".
 * - AUPR-Out: OOD positive, score negated (`average_precision_score(1 - labels, -scores)`).
 *
 * @module
 */
import { type ScoreCurve, scoreCurve, type Scores } from "./auroc.ts";

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
 * Average precision with ID as the positive class (AUPR-In), a fraction in [0, 1].
 *
 * @example
 * ```ts
 * auprIn(new Float32Array([3, 1]), new Float32Array([2])); // 0.5 * 1 + 0.5 * 2/3 = 0.8333
 * ```
 */
export function auprIn(id: Scores, ood: Scores): number {
  return auprInFromCurve(scoreCurve(id, ood));
}

/** Average precision with OOD as the positive class on negated scores (AUPR-Out). */
export function auprOut(id: Scores, ood: Scores): number {
  return auprOutFromCurve(scoreCurve(id, ood));
}
