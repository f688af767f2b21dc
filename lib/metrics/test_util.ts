/**
 * Plain float64 references of the AUPR conventions for the metric tests, written from the
 * scikit-learn functions each convention calls (array by array, per sample, O(n G)), not from
 * lib/metrics/aupr.ts.
 *
 * @module
 */

/** `_binary_clf_curve`: TP and FP counts at every distinct score, thresholds descending. */
function clfCurve(pos: number[], neg: number[]): { tps: number[]; fps: number[] } {
  const ts = [...new Set([...pos, ...neg])].sort((a, b) => b - a);
  return {
    tps: ts.map((t) => pos.filter((v) => v >= t).length),
    fps: ts.map((t) => neg.filter((v) => v >= t).length),
  };
}

/**
 * `average_precision_score(y, s)` with the positives' scores `pos` and the negatives' `neg`:
 * `sum_n (R_n - R_{n-1}) P_n` over the thresholds, descending (the paper convention).
 */
export function naiveAveragePrecision(pos: number[], neg: number[]): number {
  const { tps, fps } = clfCurve(pos, neg);
  let prevRecall = 0;
  let ap = 0;
  for (let k = 0; k < tps.length; k++) {
    const recall = tps[k] / pos.length;
    ap += (recall - prevRecall) * (tps[k] / (tps[k] + fps[k]));
    prevRecall = recall;
  }
  return ap;
}

/**
 * `auc(recall, precision)` of `precision_recall_curve(y, s)` (the OpenOOD convention): the curve
 * arrays as sklearn returns them (reversed, with precision 1 / recall 0 appended), then
 * `sklearn.metrics.auc`: direction -1 for a decreasing x, `np.trapz(y, x)`.
 */
export function naiveTrapezoidAupr(pos: number[], neg: number[]): number {
  const { tps, fps } = clfCurve(pos, neg);
  const last = tps[tps.length - 1];
  const precision = tps.map((tp, k) => tp / (tp + fps[k])).reverse().concat([1]);
  const recall = tps.map((tp) => tp / last).reverse().concat([0]);
  const dx = recall.slice(1).map((v, i) => v - recall[i]);
  let direction = 1;
  if (dx.some((d) => d < 0)) {
    if (!dx.every((d) => d <= 0)) throw new Error("recall is not monotonic");
    direction = -1;
  }
  let area = 0;
  for (let i = 0; i < dx.length; i++) area += dx[i] * (precision[i + 1] + precision[i]) / 2;
  return direction * area;
}
