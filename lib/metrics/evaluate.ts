/**
 * All four detection metrics of one (ID, OOD) score pair from a single sorted sweep.
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import { auprInFromCurve, auprOutFromCurve } from "./aupr.ts";
import { aurocFromCurve, scoreCurve, type Scores } from "./auroc.ts";
import { fpr95OpenOodFromCurve, fpr95PaperFromCurve, type FprConvention } from "./fpr95.ts";

/** Metrics of one detector on one OOD set, fractions in [0, 1]. */
export interface DetectionMetrics {
  auroc: number;
  fpr95: number;
  auprIn: number;
  auprOut: number;
}

/** Options for {@linkcode evaluate}. */
export interface EvaluateOptions {
  /** FPR95 definition: "paper" (Outlier-Exposure rule, default) or "openood". */
  fprConvention?: FprConvention;
  /** What the scores are (e.g. `msp (ID "id" vs OOD "sun")`), named by a score error. */
  label?: string;
}

/**
 * AUROC, FPR95, AUPR-In and AUPR-Out with ID as the positive class (scores: higher = more ID).
 * Empty score arrays and NaN / infinite scores are a `DataError` (naming `options.label`): a NaN
 * never becomes a metric.
 *
 * @example
 * ```ts
 * evaluate(new Float32Array([0.9, 0.8]), new Float32Array([0.1])); // all perfect: 1, 0, 1, 1
 * ```
 */
export function evaluate(id: Scores, ood: Scores, options: EvaluateOptions = {}): DetectionMetrics {
  const convention = options.fprConvention ?? "paper";
  if (convention !== "paper" && convention !== "openood") {
    throw new UsageError(`Unknown FPR95 convention "${convention}"; use "paper" or "openood"`);
  }
  const curve = scoreCurve(id, ood, options.label);
  return {
    auroc: aurocFromCurve(curve),
    fpr95: convention === "paper" ? fpr95PaperFromCurve(curve) : fpr95OpenOodFromCurve(curve),
    auprIn: auprInFromCurve(curve),
    auprOut: auprOutFromCurve(curve),
  };
}
