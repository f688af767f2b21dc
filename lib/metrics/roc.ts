/**
 * ROC points of ID (positive) vs OOD scores: the curve behind AUROC, thinned for drawing
 * (Figure 11, the report's curves).
 *
 * @module
 */
import { type ScoreCurve, scoreCurve, type Scores } from "./auroc.ts";

/** A ROC curve as fractions in [0, 1], from (0, 0) to (1, 1), FPR non-decreasing. */
export interface RocCurve {
  /** False-positive rates: fraction of OOD samples accepted as ID at each threshold. */
  fpr: number[];
  /** True-positive rates: fraction of ID samples accepted (ID is the positive class). */
  tpr: number[];
}

/**
 * The ROC curve of ID (positive) vs OOD scores, higher = more ID: one vertex per distinct score
 * (ties form one step, as in sklearn's `roc_curve`), thinned to at most about `maxPoints`
 * vertices by keeping a vertex only when it moved at least `1 / maxPoints` in FPR or TPR from the
 * last kept one (the first and last vertices are always kept), so the drawn shape is unchanged at
 * plotting resolution.
 */
export function rocPoints(id: Scores, ood: Scores, maxPoints = 200): RocCurve {
  return rocFromCurve(scoreCurve(id, ood), maxPoints);
}

/** {@linkcode rocPoints} from a prepared {@linkcode scoreCurve}, so one sort can serve several curves. */
export function rocFromCurve(c: ScoreCurve, maxPoints = 200): RocCurve {
  if (!Number.isInteger(maxPoints) || maxPoints < 2) {
    throw new RangeError(`maxPoints must be an integer >= 2, got ${maxPoints}`);
  }
  const fpr = [0];
  const tpr = [0];
  const step = 1 / maxPoints;
  let ni = 0;
  let no = 0;
  for (let g = 0; g < c.length; g++) {
    ni += c.idCount[g];
    no += c.oodCount[g];
    const f = no / c.numOod;
    const t = ni / c.numId;
    const last = g === c.length - 1;
    if (
      last || f - fpr[fpr.length - 1] >= step || t - tpr[tpr.length - 1] >= step
    ) {
      fpr.push(f);
      tpr.push(t);
    }
  }
  return { fpr, tpr };
}
