/**
 * FPR at 95% TPR, in the two conventions OOD papers use (./convention.ts pairs each with its AUPR).
 *
 * **paper** (default): the Outlier-Exposure `fpr_and_fdr_at_recall(labels, scores, 0.95)` that the
 * released MOS code calls from `get_measures` (`utils/test_utils.py` of
 * deeplearning-wisc/large_scale_ood, identical to `utils/display_results.py` of
 * hendrycks/outlier-exposure). ID is the positive class, the score is used as is. Step by step:
 * 1. sort descending; for every distinct score value (a tie group) take its last position `idx`:
 *    `tps` = ID samples at or above it, `fps = 1 + idx - tps` = OOD samples at or above it;
 * 2. `recall = tps / tps[-1]` (float64);
 * 3. `last_ind` = the first group where `tps` reaches its final value (`searchsorted`, left);
 * 4. keep groups `last_ind, last_ind - 1, ..., 0` (REVERSED), then append a sentinel with
 *    recall 1 and fps 0;
 * 5. `cutoff = argmin |recall - 0.95|` over that reversed list; numpy's argmin takes the first
 *    minimum, so among equal distances the group with the LOWEST threshold (most OOD accepted)
 *    wins, and the sentinel (distance equal to that of group `last_ind`, whose recall is also
 *    exactly 1) is never chosen;
 * 6. FPR = `fps[cutoff] / number of OOD samples`.
 * The chosen recall may be below or above 0.95 (closest, not "at least"); with all scores equal
 * the only group has recall 1 and FPR is 1.
 *
 * **openood**: OpenOOD v1.5 `auc_and_fpr_recall` (openood/evaluators/metrics.py): OOD is the
 * positive class and the score is negated, `fpr, tpr, _ = sklearn.metrics.roc_curve(ood, -conf)`
 * (default `drop_intermediate=True`: a point whose neighbours are collinear with it, i.e. zero
 * second difference of both fps and tps, is removed; only when there are more than 2 points), then
 * `fpr[argmax(tpr >= 0.95)]`, the first curve point where at least 95% of OOD samples are
 * flagged. Note what that "FPR" is: the fraction of ID samples flagged as OOD (ID samples with
 * score <= the threshold), at 95% OOD recall. It is a different quantity from the paper's (OOD
 * accepted at 95% ID recall), not the same one with other tie handling: when 10% of the OOD
 * samples score like ID ones and the rest far below, the paper's FPR95 is about 10% while this
 * one, which must flag half of those ID-like OOD samples, rejects about half of the ID set.
 *
 * @module
 */
import { type ScoreCurve, scoreCurve, type Scores } from "./auroc.ts";
import { type MetricsConvention, metricsConvention } from "./convention.ts";

/**
 * The metrics convention under its first name: it picks the FPR95 rule here and the AUPR
 * integration in ./aupr.ts (see ./convention.ts).
 */
export type FprConvention = MetricsConvention;

/** The recall level of FPR95. */
export const RECALL_LEVEL = 0.95;

/** Paper (Outlier-Exposure) rule on a prepared {@linkcode scoreCurve}. */
export function fpr95PaperFromCurve(curve: ScoreCurve, recallLevel = RECALL_LEVEL): number {
  const G = curve.length;
  const tps = new Float64Array(G);
  const fps = new Float64Array(G);
  let tp = 0;
  let fp = 0;
  for (let g = 0; g < G; g++) {
    tp += curve.idCount[g];
    fp += curve.oodCount[g];
    tps[g] = tp;
    fps[g] = fp;
  }
  const total = tps[G - 1];
  let lastInd = 0;
  while (tps[lastInd] < total) lastInd++;
  // Reversed scan with a strict `<`: the first minimum in reversed order, as np.argmin returns.
  let bestDist = Infinity;
  let bestFps = 0;
  for (let g = lastInd; g >= 0; g--) {
    const dist = Math.abs(tps[g] / total - recallLevel);
    if (dist < bestDist) {
      bestDist = dist;
      bestFps = fps[g];
    }
  }
  if (Math.abs(1 - recallLevel) < bestDist) bestFps = 0; // the appended (recall 1, fps 0) point
  return bestFps / curve.numOod;
}

/** OpenOOD v1.5 rule on a prepared {@linkcode scoreCurve}. */
export function fpr95OpenOodFromCurve(curve: ScoreCurve, recallLevel = RECALL_LEVEL): number {
  const G = curve.length;
  // roc_curve(ood, -score): thresholds on -score descending = groups in ASCENDING score order.
  // Point k (k = 0..G-1) is group G-1-k; tps counts OOD (positives), fps counts ID.
  const tps = new Float64Array(G);
  const fps = new Float64Array(G);
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < G; k++) {
    const g = G - 1 - k;
    tp += curve.oodCount[g];
    fp += curve.idCount[g];
    tps[k] = tp;
    fps[k] = fp;
  }
  const numPos = tps[G - 1];
  const numNeg = fps[G - 1];
  for (let k = 0; k < G; k++) {
    if (G > 2 && k > 0 && k < G - 1) {
      const d2f = fps[k + 1] - 2 * fps[k] + fps[k - 1];
      const d2t = tps[k + 1] - 2 * tps[k] + tps[k - 1];
      if (d2f === 0 && d2t === 0) continue; // dropped by drop_intermediate
    }
    if (tps[k] / numPos >= recallLevel) return fps[k] / numNeg;
  }
  // Unreachable: the last point has tpr = 1. Kept for the type checker.
  return 1;
}

/** The FPR95 rule of `convention` on a prepared {@linkcode scoreCurve}. */
export function fpr95FromCurve(curve: ScoreCurve, convention: MetricsConvention): number {
  return convention === "openood" ? fpr95OpenOodFromCurve(curve) : fpr95PaperFromCurve(curve);
}

/**
 * FPR95 (a fraction in [0, 1]); `convention` picks the paper's Outlier-Exposure rule (default) or
 * OpenOOD v1.5's, both described in the module doc. An unknown convention is a UsageError.
 */
export function fpr95(id: Scores, ood: Scores, convention: MetricsConvention = "paper"): number {
  const c = metricsConvention(convention);
  return fpr95FromCurve(scoreCurve(id, ood), c);
}
