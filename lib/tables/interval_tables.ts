/**
 * Tables of bootstrap 95% intervals (`metrics_ci.csv`, written by `score --ci`): a wide one beside
 * Table 1 (one row per method, per OOD set the AUROC and FPR95 with their intervals; `tables
 * --ci`) and a long, narrow one for the terminal (one row per method and OOD set; `score --ci`).
 * Intervals read "[low, high]" in every table, formatted by render.ts's formatNumber.
 *
 * @module
 */
import type { IntervalRow } from "../metrics/bootstrap.ts";
import { METHOD_ORDER, methodLabel } from "./paper_tables.ts";
import { type Cell, formatNumber, type Table } from "./render.ts";

/** An interval as every table shows it: "[low, high]", each bound to `decimals` places. */
export function intervalText(low: number, high: number, decimals = 2): string {
  return `[${formatNumber(low, decimals)}, ${formatNumber(high, decimals)}]`;
}

/**
 * How the intervals tables' note describes where the intervals came from; a task passes its flag
 * wording (e.g. `{ resamples: "1,000 unless --resamples", source: "score --ci" }`).
 */
export interface IntervalNoteWording {
  /** The number of resamples (default "1,000 unless set otherwise"). */
  resamples?: string;
  /** What computed the intervals, added in parentheses at the end (default: nothing). */
  source?: string;
}

/** The note under an intervals table. */
export function intervalsNote(w: IntervalNoteWording = {}): string {
  return `Percentile intervals of seeded bootstrap resamples (${
    w.resamples ?? "1,000 unless set otherwise"
  }), the ID and the OOD scores resampled separately${w.source ? ` (${w.source})` : ""}.`;
}

/** Methods in the paper's order, then the others in order of appearance. */
function methodsOf(rows: readonly IntervalRow[]): string[] {
  const present = [...new Set(rows.map((r) => r.method))];
  return [
    ...METHOD_ORDER.filter((m) => present.includes(m)),
    ...present.filter((m) => !METHOD_ORDER.includes(m)),
  ];
}

function finder(rows: readonly IntervalRow[]) {
  return (m: string, d: string, metric: IntervalRow["metric"]) =>
    rows.find((r) => r.method === m && r.dataset === d && r.metric === metric);
}

/**
 * Table 1's metrics with their intervals: one row per method; per OOD set (in `datasets` order)
 * the AUROC, its interval, the FPR95 and its interval. Missing pairs are missing cells.
 */
export function intervalsTable(
  rows: readonly IntervalRow[],
  datasets: readonly string[],
  title = "Table 1 with bootstrap 95% intervals (%)",
  note: IntervalNoteWording = {},
): Table {
  const find = finder(rows);
  const columns = ["Method"];
  for (const d of datasets) {
    columns.push(`${d} AUROC`, `${d} AUROC 95% CI`, `${d} FPR95`, `${d} FPR95 95% CI`);
  }
  const body = methodsOf(rows).map((m) => {
    const row: Cell[] = [methodLabel(m)];
    for (const d of datasets) {
      for (const metric of ["auroc", "fpr95"] as const) {
        const r = find(m, d, metric);
        row.push(r ? r.estimate : null, r ? intervalText(r.low, r.high) : null);
      }
    }
    return row;
  });
  return { title, columns, rows: body, notes: [intervalsNote(note)] };
}

/**
 * The same intervals one row per method and OOD set (columns Method, OOD set, AUROC, its 95% CI,
 * FPR95, its 95% CI): narrow enough for a terminal whatever the number of sets.
 */
export function intervalsByRow(
  rows: readonly IntervalRow[],
  title = "AUROC and FPR95 (%) with bootstrap 95% intervals",
  note: IntervalNoteWording = {},
): Table {
  const find = finder(rows);
  const datasets = [...new Set(rows.map((r) => r.dataset))];
  const body: Cell[][] = [];
  for (const m of methodsOf(rows)) {
    for (const d of datasets) {
      const a = find(m, d, "auroc");
      const f = find(m, d, "fpr95");
      if (!a && !f) continue;
      body.push([
        methodLabel(m),
        d,
        a ? a.estimate : null,
        a ? intervalText(a.low, a.high) : null,
        f ? f.estimate : null,
        f ? intervalText(f.low, f.high) : null,
      ]);
    }
  }
  return {
    title,
    columns: ["Method", "OOD set", "AUROC", "AUROC 95% CI", "FPR95", "FPR95 95% CI"],
    rows: body,
    notes: [intervalsNote(note)],
  };
}
