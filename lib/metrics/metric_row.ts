/**
 * One line of `metrics.csv`, the hand-over between scoring and tables.
 *
 * @module
 */

/** Metrics of one method on one OOD set, every value in percent. */
export interface MetricRow {
  method: string;
  dataset: string;
  auroc: number;
  fpr95: number;
  aupr_in: number;
  aupr_out: number;
}

/** The header of `metrics.csv`, in column order. */
export const METRICS_HEADER: readonly string[] = Object.freeze([
  "method",
  "dataset",
  "auroc",
  "fpr95",
  "aupr_in",
  "aupr_out",
]);
