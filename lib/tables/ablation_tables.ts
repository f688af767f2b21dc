/**
 * Tables of the ablations: the paper's Table 2 (MOS at taxonomy levels -3..6 under three grouping
 * strategies, optionally beside the paper's values), the group counts per level beside the
 * paper's, and one generic "configuration x OOD set" table for the number-of-classes, grouping
 * and backbone ablations. Values are percentages from `metrics.csv`; rendering is in `render.ts`.
 *
 * "Average" is the paper's: the mean over the OOD sets shown; a configuration that lacks one of
 * them gets no average.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import { PAPER_GROUP_COUNTS } from "../grouping/taxonomy_levels.ts";
import {
  type AurocFpr,
  PAPER_DATASET_LABELS,
  PAPER_DATASETS,
  PAPER_STRATEGY_LABELS,
  paperDatasetKey,
  type PaperTable2Row,
} from "./paper_reference.ts";
import type { MetricRow } from "./paper_tables.ts";
import { type Cell, formatCell, type Table } from "./render.ts";

/** How paper values sit beside ours: separate ours / paper / Δ columns, or one text cell each. */
export type AblationCompareLayout = "columns" | "cells";

/** AUROC and FPR95 (percent) per data set of one configuration and method. */
export type DatasetMetrics = Record<string, AurocFpr>;

/**
 * Picks one method's rows out of `metrics.csv` rows as data set -> AUROC / FPR95. Two rows for
 * the same method and data set are a `DataError` (two scorings mixed up).
 */
export function metricsFor(rows: readonly MetricRow[], method: string): DatasetMetrics {
  const out: DatasetMetrics = {};
  for (const r of rows) {
    if (r.method !== method) continue;
    if (out[r.dataset]) {
      throw new DataError(
        `Metrics have two rows for method "${method}" on data set "${r.dataset}"; rescore into a ` +
          `clean directory`,
      );
    }
    out[r.dataset] = { auroc: r.auroc, fpr95: r.fpr95 };
  }
  return out;
}

/** Mean over `datasets` of one metric; NaN when any is missing or not finite. */
export function averageOver(
  m: DatasetMetrics,
  datasets: readonly string[],
  key: keyof AurocFpr,
): number {
  if (datasets.length === 0) return NaN;
  let sum = 0;
  for (const d of datasets) {
    const v = m[d]?.[key];
    if (v === undefined || !Number.isFinite(v)) return NaN;
    sum += v;
  }
  return sum / datasets.length;
}

function label(d: string, labels?: Readonly<Record<string, string>>): string {
  return labels?.[d] ?? PAPER_DATASET_LABELS[d] ?? d;
}

function signed(d: number): string {
  const s = formatCell(d);
  return s.startsWith("-") ? s : `+${s}`;
}

function pushMetric(
  row: Cell[],
  ours: number,
  paper: number | undefined,
  layout: AblationCompareLayout | undefined,
): void {
  const p = paper ?? NaN;
  if (layout === undefined) row.push(ours);
  else if (layout === "columns") row.push(ours, p, ours - p);
  else if (!Number.isFinite(ours)) row.push(NaN);
  else if (!Number.isFinite(p)) row.push(formatCell(ours));
  else row.push(`${formatCell(ours)} (paper ${formatCell(p)}, Δ ${signed(ours - p)})`);
}

function metricColumns(
  datasets: readonly string[],
  labels: Readonly<Record<string, string>> | undefined,
  layout: AblationCompareLayout | undefined,
): string[] {
  const cols: string[] = [];
  for (const name of [...datasets.map((d) => label(d, labels)), "Average"]) {
    for (const metric of ["AUROC", "FPR95"]) {
      const c = `${name} ${metric}`;
      cols.push(...(layout === "columns" ? [c, `${c} (paper)`, `${c} Δ`] : [c]));
    }
  }
  return cols;
}

/** One row of a generic ablation table: leading key cells and the row's metrics. */
export interface AblationEntry {
  /** Cells of the leading key columns (one per `keyColumns` name). */
  keys: Cell[];
  /** AUROC and FPR95 (percent) per OOD set. */
  metrics: DatasetMetrics;
}

/** Options of {@linkcode ablationTable}. */
export interface AblationTableOptions {
  /** Title of the Markdown table. */
  title: string;
  /** Names of the leading key columns (one per entry key cell). */
  keyColumns: string[];
  /** The rows, in display order. */
  entries: readonly AblationEntry[];
  /** OOD data sets in column order. */
  datasets: readonly string[];
  /** Column labels by data set (default: the paper's label, else the name). */
  datasetLabels?: Readonly<Record<string, string>>;
  /** Notes appended after the standard one (units, averaging). */
  notes?: string[];
}

/**
 * A table with the entries' key cells, then AUROC and FPR95 per OOD set, then their averages.
 * Used for the number-of-classes, grouping-strategy and backbone ablations.
 */
export function ablationTable(o: AblationTableOptions): Table {
  for (const [i, e] of o.entries.entries()) {
    if (e.keys.length !== o.keyColumns.length) {
      throw new RangeError(
        `Entry ${i} has ${e.keys.length} key cells for ${o.keyColumns.length} key columns`,
      );
    }
  }
  const rows = o.entries.map((e) => {
    const row: Cell[] = [...e.keys];
    for (const d of o.datasets) row.push(e.metrics[d]?.auroc ?? NaN, e.metrics[d]?.fpr95 ?? NaN);
    row.push(
      averageOver(e.metrics, o.datasets, "auroc"),
      averageOver(e.metrics, o.datasets, "fpr95"),
    );
    return row;
  });
  return {
    title: o.title,
    columns: [...o.keyColumns, ...metricColumns(o.datasets, o.datasetLabels, undefined)],
    rows,
    notes: [
      "All values are percentages. AUROC: higher is better; FPR95: lower is better. Average: " +
      `mean over the ${o.datasets.length} OOD sets shown.`,
      ...(o.notes ?? []),
    ],
    summaryGroups: ["Average"],
  };
}

/** One configuration of Table 2: MOS with the groups of one level and strategy. */
export interface Table2Entry {
  /** Taxonomy level -3..6 (the number of groups follows the taxonomy's count at that level). */
  level: number;
  /** Number of groups K actually used. */
  numGroups: number;
  /** `taxonomy`, `clustering` or `random`. */
  strategy: string;
  /** MOS metrics per OOD set. */
  metrics: DatasetMetrics;
}

/** Options of {@linkcode table2}. */
export interface Table2Options {
  /** OOD data sets in column order. */
  datasets: readonly string[];
  /** Column labels by data set (default: the paper's label, else the name). */
  datasetLabels?: Readonly<Record<string, string>>;
  /** The paper's Table 2 rows, to set beside ours. */
  paper?: readonly PaperTable2Row[];
  /** Our data set -> the paper's data set key (default: by name when it is one of the paper's). */
  paperDatasets?: Readonly<Record<string, string>>;
  /** With `paper`: "columns" (default, for CSV) or "cells" (for Markdown). */
  layout?: AblationCompareLayout;
  /** Title (default: the paper's Table 2 caption). */
  title?: string;
  /** Notes appended after the standard ones. */
  notes?: string[];
}

const STRATEGY_ORDER = ["taxonomy", "clustering", "random"];

/**
 * The paper's Table 2: rows by level (ascending) and strategy (taxonomy, feature clustering,
 * random grouping), columns Level, K, K in the paper, Strategy, then AUROC / FPR95 per OOD set and
 * their Average. With `paper`, every metric is set beside the paper's value (Δ = ours - paper).
 *
 * @example
 * ```ts
 * const metrics = (a: number, b: number, c: number, d: number) => ({
 *   inaturalist: { auroc: a, fpr95: b },
 *   sun: { auroc: c, fpr95: d },
 * });
 * const entries: Table2Entry[] = [
 *   { level: 0, numGroups: 8, strategy: "taxonomy", metrics: metrics(98.1, 9.3, 92.0, 40.6) },
 *   { level: 0, numGroups: 8, strategy: "random", metrics: metrics(93.4, 31.2, 88.5, 52.7) },
 * ];
 * const t = table2(entries, { datasets: ["inaturalist", "sun"] });
 * ```
 */
export function table2(entries: readonly Table2Entry[], o: Table2Options): Table {
  const layout = o.paper ? (o.layout ?? "columns") : undefined;
  const pkeys = o.datasets.map((d) => o.paperDatasets ? o.paperDatasets[d] : paperDatasetKey(d));
  const sameFour = pkeys.length === PAPER_DATASETS.length &&
    PAPER_DATASETS.every((d) => pkeys.includes(d));
  const sorted = [...entries].sort((a, b) =>
    a.level - b.level || rank(a.strategy) - rank(b.strategy)
  );
  const seen = new Set<string>();
  for (const e of sorted) {
    const key = `${e.level}/${e.strategy}`;
    if (seen.has(key)) {
      throw new DataError(`Table 2 has two results for level ${e.level} ${e.strategy}; keep one`);
    }
    seen.add(key);
  }
  const rows = sorted.map((e) => {
    const p = o.paper?.find((r) => r.level === e.level && r.strategy === e.strategy);
    // Integers as text, so the table's two decimals apply to the metrics only.
    const paperK = PAPER_GROUP_COUNTS[e.level];
    const row: Cell[] = [
      String(e.level),
      String(e.numGroups),
      paperK === undefined ? null : String(paperK),
      PAPER_STRATEGY_LABELS[e.strategy] ?? e.strategy,
    ];
    o.datasets.forEach((d, j) => {
      const pd = pkeys[j] ? p?.datasets[pkeys[j]!] : undefined;
      pushMetric(row, e.metrics[d]?.auroc ?? NaN, pd?.auroc, layout);
      pushMetric(row, e.metrics[d]?.fpr95 ?? NaN, pd?.fpr95, layout);
    });
    const paperAvg = (key: keyof AurocFpr) => {
      if (!p) return NaN;
      if (sameFour) return p.average[key];
      const vals = pkeys.map((k) => (k ? p.datasets[k]?.[key] ?? NaN : NaN));
      return vals.reduce((a, b) => a + b, 0) / vals.length;
    };
    pushMetric(row, averageOver(e.metrics, o.datasets, "auroc"), paperAvg("auroc"), layout);
    pushMetric(row, averageOver(e.metrics, o.datasets, "fpr95"), paperAvg("fpr95"), layout);
    return row;
  });
  const notes = [
    "All values are percentages (MOS score). AUROC: higher is better; FPR95: lower is better. " +
    `Average: mean over the ${o.datasets.length} OOD sets shown.`,
    "K: number of groups we used (taxonomy count at that level; clustering and random use the " +
    "same K). K paper: the paper's count at that level.",
  ];
  if (layout) {
    notes.push(
      "Paper: Table 2 of Huang & Li, CVPR 2021 (appendix B.2, BiT-S-R101x1). Δ = ours - paper, " +
        "in percentage points.",
    );
  }
  return {
    title: o.title ?? "Table 2: MOS with different numbers of groups and grouping strategies",
    columns: [
      "Level",
      "K",
      "K paper",
      "Strategy",
      ...metricColumns(o.datasets, o.datasetLabels, layout),
    ],
    rows,
    notes: [...notes, ...(o.notes ?? [])],
    summaryGroups: ["Average"],
  };
}

function rank(strategy: string): number {
  const i = STRATEGY_ORDER.indexOf(strategy);
  return i === -1 ? STRATEGY_ORDER.length : i;
}

/** One level of {@linkcode groupCountsTable}. */
export interface GroupCount {
  level: number;
  numGroups: number;
  /** Free text shown in a "Groups" column, e.g. the merged super-classes and their sizes. */
  detail?: string;
}

/**
 * Our group count per taxonomy level beside the paper's (Table 2's K column), with the difference
 * and, when any level has one, a "Groups" column of details.
 */
export function groupCountsTable(
  counts: readonly GroupCount[],
  title = "Groups per taxonomy level: ours vs the paper",
): Table {
  const withDetail = counts.some((c) => c.detail !== undefined);
  const rows: Cell[][] = [...counts].sort((a, b) => a.level - b.level).map((c) => {
    const paper = PAPER_GROUP_COUNTS[c.level] ?? NaN;
    const row: Cell[] = [c.level, c.numGroups, paper, c.numGroups - paper];
    if (withDetail) row.push(c.detail ?? null);
    return row;
  });
  return {
    title,
    columns: ["Level", "K (ours)", "K (paper)", "Δ", ...(withDetail ? ["Groups"] : [])],
    rows,
    decimals: 0,
    notes: [
      "Level 0: the paper's 8 super-classes; levels -3..-1: appendix B.2's merges; levels 1..6: " +
      "children in the WordNet hypernym graph (the paper does not publish its exact rule, see " +
      "lib/grouping/taxonomy_levels.ts).",
    ],
  };
}
