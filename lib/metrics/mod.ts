/**
 * Metrics of OOD detection, pure TypeScript (no native package): AUROC, FPR at 95% TPR, AUPR
 * in/out under the paper's or OpenOOD's convention, bootstrap intervals, ROC points, and the
 * metrics.csv format. Scores follow the toolkit's sign: higher = more in-distribution.
 *
 * @example Metrics of two score vectors
 * ```ts
 * import { evaluate } from "./mod.ts";
 * const id = new Float32Array([0.9, 0.8, 0.7, 0.95]);
 * const ood = new Float32Array([0.2, 0.75, 0.1]);
 * const m = evaluate(id, ood); // { auroc, fpr95, auprIn, auprOut } in [0, 1]
 * console.log(m.auroc);
 * ```
 *
 * @module
 */
export * from "./auroc.ts";
export * from "./aupr.ts";
export * from "./fpr95.ts";
export * from "./convention.ts";
export * from "./evaluate.ts";
export * from "./bootstrap.ts";
export * from "./metric_row.ts";
export * from "./roc.ts";
