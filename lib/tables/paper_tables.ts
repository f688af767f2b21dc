/**
 * Builders of the paper's tables from metric rows (`metrics.csv`, percent): Table 1 (AUROC /
 * FPR95 per OOD set, their average, test time), Table 3 (AUROC / FPR95 / AUPR-In per set and
 * method, plus an Average block) and the ID accuracy line (flat vs group softmax). Each can be set
 * side by side with the paper's numbers (`paper_reference.ts`). Rendering is in `render.ts`.
 *
 * "Average" follows the paper: the mean over the OOD sets of the table. A method that lacks one of
 * those sets gets no average ("-"), since a mean over fewer sets is not comparable.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import {
  PAPER_ACCURACY,
  PAPER_DATASET_LABELS,
  PAPER_DATASETS,
  PAPER_METHOD_LABELS,
  paperDatasetKey,
  type PaperTable1,
  type PaperTable3Row,
} from "./paper_reference.ts";
import { type Cell, formatCell, type Table, TEST_TIME_NOTE } from "./render.ts";
import { type OodGroups, summaryBlocks } from "./ood_groups.ts";
import type { MetricRow } from "../metrics/metric_row.ts";
import { PAPER_METHODS } from "../scoring/methods.ts";

export type { MetricRow } from "../metrics/metric_row.ts";
export { METRICS_HEADER } from "../metrics/metric_row.ts";

/** The paper's method order (Table 1); other methods follow in order of appearance. */
export const METHOD_ORDER: readonly string[] = PAPER_METHODS;

/** Display name of a method key: the paper's name for its six methods, else the key itself. */
export function methodLabel(key: string): string {
  return PAPER_METHOD_LABELS[key] ?? key;
}

type MetricKey = "auroc" | "fpr95" | "aupr_in" | "aupr_out";

/** Rows indexed by method and data set; duplicates are an error (two scorings mixed up). */
function indexRows(rows: readonly MetricRow[]): Map<string, Map<string, MetricRow>> {
  const byMethod = new Map<string, Map<string, MetricRow>>();
  for (const r of rows) {
    const m = byMethod.get(r.method) ?? new Map<string, MetricRow>();
    if (m.has(r.dataset)) {
      throw new DataError(
        `Metrics have two rows for method "${r.method}" on data set "${r.dataset}"; ` +
          `keep one (rerun score into a clean output directory)`,
      );
    }
    m.set(r.dataset, r);
    byMethod.set(r.method, m);
  }
  return byMethod;
}

function orderMethods(
  index: Map<string, Map<string, MetricRow>>,
  datasets: readonly string[],
  methods?: readonly string[],
): string[] {
  if (methods) return [...methods];
  const present = [...index.keys()].filter((m) => datasets.some((d) => index.get(m)!.has(d)));
  return [
    ...METHOD_ORDER.filter((m) => present.includes(m)),
    ...present.filter((m) => !METHOD_ORDER.includes(m)),
  ];
}

function mean(values: number[]): number {
  if (values.length === 0 || values.some((v) => !Number.isFinite(v))) return NaN;
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function value(
  index: Map<string, Map<string, MetricRow>>,
  method: string,
  dataset: string,
  key: MetricKey,
): number {
  return index.get(method)?.get(dataset)?.[key] ?? NaN;
}

/** Mean of `key` over `datasets`; NaN when the method lacks any of them. */
function average(
  index: Map<string, Map<string, MetricRow>>,
  method: string,
  datasets: readonly string[],
  key: MetricKey,
): number {
  return mean(datasets.map((d) => value(index, method, d, key)));
}

function datasetLabel(d: string, labels?: Record<string, string>): string {
  return labels?.[d] ?? PAPER_DATASET_LABELS[d] ?? d;
}

/** Paper data set key of each of our data sets: explicit map, else the name if it is a paper set. */
function paperKeys(
  datasets: readonly string[],
  map?: Record<string, string>,
): (string | undefined)[] {
  return datasets.map((d) => map ? map[d] : paperDatasetKey(d));
}

/** How compared cells are laid out. */
export type CompareLayout = "columns" | "cells";

function signed(d: number, decimals = 2): string {
  const s = formatCell(d, decimals);
  return s.startsWith("-") ? s : `+${s}`;
}

/** `ours (paper X, Δ ±d)`; just `ours` without a paper value; missing when ours is missing. */
function compareCell(ours: number, paper: number): Cell {
  if (!Number.isFinite(ours)) return NaN;
  if (!Number.isFinite(paper)) return formatCell(ours);
  return `${formatCell(ours)} (paper ${formatCell(paper)}, Δ ${signed(ours - paper)})`;
}

/** Appends one metric to a row: a value, or in compare mode ours / paper / delta. */
function pushMetric(
  row: Cell[],
  ours: number,
  paper: number | undefined,
  layout: CompareLayout | undefined,
): void {
  if (layout === undefined) row.push(ours);
  else if (layout === "cells") row.push(compareCell(ours, paper ?? NaN));
  else row.push(ours, paper ?? NaN, ours - (paper ?? NaN));
}

function metricColumns(name: string, layout: CompareLayout | undefined): string[] {
  return layout === "columns" ? [name, `${name} (paper)`, `${name} Δ`] : [name];
}

/** Options of {@linkcode table1}. */
export interface Table1Options {
  /** OOD data sets, in column order. */
  datasets: string[];
  /** Column labels of data sets (default: the paper's names for its sets, else the key). */
  datasetLabels?: Record<string, string>;
  /** Method keys in row order (default: the paper's order, then others by appearance). */
  methods?: string[];
  /** Scoring wall time per method, in seconds. */
  times?: Record<string, number>;
  /** The paper's Table 1, to set beside ours. */
  paper?: PaperTable1;
  /**
   * Our data set -> the paper's data set key it is compared with (default: a data set is compared
   * only when it is itself one of the paper's sets, by name).
   */
  paperDatasets?: Record<string, string>;
  /** With `paper`: separate ours / paper / Δ columns (default, for CSV) or one text cell each. */
  layout?: CompareLayout;
  /** Table title (default: the paper's caption, shortened). */
  title?: string;
  /** Near-OOD / far-OOD sets: adds their averages before "Average" (as OpenOOD reports). */
  oodGroups?: OodGroups;
}

/**
 * The paper's Table 1: one row per method (MSP, ODIN, Mahalanobis, Energy, KL Matching, MOS),
 * a test-time column, AUROC and FPR95 per OOD set, then (with `oodGroups`) the Near-OOD and
 * Far-OOD averages, then Average AUROC / FPR95 (mean over all the sets). With `paper`, each metric
 * is set beside the paper's value with Δ = ours - paper.
 *
 * @example
 * ```ts
 * import { parseMetricsCsv } from "../metrics/metric_row.ts";
 * import { renderMarkdown } from "./render.ts";
 * const text = await Deno.readTextFile("metrics.csv"); // written by `deno task evaluate --out`
 * const t = table1(parseMetricsCsv(text), { datasets: ["inaturalist", "sun", "places", "textures"] });
 * console.log(renderMarkdown(t));
 * ```
 */
export function table1(rows: readonly MetricRow[], opts: Table1Options): Table {
  const index = indexRows(rows);
  const datasets = opts.datasets;
  const methods = orderMethods(index, datasets, opts.methods);
  const layout = opts.paper ? (opts.layout ?? "columns") : undefined;
  const pkeys = paperKeys(datasets, opts.paperDatasets);
  const paperRow = (m: string) => opts.paper?.find((r) => r.method === m);
  const blocks = summaryBlocks(datasets, opts.oodGroups);

  const columns = ["Method", "Test time (s)"];
  if (layout) columns.push("Test time paper (min)");
  const names = [
    ...datasets.map((d) => datasetLabel(d, opts.datasetLabels)),
    ...blocks.map((b) => b.label),
  ];
  for (const name of names) {
    for (const metric of ["AUROC", "FPR95"]) {
      columns.push(...metricColumns(`${name} ${metric}`, layout));
    }
  }

  const body = methods.map((m) => {
    const p = paperRow(m);
    const row: Cell[] = [methodLabel(m), opts.times?.[m] ?? NaN];
    if (layout) row.push(p?.testTimeMin ?? NaN);
    datasets.forEach((d, j) => {
      const pd = pkeys[j] ? p?.datasets[pkeys[j]!] : undefined;
      pushMetric(row, value(index, m, d, "auroc"), pd?.auroc, layout);
      pushMetric(row, value(index, m, d, "fpr95"), pd?.fpr95, layout);
    });
    for (const b of blocks) {
      const bkeys = b.sets.map((d) => pkeys[datasets.indexOf(d)]);
      // The paper's own Average column is used only when the block is exactly its four sets;
      // otherwise the paper-side value is the mean over the mapped sets, like ours.
      const paperAvg = (key: "auroc" | "fpr95"): number => {
        if (!p) return NaN;
        if (isPaperFour(bkeys)) return p.average[key];
        return mean(bkeys.map((k) => k ? p.datasets[k]?.[key] ?? NaN : NaN));
      };
      pushMetric(row, average(index, m, b.sets, "auroc"), paperAvg("auroc"), layout);
      pushMetric(row, average(index, m, b.sets, "fpr95"), paperAvg("fpr95"), layout);
    }
    return row;
  });

  const notes = [
    "All values are percentages. AUROC: higher is better; FPR95 (FPR of OOD at 95% ID recall): " +
    `lower is better. ${summaryNote(datasets, blocks, (d) => datasetLabel(d, opts.datasetLabels))}`,
    TEST_TIME_NOTE,
  ];
  if (layout) {
    notes.push(
      "Paper: Table 1 of Huang & Li, CVPR 2021 (BiT-S-R101x1, ImageNet-1k; test time in minutes " +
        "for 60k images, from images, on its GPU setup). Δ = ours - paper, in percentage points.",
    );
  }
  return {
    title: opts.title ?? "Table 1: OOD detection performance, MOS vs baselines",
    columns,
    rows: body,
    notes,
    summaryGroups: blocks.map((b) => b.label),
  };
}

/** Whether paper set keys are exactly the paper's four sets. */
function isPaperFour(keys: readonly (string | undefined)[]): boolean {
  return keys.length === PAPER_DATASETS.length && PAPER_DATASETS.every((d) => keys.includes(d));
}

/** The note sentence saying what each summary block averages. */
function summaryNote(
  datasets: readonly string[],
  blocks: readonly { label: string; sets: string[] }[],
  label: (d: string) => string,
): string {
  const parts = blocks.map((b) =>
    b.label === "Average"
      ? `Average: mean over the ${datasets.length} OOD sets shown.`
      : `${b.label}: mean over ${b.sets.map(label).join(", ")}.`
  );
  return parts.join(" ");
}

/** Options of {@linkcode table3}. */
export interface Table3Options {
  /** OOD data sets, in block order (the Average block follows). */
  datasets: string[];
  /** Labels of data sets (default: the paper's names for its sets, else the key). */
  datasetLabels?: Record<string, string>;
  /** Method keys in row order (default: the paper's order, then others by appearance). */
  methods?: string[];
  /** The paper's Table 3 rows, to set beside ours. */
  paper?: PaperTable3Row[];
  /** Our data set -> the paper's data set key (as in {@linkcode Table1Options}). */
  paperDatasets?: Record<string, string>;
  /** With `paper`: separate ours / paper / Δ columns (default) or one text cell each. */
  layout?: CompareLayout;
  /** Table title. */
  title?: string;
  /** Near-OOD / far-OOD sets: adds their average blocks before "Average". */
  oodGroups?: OodGroups;
}

/**
 * The paper's Table 3 (appendix D): for each OOD set, then (with `oodGroups`) for Near-OOD and
 * Far-OOD, then for the Average over all of them, one row per method with AUROC, FPR95 and AUPR
 * (= AUPR-In, ID positive, as in the paper).
 */
export function table3(rows: readonly MetricRow[], opts: Table3Options): Table {
  const index = indexRows(rows);
  const datasets = opts.datasets;
  const methods = orderMethods(index, datasets, opts.methods);
  const layout = opts.paper ? (opts.layout ?? "columns") : undefined;
  const pkeys = paperKeys(datasets, opts.paperDatasets);
  const blocks = summaryBlocks(datasets, opts.oodGroups);
  const paperRow = (dataset: string | undefined, m: string) =>
    dataset ? opts.paper?.find((r) => r.dataset === dataset && r.method === m) : undefined;

  const columns = ["OOD dataset", "Method"];
  for (const metric of ["AUROC", "FPR95", "AUPR"]) columns.push(...metricColumns(metric, layout));

  const keys: [MetricKey, "auroc" | "fpr95" | "aupr"][] = [
    ["auroc", "auroc"],
    ["fpr95", "fpr95"],
    ["aupr_in", "aupr"],
  ];
  const body: Cell[][] = [];
  datasets.forEach((d, j) => {
    for (const m of methods) {
      const p = paperRow(pkeys[j], m);
      const row: Cell[] = [datasetLabel(d, opts.datasetLabels), methodLabel(m)];
      for (const [ours, theirs] of keys) {
        pushMetric(row, value(index, m, d, ours), p?.[theirs], layout);
      }
      body.push(row);
    }
  });
  for (const b of blocks) {
    const bkeys = b.sets.map((d) => pkeys[datasets.indexOf(d)]);
    for (const m of methods) {
      const row: Cell[] = [b.label, methodLabel(m)];
      for (const [ours, theirs] of keys) {
        const paper = isPaperFour(bkeys)
          ? paperRow("average", m)?.[theirs]
          : mean(bkeys.map((k) => paperRow(k, m)?.[theirs] ?? NaN));
        pushMetric(row, average(index, m, b.sets, ours), paper, layout);
      }
      body.push(row);
    }
  }
  const label = (d: string) => datasetLabel(d, opts.datasetLabels);
  const notes = [
    "All values are percentages. AUPR is AUPR-In (ID as the positive class), as in the paper's " +
    `Table 3. ${summaryNote(datasets, blocks, label)}`,
  ];
  if (layout) {
    notes.push(
      "Paper: Table 3 of Huang & Li, CVPR 2021 (appendix D). Δ = ours - paper, in percentage points.",
    );
  }
  return {
    title: opts.title ?? "Table 3: OOD detection performance with AUPR",
    columns,
    rows: body,
    notes,
  };
}

/** ID top-1 accuracy of the flat and the group (MOS) head, as FRACTIONS in [0, 1]. */
export interface Accuracy {
  flat?: number;
  group?: number;
}

function checkFraction(v: number | undefined, name: string): number {
  if (v === undefined) return NaN;
  if (!(v >= 0 && v <= 1)) {
    throw new RangeError(`Accuracy ${name} must be a fraction in [0, 1], got ${v}`);
  }
  return v * 100;
}

/**
 * The paper's accuracy comparison as one sentence, e.g.
 * `ID top-1 accuracy: flat 75.20% vs group 75.16% (group - flat: -0.04 points)`; with
 * `paper: true` the paper's 75.20% / 75.16% follow. Accuracies are fractions in [0, 1].
 */
export function accuracyLine(acc: Accuracy, opts: { paper?: boolean } = {}): string {
  const flat = checkFraction(acc.flat, "flat");
  const group = checkFraction(acc.group, "group");
  const pct = (v: number) => Number.isFinite(v) ? `${formatCell(v)}%` : formatCell(v);
  let s = `ID top-1 accuracy: flat ${pct(flat)} vs group ${pct(group)}`;
  if (Number.isFinite(flat) && Number.isFinite(group)) {
    s += ` (group - flat: ${signed(group - flat)} points)`;
  }
  if (opts.paper) {
    s += `; paper: flat ${pct(PAPER_ACCURACY.flat)} vs group ${pct(PAPER_ACCURACY.group)}`;
  }
  return s;
}

/**
 * The same comparison as a table (rows flat / group; accuracy in percent), with the paper's
 * values and Δ = ours - paper when `paper` is set. Accuracies are fractions in [0, 1].
 */
export function accuracyTable(acc: Accuracy, opts: { paper?: boolean } = {}): Table {
  const flat = checkFraction(acc.flat, "flat");
  const group = checkFraction(acc.group, "group");
  const columns = ["Head", "Top-1 accuracy (%)"];
  if (opts.paper) columns.push("Top-1 accuracy paper (%)", "Δ");
  const rows: Cell[][] = [
    ["flat softmax", flat],
    ["group softmax (MOS)", group],
  ];
  if (opts.paper) {
    rows[0].push(PAPER_ACCURACY.flat, flat - PAPER_ACCURACY.flat);
    rows[1].push(PAPER_ACCURACY.group, group - PAPER_ACCURACY.group);
  }
  return {
    title: "In-distribution classification accuracy",
    columns,
    rows,
    notes: opts.paper ? ["Paper: Section 4.3 (BiT-S-R101x1 on ImageNet-1k val)."] : undefined,
  };
}
