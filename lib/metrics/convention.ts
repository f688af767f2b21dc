/**
 * The two metrics conventions of OOD papers. They pick the FPR95 rule (./fpr95.ts) and the AUPR
 * integration (./aupr.ts) together; AUROC is the same number in both.
 *
 * **paper** (default): what the released MOS code reports through `get_measures`
 * (`utils/test_utils.py` of deeplearning-wisc/large_scale_ood, the Outlier-Exposure functions):
 * - FPR95 = the fraction of OOD samples accepted as ID at the threshold whose ID recall is closest
 *   to 95% (ID positive);
 * - AUPR = average precision (`sklearn.metrics.average_precision_score`), a step sum.
 *
 * **openood**: OpenOOD v1.5 `auc_and_fpr_recall` (`openood/evaluators/metrics.py`):
 * - FPR95 = `fpr[argmax(tpr >= 0.95)]` of `roc_curve(ood, -score)`: OOD is the positive class, so
 *   this is the fraction of ID samples REJECTED (flagged as OOD) at the first threshold that flags
 *   at least 95% of the OOD samples. A different quantity from the paper's FPR95, not the same
 *   one computed with different tie handling: on the same scores the two can differ by tens of
 *   points;
 * - AUPR-In = `auc(recall, precision)` of `precision_recall_curve(id_indicator, score)` and
 *   AUPR-Out = the same of `precision_recall_curve(ood_indicator, -score)`: the trapezoid area
 *   under the precision-recall curve, which interpolates linearly between curve points and closes
 *   the curve at (recall 0, precision 1), instead of average precision's steps.
 *
 * @module
 */
import { UsageError } from "../errors.ts";

/** A metrics convention; see the module doc. */
export type MetricsConvention = "paper" | "openood";

/** Every convention, the default first. */
export const METRICS_CONVENTIONS: readonly MetricsConvention[] = Object.freeze([
  "paper",
  "openood",
]);

/**
 * `convention` as a {@linkcode MetricsConvention}, `paper` when undefined; any other value is a
 * UsageError (a caller passed an unchecked string).
 */
export function metricsConvention(convention: string | undefined): MetricsConvention {
  if (convention === undefined) return "paper";
  if ((METRICS_CONVENTIONS as readonly string[]).includes(convention)) {
    return convention as MetricsConvention;
  }
  throw new UsageError(
    `Unknown metrics convention "${convention}"; use ${METRICS_CONVENTIONS.join(" or ")}`,
  );
}

/**
 * One line for a table's notes saying what FPR95 and AUPR are under `convention`.
 */
export function metricsConventionNote(convention: MetricsConvention): string {
  return convention === "paper"
    ? "Metrics (paper convention, the released MOS code's): FPR95 = OOD accepted at the " +
      "threshold whose ID recall is closest to 95%; AUPR = average precision."
    : "Metrics (OpenOOD v1.5 convention): FPR95 = ID rejected at the first threshold that " +
      "flags 95% of OOD (OOD positive), a different quantity from the paper's FPR95; AUPR = " +
      "trapezoid area under the precision-recall curve.";
}
