/**
 * Table 1 extended: every detector x every OOD set in the paper's Table 1 layout (AUROC / FPR95
 * per set, their average, test time), with optional bootstrap confidence-interval columns and
 * mean +- sd over several trained heads (seeds). Two renderings of the same numbers: a CSV table
 * with bare numeric columns (value, sd, CI low, CI high) and a Markdown table with combined cells
 * ("95.12 ± 0.30", "[94.80, 95.40]").
 *
 * "Average" is, per seed, the mean over the table's OOD sets, then mean +- sd over seeds, as for
 * the per-set cells; with `oodGroups`, "Near-OOD" and "Far-OOD" (before it) are the same over
 * each group's sets. Their intervals are computed by the caller (a joint bootstrap, see
 * lib/metrics/bootstrap.ts) since they cannot be derived from the per-set intervals.
 *
 * @module
 */
import type { Interval } from "../metrics/bootstrap.ts";
import { intervalText } from "./interval_tables.ts";
import { AVERAGE_LABEL, type OodGroups, summaryBlocks } from "./ood_groups.ts";
import { type Cell, formatNumber, type Table } from "./render.ts";

/** Metrics in percent, as in metrics.csv. */
export type PercentMetric = "auroc" | "fpr95" | "aupr_in" | "aupr_out";

/** All four metric keys in metrics.csv order. */
export const PERCENT_METRICS: readonly PercentMetric[] = Object.freeze([
  "auroc",
  "fpr95",
  "aupr_in",
  "aupr_out",
]);

/** One detector on one OOD set: per-seed values and an optional interval, all in percent. */
export interface ExtendedEntry {
  /** Method key. */
  method: string;
  /** OOD set name. */
  dataset: string;
  /** One value per seed, in seed order. */
  values: Record<PercentMetric, number[]>;
  /** Bootstrap interval per metric, in percent (the CI columns). */
  ci?: Record<PercentMetric, Interval>;
}

/** A table row's method. */
export interface ExtendedMethod {
  /** Method key, matched against `ExtendedEntry.method`. */
  key: string;
  /** Name shown in the Method column. */
  label: string;
  /** Wall seconds of fit + scoring (first seed), or undefined when not known. */
  seconds?: number;
}

/** Options of {@linkcode extendedTable1}. */
export interface ExtendedTableOptions {
  /** Rows, in display order. */
  methods: readonly ExtendedMethod[];
  /** OOD sets in column order (the Average is over these). */
  datasets: readonly string[];
  /** Show the CI columns. */
  ci: boolean;
  /** Interval of the Average column per method (percent). */
  averageCi?: Record<string, Record<PercentMetric, Interval>>;
  /** Near-OOD / far-OOD sets: their averages go before "Average" (as OpenOOD reports). */
  oodGroups?: OodGroups;
  /** Intervals of the Near-OOD / Far-OOD columns: group label -> method -> metric (percent). */
  groupCi?: Record<string, Record<string, Record<PercentMetric, Interval>>>;
  /** Title of both tables. */
  title: string;
  /** Notes appended to the Markdown table's standard ones. */
  notes?: string[];
}

/** Mean of `v`. */
export function mean(v: readonly number[]): number {
  return v.reduce((s, x) => s + x, 0) / v.length;
}

/** Sample standard deviation (n - 1); NaN for fewer than two values. */
export function sampleSd(v: readonly number[]): number {
  if (v.length < 2) return NaN;
  const m = mean(v);
  return Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / (v.length - 1));
}

/** Per-seed average over `datasets` of one method's metric (NaN for a seed missing a set). */
export function perSeedAverage(
  entries: readonly ExtendedEntry[],
  method: string,
  datasets: readonly string[],
  metric: PercentMetric,
): number[] {
  const rows = datasets.map((d) => entries.find((e) => e.method === method && e.dataset === d));
  if (rows.some((r) => !r)) return [];
  const seeds = Math.min(...rows.map((r) => r!.values[metric].length));
  return Array.from({ length: seeds }, (_, s) => mean(rows.map((r) => r!.values[metric][s])));
}

const fmt = (v: number): string => formatNumber(v, 2);

/**
 * The CSV table and the Markdown table of Table 1 extended (see the module doc). A method without
 * a set gets missing cells; a method without every set gets no Average.
 */
export function extendedTable1(
  entries: readonly ExtendedEntry[],
  o: ExtendedTableOptions,
): { csv: Table; markdown: Table } {
  const seeds = Math.max(1, ...entries.map((e) => e.values.auroc.length));
  const multi = seeds > 1;
  const metrics: [PercentMetric, string][] = [["auroc", "AUROC"], ["fpr95", "FPR95"]];
  const csvCols = ["Method", "Test time (s)"];
  const mdCols = ["Method", "Test time (s)"];
  const summaries = summaryBlocks(o.datasets, o.oodGroups);
  const blocks = [...o.datasets, ...summaries.map((b) => b.label)];
  for (const b of blocks) {
    for (const [, name] of metrics) {
      csvCols.push(`${b} ${name}`);
      mdCols.push(`${b} ${name}`);
      if (multi) csvCols.push(`${b} ${name} sd`);
      if (o.ci) {
        csvCols.push(`${b} ${name} CI low`, `${b} ${name} CI high`);
        mdCols.push(`${b} ${name} 95% CI`);
      }
    }
  }
  const csvRows: Cell[][] = [];
  const mdRows: Cell[][] = [];
  for (const m of o.methods) {
    const csv: Cell[] = [m.label, m.seconds ?? null];
    const md: Cell[] = [m.label, m.seconds ?? null];
    for (const [k, b] of blocks.entries()) {
      const summary = k >= o.datasets.length ? summaries[k - o.datasets.length] : undefined;
      const entry = summary
        ? undefined
        : entries.find((e) => e.method === m.key && e.dataset === b);
      for (const [key] of metrics) {
        const values = summary
          ? perSeedAverage(entries, m.key, summary.sets, key)
          : entry?.values[key] ?? [];
        const ci = !summary
          ? entry?.ci?.[key]
          : summary.label === AVERAGE_LABEL
          ? o.averageCi?.[m.key]?.[key]
          : o.groupCi?.[summary.label]?.[m.key]?.[key];
        const have = values.length > 0;
        const mu = have ? mean(values) : null;
        const sd = have && multi ? sampleSd(values) : null;
        csv.push(mu);
        if (multi) csv.push(sd);
        md.push(mu === null ? null : multi ? `${fmt(mu)} ± ${fmt(sd!)}` : mu);
        if (o.ci) {
          csv.push(ci?.low ?? null, ci?.high ?? null);
          md.push(ci ? intervalText(ci.low, ci.high) : null);
        }
      }
    }
    csvRows.push(csv);
    mdRows.push(md);
  }
  const groupNote = summaries.filter((b) => b.label !== AVERAGE_LABEL)
    .map((b) => ` ${b.label}: mean over ${b.sets.join(", ")}.`).join("");
  const notes = [
    "All values are percentages. AUROC: higher is better; FPR95: lower is better." + groupNote +
    ` Average: mean over the ${o.datasets.length} OOD sets shown.`,
    ...(multi
      ? [`Cells are mean ± sd (n - 1) over ${seeds} heads trained with different seeds.`]
      : []),
    ...(o.notes ?? []),
  ];
  const summaryGroups = summaries.map((b) => b.label);
  return {
    csv: { title: o.title, columns: csvCols, rows: csvRows, decimals: 4 },
    markdown: { title: o.title, columns: mdCols, rows: mdRows, notes, summaryGroups },
  };
}
