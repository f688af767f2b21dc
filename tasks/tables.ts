/**
 * `deno task tables`: the only table builder. Reads raw score results (metrics.csv and
 * timings.csv of one or more score directories, head.json accuracies) and renders the paper's
 * Table 1 and Table 3 as CSV and Markdown, optionally beside the published numbers.
 *
 * @module
 */
import { DataError, UsageError } from "../lib/errors.ts";
import type { NamedPath } from "../lib/io/containment.ts";
import { readHead } from "../lib/io/head.ts";
import { parseIntervalsCsv, parseTimingsCsv } from "../lib/io/score_files.ts";
import type { IntervalRow } from "../lib/metrics/bootstrap.ts";
import { metricsConventionNote } from "../lib/metrics/convention.ts";
import {
  defaultPaperDir,
  PAPER_DATASETS,
  PAPER_FILES,
  parsePaperTable1,
  parsePaperTable3,
} from "../lib/tables/paper_reference.ts";
import {
  type Accuracy,
  accuracyLine,
  type MetricRow,
  parseMetricsCsv,
  table1,
  table3,
} from "../lib/tables/paper_tables.ts";
import { type OodGroups, oodGroupsProblem } from "../lib/config/ood_groups.ts";
import { intervalsTable } from "../lib/tables/interval_tables.ts";
import { renderCsv, renderMarkdown, type Table } from "../lib/tables/render.ts";
import { renderTerminal } from "../lib/tables/terminal.ts";
import { type FlagValues, requireString, runTask, type TaskSpec } from "./_shared/cli.ts";
import { scoreDirsConvention } from "./_shared/metrics_convention_flag.ts";
import { type StagedWriter, withResultDir } from "./_shared/result_dir.ts";

export const SPEC: TaskSpec = {
  name: "tables",
  summary: "Render the paper's Table 1 and Table 3 (CSV + Markdown) from score results.",
  usage: "deno task tables --scores DIR [--scores DIR ...] --out DIR [--flat-head DIR] " +
    "[--group-head DIR] [--datasets LIST] [--near LIST --far LIST] [--compare-paper] " +
    "[--paper-map ours=paper,...]",
  flags: {
    scores: {
      type: "string",
      multiple: true,
      help: "DIR   a score output directory (metrics.csv, timings.csv); repeatable",
    },
    out: { type: "string", help: "DIR   where table1.{csv,md} and table3.{csv,md} go" },
    "flat-head": { type: "string", help: "DIR   flat head (its val accuracy goes in the notes)" },
    "group-head": { type: "string", help: "DIR   group head (its val accuracy)" },
    datasets: { type: "string", help: "LIST  OOD sets in column order (default: as found)" },
    "compare-paper": {
      type: "boolean",
      help: "put the paper's numbers and the differences beside",
    },
    "paper-map": {
      type: "string",
      help: "LIST  ours=paper pairs for comparing sets with other names (e.g. sun-like=sun)",
    },
    title: { type: "string", help: "TEXT  title suffix (e.g. the backbone or 'synthetic data')" },
    near: {
      type: "string",
      help: "LIST  near-OOD sets: adds Near-OOD / Far-OOD averages (with --far), as OpenOOD",
    },
    far: { type: "string", help: "LIST  far-OOD sets (with --near)" },
    ci: {
      type: "boolean",
      help: "also write table1_ci.{csv,md} from metrics_ci.csv (score --ci) of each --scores DIR",
    },
  },
};

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

/**
 * Builds Table 1 and Table 3 (and the intervals table with `ci`) from score directories. Reads
 * only; every check that can fail runs here, before an output directory is touched.
 */
export async function buildPaperTables(o: PaperTablesOptions): Promise<PaperTables> {
  if (o.scoreDirs.length === 0) throw new UsageError("--scores DIR is required (at least one)");
  const rows: MetricRow[] = [];
  const times: Record<string, number> = {};
  for (const dir of o.scoreDirs) {
    const path = `${dir}/metrics.csv`;
    rows.push(...parseMetricsCsv(await readText(path, "metrics.csv"), path));
    const tPath = `${dir}/timings.csv`;
    const tText = await Deno.readTextFile(tPath).catch(() => null);
    if (tText !== null) Object.assign(times, parseTimingsCsv(tText, tPath));
  }
  // Metrics of different conventions must not share a table (a DataError names the dirs).
  const convention = await scoreDirsConvention(o.scoreDirs);
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
  const datasets = o.datasets ?? found;
  for (const d of datasets) {
    if (!found.includes(d)) {
      throw new DataError(`--datasets names "${d}" but no metrics.csv has it; found ${found}`);
    }
  }
  let paper1, paper3;
  if (o.comparePaper) {
    const dir = defaultPaperDir();
    paper1 = parsePaperTable1(await Deno.readTextFile(`${dir}/${PAPER_FILES.table1}`));
    paper3 = parsePaperTable3(await Deno.readTextFile(`${dir}/${PAPER_FILES.table3}`));
    const comparable = datasets.some((d) => PAPER_DATASETS.includes(o.paperMap?.[d] ?? d));
    if (!comparable) {
      throw new UsageError(
        `--compare-paper: none of ${datasets.join(", ")} is one of the paper's sets ` +
          `(${PAPER_DATASETS.join(", ")}); map them with --paper-map ours=paper`,
      );
    }
  }
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
  const acc: Accuracy = {
    flat: await headAccuracy(o.flatHead),
    group: await headAccuracy(o.groupHead),
  };
  const accuracy = acc.flat !== undefined || acc.group !== undefined
    ? accuracyLine(acc, { paper: o.comparePaper })
    : null;
  // The test-time definition is one of Table 1's own notes (Table 3 has no time column).
  const notes = [
    ...(o.notes ?? []),
    // The default convention's metrics are the paper's and need no note.
    ...(convention === "openood" ? [metricsConventionNote(convention)] : []),
    ...(accuracy ? [accuracy] : []),
  ];
  t1.notes = [...(t1.notes ?? []), ...notes];
  t3.notes = [...(t3.notes ?? []), ...notes];
  let ciTable: Table | undefined;
  if (o.ci) {
    const intervals: IntervalRow[] = [];
    for (const dir of o.scoreDirs) {
      const path = `${dir}/metrics_ci.csv`;
      const text = await Deno.readTextFile(path).catch(() => null);
      if (text === null) {
        throw new DataError(
          `--ci: ${path} not found; rerun \`deno task score ... --ci\` for ${dir}`,
        );
      }
      intervals.push(...parseIntervalsCsv(text, path));
    }
    ciTable = intervalsTable(
      intervals,
      datasets,
      `Table 1 with bootstrap 95% intervals (%)${suffix}`,
    );
  }
  return { table1: t1, table3: t3, ci: ciTable, accuracy };
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

/** `--near` / `--far` as OOD groups (both or neither); checked against the sets later. */
function parseGroupFlags(values: FlagValues): OodGroups | undefined {
  const list = (flag: string) =>
    typeof values[flag] === "string"
      ? (values[flag] as string).split(",").map((s) => s.trim()).filter(Boolean)
      : undefined;
  const near = list("near");
  const far = list("far");
  if (near === undefined && far === undefined) return undefined;
  if (near === undefined || far === undefined) {
    throw new UsageError(
      `--${near === undefined ? "far" : "near"} needs --${near === undefined ? "near" : "far"} ` +
        "too: give both lists, e.g. --near sun,places --far inaturalist,textures",
    );
  }
  return { near, far };
}

function parseMap(raw: string | undefined): Record<string, string> | undefined {
  if (!raw) return undefined;
  const map: Record<string, string> = {};
  for (const pair of raw.split(",")) {
    const [ours, theirs] = pair.split("=");
    if (!ours || !theirs) {
      throw new UsageError(
        `--paper-map "${pair}" must be ours=paper, e.g. novel-groups=inaturalist`,
      );
    }
    if (!PAPER_DATASETS.includes(theirs)) {
      throw new UsageError(
        `--paper-map: "${theirs}" is not a paper set; use one of ${PAPER_DATASETS.join(", ")}`,
      );
    }
    map[ours] = theirs;
  }
  return map;
}

async function main(values: FlagValues): Promise<void> {
  const scoreDirs = (values.scores as string[] | undefined) ?? [];
  const flatHead = values["flat-head"] as string | undefined;
  const groupHead = values["group-head"] as string | undefined;
  // Score and head directories are inputs: --out may not be, contain or lie inside one (the
  // pipelines, which write their own score directories under their --out, skip this check).
  const inputs: NamedPath[] = scoreDirs.map((path) => ({ label: "--scores", path }));
  if (flatHead) inputs.push({ label: "--flat-head", path: flatHead });
  if (groupHead) inputs.push({ label: "--group-head", path: groupHead });
  const r = await writePaperTables({
    scoreDirs,
    out: requireString(values, "out", SPEC.name),
    inputs,
    flatHead,
    groupHead,
    datasets: typeof values.datasets === "string"
      ? values.datasets.split(",").map((s) => s.trim()).filter(Boolean)
      : undefined,
    comparePaper: values["compare-paper"] === true,
    paperMap: parseMap(values["paper-map"] as string | undefined),
    title: values.title as string | undefined,
    ci: values.ci === true,
    oodGroups: parseGroupFlags(values),
  });
  console.error(`tables: wrote ${r.files.join(", ")}`);
  console.log(renderTerminal(r.table1));
  if (r.ci) console.log(renderTerminal(r.ci));
}

if (import.meta.main) await runTask(SPEC, main);
