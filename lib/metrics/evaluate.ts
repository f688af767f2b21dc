/**
 * All four detection metrics of one (ID, OOD) score pair from a single sorted sweep.
 *
 * @module
 */
import { auprInFromCurveAs, auprOutFromCurveAs } from "./aupr.ts";
import { aurocFromCurve, scoreCurve, type Scores } from "./auroc.ts";
import { type MetricsConvention, metricsConvention } from "./convention.ts";
import { fpr95FromCurve } from "./fpr95.ts";

/** Metrics of one detector on one OOD set, fractions in [0, 1]. */
export interface DetectionMetrics {
  /** Area under the ROC curve, ID as the positive class. */
  auroc: number;
  /** False-positive rate (OOD accepted) at 95% true-positive rate (ID); lower is better. */
  fpr95: number;
  /** Area under the precision-recall curve, ID as the positive class. */
  auprIn: number;
  /** Area under the precision-recall curve, OOD as the positive class (scores negated). */
  auprOut: number;
}

/** Options for {@linkcode evaluate}. */
export interface EvaluateOptions {
  /**
   * Metrics convention (./convention.ts): "paper" (default; Outlier-Exposure FPR95, average
   * precision) or "openood" (OpenOOD v1.5's FPR95 and trapezoid AUPR). Named after its first use,
   * which switched FPR95 alone.
   */
  fprConvention?: MetricsConvention;
  /** What the scores are (e.g. `msp (ID "id" vs OOD "sun")`), named by a score error. */
  label?: string;
}

/**
 * AUROC, FPR95, AUPR-In and AUPR-Out (scores: higher = more ID) under `options.fprConvention`.
 * Empty score arrays and NaN / infinite scores are a `DataError` (naming `options.label`): a NaN
 * never becomes a metric; an unknown convention is a `UsageError`.
 *
 * @example
 * ```ts
 * evaluate(new Float32Array([0.9, 0.8]), new Float32Array([0.1])); // all perfect: 1, 0, 1, 1
 * ```
 */
export function evaluate(id: Scores, ood: Scores, options: EvaluateOptions = {}): DetectionMetrics {
  const convention = metricsConvention(options.fprConvention);
  const curve = scoreCurve(id, ood, options.label);
  return {
    auroc: aurocFromCurve(curve),
    fpr95: fpr95FromCurve(curve, convention),
    auprIn: auprInFromCurveAs(curve, convention),
    auprOut: auprOutFromCurveAs(curve, convention),
  };
}
