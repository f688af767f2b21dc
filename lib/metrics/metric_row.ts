/**
 * One line of `metrics.csv`, the hand-over between scoring and tables, and the file's one writer
 * ({@linkcode metricsCsv}) and readers ({@linkcode parseMetricsCsv}; {@linkcode metricsCsvOrder}
 * for the row order of any CSV with `method` / `dataset` columns, such as table1-extended's long
 * per-seed file).
 *
 * @module
 */
import { parse } from "npm:csv-parse@7.0.3/sync";
import { stringify } from "npm:csv-stringify@6.9.0/sync";
import { DataError } from "../errors.ts";

/** Metrics of one method on one OOD set, every value in percent. */
export interface MetricRow {
  /** Method key (e.g. "mos"). */
  method: string;
  /** OOD set name. */
  dataset: string;
  /** AUROC in percent, ID as the positive class. */
  auroc: number;
  /** FPR of OOD samples at 95% TPR of ID samples, in percent (lower is better). */
  fpr95: number;
  /** AUPR-In in percent (ID positive). */
  aupr_in: number;
  /** AUPR-Out in percent (OOD positive, scores negated). */
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

/** Renders metric rows as metrics.csv text (values with 4 decimals). */
export function metricsCsv(rows: readonly MetricRow[]): string {
  return stringify(
    rows.map((r) => [
      r.method,
      r.dataset,
      r.auroc.toFixed(4),
      r.fpr95.toFixed(4),
      r.aupr_in.toFixed(4),
      r.aupr_out.toFixed(4),
    ]),
    { header: true, columns: [...METRICS_HEADER] },
  );
}

/**
 * Parses `metrics.csv` text (header `method,dataset,auroc,fpr95,aupr_in,aupr_out`, percent).
 * Empty or `NaN` metric fields become `NaN` (rendered as missing). `source` names the file in
 * errors.
 */
export function parseMetricsCsv(text: string, source = "metrics.csv"): MetricRow[] {
  let rows: string[][];
  try {
    rows = parse(text, { skip_empty_lines: true, trim: true }) as string[][];
  } catch (err) {
    throw new DataError(`${source} is not valid CSV (${(err as Error).message}); rerun score`);
  }
  if (rows.length === 0 || rows[0].join(",") !== METRICS_HEADER.join(",")) {
    throw new DataError(
      `${source}: header must be "${METRICS_HEADER.join(",")}", got ` +
        `"${(rows[0] ?? []).join(",")}"; rerun score to rewrite it`,
    );
  }
  return rows.slice(1).map((r, i) => {
    const line = i + 2;
    if (r.length !== METRICS_HEADER.length) {
      throw new DataError(`${source} line ${line} has ${r.length} fields; expected 6`);
    }
    const value = (j: number): number => {
      const s = r[j];
      if (s === "" || s.toLowerCase() === "nan") return NaN;
      const v = Number(s);
      if (!Number.isFinite(v)) {
        throw new DataError(`${source} line ${line}: ${METRICS_HEADER[j]} "${s}" is not a number`);
      }
      return v;
    };
    return {
      method: r[0],
      dataset: r[1],
      auroc: value(2),
      fpr95: value(3),
      aupr_in: value(4),
      aupr_out: value(5),
    };
  });
}

/** Methods and data sets in the order a metrics-style CSV first lists them. */
export interface MetricsOrder {
  /** Distinct `method` values in first-appearance order. */
  methods: string[];
  /** Distinct `dataset` values in first-appearance order. */
  datasets: string[];
}

/**
 * The order in which a CSV with a `method` column (and optionally `dataset`) first lists its
 * methods and data sets; other columns and their count do not matter. `null` when the text is
 * not CSV or has no `method` column, so a caller can look for another file.
 */
export function metricsCsvOrder(text: string): MetricsOrder | null {
  let rows: string[][];
  try {
    rows = parse(text, { relax_column_count: true, skip_empty_lines: true }) as string[][];
  } catch {
    return null;
  }
  const head = rows[0] ?? [];
  const [m, d] = [head.indexOf("method"), head.indexOf("dataset")];
  if (m === -1) return null;
  const methods: string[] = [];
  const datasets: string[] = [];
  for (const cells of rows.slice(1)) {
    if (cells[m] && !methods.includes(cells[m])) methods.push(cells[m]);
    if (d !== -1 && cells[d] && !datasets.includes(cells[d])) datasets.push(cells[d]);
  }
  return { methods, datasets };
}
