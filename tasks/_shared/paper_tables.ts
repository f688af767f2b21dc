/**
 * Table 1 and Table 3 (and the bootstrap intervals) from score directories: read metrics.csv,
 * timings.csv, metrics_ci.csv and head accuracies, check them, render the tables, and stage or
 * write them. Shared by `deno task tables` and the paper pipeline (demo, table1).
 *
 * @module
 */
import { DataError, UsageError } from "../../lib/errors.ts";
import type { NamedPath } from "../../lib/io/containment.ts";
import { readHead } from "../../lib/io/head.ts";
import { parseIntervalsCsv, parseTimingsCsv } from "../../lib/scoring/score_files.ts";
import type { IntervalRow } from "../../lib/metrics/bootstrap.ts";
import { type MetricsConvention, metricsConventionNote } from "../../lib/metrics/convention.ts";
import {
  defaultPaperDir,
  PAPER_DATASETS,
  PAPER_FILES,
  parsePaperTable1,
  parsePaperTable3,
} from "../../lib/tables/paper_reference.ts";
import {
  type Accuracy,
  accuracyLine,
  type MetricRow,
  table1,
  table3,
} from "../../lib/tables/paper_tables.ts";
import { parseMetricsCsv } from "../../lib/metrics/metric_row.ts";
import { type OodGroups, oodGroupsProblem } from "../../lib/config/ood_groups.ts";
import { intervalsTable } from "../../lib/tables/interval_tables.ts";
import { renderCsv, renderMarkdown, type Table } from "../../lib/tables/render.ts";
import { scoreDirsConvention } from "./metrics_convention_flag.ts";
import { type StagedWriter, withResultDir } from "./result_dir.ts";
import { INTERVALS_FLAG_WORDING } from "./interval_note.ts";

/** Inputs of {@linkcode buildPaperTables}. */
export interface PaperTablesOptions {
  scoreDirs: string[];
  flatHead?: string;
  groupHead?: string;
  datasets?: string[];
  comparePaper?: boolean;
  paperMap?: Record<string, string>;
  /** Extra words for the titles, e.g. "synthetic demo data". */
  title?: string;
  /** Notes added under both tables. */
  notes?: string[];
  /** Also render the bootstrap intervals of metrics_ci.csv (written by `score --ci`). */
  ci?: boolean;
  /** Near-OOD / far-OOD sets: Near-OOD and Far-OOD averages beside the overall Average. */
  oodGroups?: OodGroups;
}

/** The rendered tables. */
export interface PaperTables {
  table1: Table;
  table3: Table;
  /** Intervals table (with `ci`). */
  ci?: Table;
  accuracy: string | null;
}

/** The rendered tables and the paths they were written to. */
export interface PaperTablesResult extends PaperTables {
  files: string[];
}

/** Completion marker of a tables directory: Table 1's CSV lands after every other file. */
export const TABLES_MARKERS: readonly string[] = ["table1.csv"];

async function readText(path: string, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    throw new DataError(`${what} not found: ${path}; run \`deno task score\` first`);
  }
}

async function headAccuracy(dir: string | undefined): Promise<number | undefined> {
  if (!dir) return undefined;
  const head = await readHead(dir);
  const acc = head.info.train?.val_accuracy;
  return typeof acc === "number" ? acc : undefined;
}

/** The metric rows and test times of the score directories (metrics.csv, timings.csv). */
async function readScoreRows(
  scoreDirs: readonly string[],
): Promise<{ rows: MetricRow[]; times: Record<string, number> }> {
  const rows: MetricRow[] = [];
  const times: Record<string, number> = {};
  for (const dir of scoreDirs) {
    const path = `${dir}/metrics.csv`;
    rows.push(...parseMetricsCsv(await readText(path, "metrics.csv"), path));
    const tPath = `${dir}/timings.csv`;
    const tText = await Deno.readTextFile(tPath).catch(() => null);
    if (tText !== null) Object.assign(times, parseTimingsCsv(tText, tPath));
  }
  return { rows, times };
}

/**
 * The OOD sets of the tables (`o.datasets`, else as found), after checking that no method and
 * set comes twice and that every requested set was scored.
 */
function tableDatasets(rows: readonly MetricRow[], requested?: readonly string[]): string[] {
  const seen = new Set<string>();
  for (const r of rows) {
    const key = `${r.method}/${r.dataset}`;
    if (seen.has(key)) {
      throw new DataError(
        `Method "${r.method}" on "${r.dataset}" appears in more than one --scores directory; ` +
          `give each method once`,
      );
    }
    seen.add(key);
  }
  const found = [...new Set(rows.map((r) => r.dataset))];
  const datasets = requested ? [...requested] : found;
  for (const d of datasets) {
    if (!found.includes(d)) {
      throw new DataError(`--datasets names "${d}" but no metrics.csv has it; found ${found}`);
    }
  }
  return datasets;
}

/** The paper's Table 1 and Table 3 when comparing, checked to share a set with ours. */
async function paperReference(o: PaperTablesOptions, datasets: readonly string[]) {
  if (!o.comparePaper) return { paper1: undefined, paper3: undefined };
  const dir = defaultPaperDir();
  const paper1 = parsePaperTable1(await Deno.readTextFile(`${dir}/${PAPER_FILES.table1}`));
  const paper3 = parsePaperTable3(await Deno.readTextFile(`${dir}/${PAPER_FILES.table3}`));
  const comparable = datasets.some((d) => PAPER_DATASETS.includes(o.paperMap?.[d] ?? d));
  if (!comparable) {
    throw new UsageError(
      `--compare-paper: none of ${datasets.join(", ")} is one of the paper's sets ` +
        `(${PAPER_DATASETS.join(", ")}); map them with --paper-map ours=paper`,
    );
  }
  return { paper1, paper3 };
}

/** The notes under both tables: the caller's, the metrics convention's, the head accuracies. */
async function tableNotes(
  o: PaperTablesOptions,
  convention: MetricsConvention | null,
): Promise<{ notes: string[]; accuracy: string | null }> {
  const acc: Accuracy = {
    flat: await headAccuracy(o.flatHead),
    group: await headAccuracy(o.groupHead),
  };
  const accuracy = acc.flat !== undefined || acc.group !== undefined
    ? accuracyLine(acc, { paper: o.comparePaper })
    : null;
  const notes = [
    ...(o.notes ?? []),
    // The default convention's metrics are the paper's and need no note.
    ...(convention === "openood" ? [metricsConventionNote(convention)] : []),
    ...(accuracy ? [accuracy] : []),
  ];
  return { notes, accuracy };
}

/** The table of bootstrap intervals from each score directory's metrics_ci.csv (`score --ci`). */
async function intervalsOf(
  scoreDirs: readonly string[],
  datasets: string[],
  suffix: string,
): Promise<Table> {
  const intervals: IntervalRow[] = [];
  for (const dir of scoreDirs) {
    const path = `${dir}/metrics_ci.csv`;
    const text = await Deno.readTextFile(path).catch(() => null);
    if (text === null) {
      throw new DataError(
        `--ci: ${path} not found; rerun \`deno task score ... --ci\` for ${dir}`,
      );
    }
    intervals.push(...parseIntervalsCsv(text, path));
  }
  return intervalsTable(
    intervals,
    datasets,
    `Table 1 with bootstrap 95% intervals (%)${suffix}`,
    INTERVALS_FLAG_WORDING,
  );
}

/**
 * Builds Table 1 and Table 3 (and the intervals table with `ci`) from score directories. Reads
 * only; every check that can fail runs here, before an output directory is touched.
 */
export async function buildPaperTables(o: PaperTablesOptions): Promise<PaperTables> {
  if (o.scoreDirs.length === 0) throw new UsageError("--scores DIR is required (at least one)");
  const { rows, times } = await readScoreRows(o.scoreDirs);
  // Metrics of different conventions must not share a table (a DataError names the dirs).
  const convention = await scoreDirsConvention(o.scoreDirs);
  const datasets = tableDatasets(rows, o.datasets);
  const { paper1, paper3 } = await paperReference(o, datasets);
  if (o.oodGroups) {
    const problem = oodGroupsProblem(o.oodGroups, datasets);
    if (problem) throw new UsageError(`--near / --far: ${problem}`);
  }
  const suffix = o.title ? ` (${o.title})` : "";
  const t1 = table1(rows, {
    datasets,
    times,
    paper: paper1,
    paperDatasets: o.paperMap,
    title: `Table 1: OOD detection, AUROC / FPR95 (%)${suffix}`,
    oodGroups: o.oodGroups,
  });
  const t3 = table3(rows, {
    datasets,
    paper: paper3,
    paperDatasets: o.paperMap,
    title: `Table 3: AUROC / FPR95 / AUPR-In (%)${suffix}`,
    oodGroups: o.oodGroups,
  });
  // The test-time definition is one of Table 1's own notes (Table 3 has no time column).
  const { notes, accuracy } = await tableNotes(o, convention);
  t1.notes = [...(t1.notes ?? []), ...notes];
  t3.notes = [...(t3.notes ?? []), ...notes];
  const ci = o.ci ? await intervalsOf(o.scoreDirs, datasets, suffix) : undefined;
  return { table1: t1, table3: t3, ci, accuracy };
}

/** Stages the files of `t` (see {@linkcode TABLES_MARKERS} for the one committed last). */
export async function stagePaperTables(w: StagedWriter, t: PaperTables): Promise<void> {
  const all = [["table1", t.table1], ["table3", t.table3]] as [string, Table][];
  if (t.ci) all.push(["table1_ci", t.ci]);
  for (const [name, table] of all) {
    await w.text(`${name}.csv`, renderCsv(table));
    await w.text(`${name}.md`, renderMarkdown(table));
  }
}

/**
 * Builds the tables and writes them under `out`: locked, staged and committed together, so a
 * failed run (a full disk included) leaves the previous tables byte for byte. `inputs` are the
 * paths `out` must stay outside of.
 */
export async function writePaperTables(
  o: PaperTablesOptions & { out: string; inputs?: readonly NamedPath[] },
): Promise<PaperTablesResult> {
  const tables = await buildPaperTables(o);
  const files = await withResultDir(
    o.out,
    { purpose: "tables", inputs: o.inputs },
    (dir) => dir.commit((w) => stagePaperTables(w, tables), TABLES_MARKERS),
  );
  return { ...tables, files };
}
