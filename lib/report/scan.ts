/**
 * What a results directory holds, for the report: its tables (Markdown, and CSV files without a
 * Markdown twin), its figures (SVG), its score files (`.npy` per method and data set) and its
 * manifests. The walk is deterministic (names in code-point order), never follows a symbolic
 * link (so nothing outside the directory is read into the page), and skips what no reader may
 * take for a result: hidden entries (`.lock`, `.staging.tmp-*`, `.parts`, `.checkpoint`), temp
 * files (`*.tmp-*`) and the report itself.
 *
 * Two score layouts are recognised:
 * - a score stage (`deno task score`): `<dir>/scores/<method>/<dataset>.npy`, the ID set's name in
 *   `<dir>/manifest.json` (`config.id`, default "id") and the OOD order in `config.ood`;
 * - a detector stage of table1-extended: `<dir>/<method>/scores/<dataset>.npy`, ID set "id", the
 *   method's label in `<dir>/<method>/result.json`.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import { metricsCsvOrder, type MetricsOrder } from "../metrics/metric_row.ts";

/** The report's own file name in a results directory. */
export const REPORT_FILE = "report.html";

/** Most directory entries a scan visits before it refuses the directory. */
export const MAX_SCAN_ENTRIES = 200_000;

/** A text file of the results directory, by path relative to it ("/"-separated). */
export interface TextFile {
  rel: string;
  text: string;
}

/** The score files of one method in one score directory. */
export interface ScoreSet {
  /** Directory holding the method's scores, relative to the root, e.g. "scores/flat" */
  group: string;
  /** Method key (the directory name), e.g. "msp". */
  method: string;
  /** Label from the stage's result.json, when it has one. */
  label?: string;
  /** Name of the ID set ("id" unless the manifest says otherwise). */
  id: string;
  /** OOD set names, in the manifest's order when it lists them, else sorted. */
  ood: string[];
  /** Absolute-or-as-given path of `<name>.npy` for the ID set and every OOD set. */
  files: Record<string, string>;
}

/** Everything the report reads. */
export interface ResultsScan {
  /** Markdown tables, by path. */
  markdown: TextFile[];
  /** CSV files with no `.md` of the same name beside them. */
  csv: TextFile[];
  /** SVG figures, in natural order of their paths (fig6 before fig11). */
  svg: TextFile[];
  scoreSets: ScoreSet[];
  /** Every manifest.json (text as read; parsed by the provenance section). */
  manifests: TextFile[];
  /** Score directories that could not be used, one line each (shown on the page). */
  problems: string[];
}

/** Largest text file (table, figure, manifest) a report inlines. */
export const MAX_TEXT_BYTES = 32 << 20;

/** Whether a directory entry is bookkeeping or a temp file, never a result. */
export function isHidden(name: string): boolean {
  return name.startsWith(".") || name.includes(".tmp-");
}

/** Compares two paths with digit runs as numbers ("fig6" < "fig11"), then by code points. */
export function naturalCompare(a: string, b: string): number {
  const re = /(\d+)|(\D+)/g;
  const pa = a.match(re) ?? [];
  const pb = b.match(re) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === y) continue;
    const dx = /^\d/.test(x);
    const dy = /^\d/.test(y);
    if (dx && dy) {
      const nx = BigInt(x);
      const ny = BigInt(y);
      if (nx !== ny) return nx < ny ? -1 : 1;
    }
    return x < y ? -1 : 1;
  }
  if (pa.length !== pb.length) return pa.length - pb.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

interface Entry {
  rel: string;
  path: string;
}

/** How {@linkcode scanResults} names its directory in errors; a task passes its flag wording. */
export interface ScanLabels {
  /** The results directory as the caller shows it (default "results directory"). */
  label?: string;
  /**
   * What to give instead of a missing, non-directory or too large one (default "give the output
   * directory of one finished task").
   */
  hint?: string;
}

/**
 * Every regular file below `root` (relative "/"-paths), without following symbolic links; more
 * than `maxEntries` entries is a `DataError` named by `what` ("<label> <root>").
 */
async function walk(
  root: string,
  maxEntries: number,
  what: string,
  hint: string,
): Promise<Entry[]> {
  const files: Entry[] = [];
  let visited = 0;
  const visit = async (dir: string, rel: string) => {
    const names: Deno.DirEntry[] = [];
    for await (const e of Deno.readDir(dir)) {
      if (++visited > maxEntries) {
        throw new DataError(
          `${what} holds more than ${maxEntries} files and directories; ${hint}`,
        );
      }
      names.push(e);
    }
    names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of names) {
      if (isHidden(e.name) || e.isSymlink) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) await visit(`${dir}/${e.name}`, r);
      else if (e.isFile && !(rel === "" && e.name === REPORT_FILE)) {
        files.push({ rel: r, path: `${dir}/${e.name}` });
      }
    }
  };
  await visit(root, "");
  return files;
}

async function readText(e: Entry): Promise<string> {
  const info = await Deno.stat(e.path);
  if (info.size > MAX_TEXT_BYTES) {
    throw new DataError(
      `${e.path} is ${info.size} bytes, over the report's ${MAX_TEXT_BYTES}-byte limit for one ` +
        "table, figure or manifest; move it out of the results directory",
    );
  }
  return await Deno.readTextFile(e.path);
}

/**
 * `root/rel` parsed as a JSON object; null when the walk did not find it as a regular file (so a
 * link is never followed) or it is not a JSON object.
 */
async function readJson(
  root: string,
  rel: string,
  present: Set<string>,
): Promise<Record<string, unknown> | null> {
  if (!present.has(rel)) return null;
  try {
    const v = JSON.parse(await readText({ rel, path: `${root}/${rel}` }));
    return v !== null && typeof v === "object" && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

/** The directory part of a relative path ("" at the root). */
function dirOf(rel: string): string {
  const i = rel.lastIndexOf("/");
  return i === -1 ? "" : rel.slice(0, i);
}

function join(a: string, b: string): string {
  return a ? `${a}/${b}` : b;
}

/**
 * Scans `root` (a results directory). Throws a `DataError` when `root` is not a directory, and
 * when it holds more than `o.maxEntries` (default {@linkcode MAX_SCAN_ENTRIES}) entries or a text file over
 * {@linkcode MAX_TEXT_BYTES}. The errors name `root` as `o.label` and end with `o.hint`
 * (see {@linkcode ScanLabels}).
 */
export async function scanResults(
  root: string,
  o: { maxEntries?: number } & ScanLabels = {},
): Promise<ResultsScan> {
  const what = `${o.label ?? "results directory"} ${root}`;
  const hint = o.hint ?? "give the output directory of one finished task";
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(root);
  } catch {
    throw new DataError(`${what} not found; ${hint}`);
  }
  if (!info.isDirectory) {
    throw new DataError(`${what} is not a directory; ${hint}`);
  }
  const files = await walk(root, o.maxEntries ?? MAX_SCAN_ENTRIES, what, hint);
  const present = new Set(files.map((f) => f.rel));
  const out: ResultsScan = {
    markdown: [],
    csv: [],
    svg: [],
    scoreSets: [],
    manifests: [],
    problems: [],
  };
  const scoreFiles = new Map<string, ScoreFiles>();
  for (const f of files) await sortFile(f, present, out, scoreFiles);
  out.svg.sort((a, b) => naturalCompare(a.rel, b.rel));
  out.scoreSets = await scoreSetsOf(root, present, scoreFiles.values(), out.problems);
  return out;
}

/** The `.npy` score files of one method in one directory, before their manifest is read. */
interface ScoreFiles {
  group: string;
  method: string;
  /** The stage directory (holds manifest.json, and result.json in table1-extended's layout). */
  stage: string;
  /** Data set name -> path of its `.npy`. */
  names: Map<string, string>;
}

/**
 * Files one walked entry into `out` (tables, figures, manifests) or `scoreFiles` (keyed
 * "<group>\0<method>"); anything else is left out.
 */
async function sortFile(
  f: Entry,
  present: Set<string>,
  out: ResultsScan,
  scoreFiles: Map<string, ScoreFiles>,
): Promise<void> {
  const parts = f.rel.split("/");
  const name = parts[parts.length - 1];
  if (name.endsWith(".md")) out.markdown.push({ rel: f.rel, text: await readText(f) });
  else if (name.endsWith(".csv")) {
    if (!present.has(f.rel.slice(0, -4) + ".md")) {
      out.csv.push({ rel: f.rel, text: await readText(f) });
    }
  } else if (name.endsWith(".svg")) out.svg.push({ rel: f.rel, text: await readText(f) });
  else if (name === "manifest.json") out.manifests.push({ rel: f.rel, text: await readText(f) });
  else if (name.endsWith(".npy") && parts.length >= 2) {
    const where = scoreLayout(parts);
    if (where === null) return;
    const key = `${where.group}\0${where.method}`;
    if (!scoreFiles.has(key)) scoreFiles.set(key, { ...where, names: new Map() });
    scoreFiles.get(key)!.names.set(name.slice(0, -4), f.path);
  }
}

/** Group, method and stage of a score file's path parts, or null in neither score layout. */
export function scoreLayout(
  parts: readonly string[],
): { group: string; method: string; stage: string } | null {
  const n = parts.length;
  if (n >= 3 && parts[n - 3] === "scores") {
    // <stage>/scores/<method>/<dataset>.npy
    const stage = parts.slice(0, n - 3).join("/");
    return { group: stage, method: parts[n - 2], stage };
  }
  if (n >= 3 && parts[n - 2] === "scores") {
    // <group>/<method>/scores/<dataset>.npy
    return {
      group: parts.slice(0, n - 3).join("/"),
      method: parts[n - 3],
      stage: parts.slice(0, n - 2).join("/"),
    };
  }
  return null;
}

/**
 * The drawable score sets: each method's ID set (from its manifest) and OOD sets in table order,
 * groups in path order and, within a group, the table's method order. A method without ID or
 * OOD scores adds a line to `problems` instead.
 */
async function scoreSetsOf(
  root: string,
  present: Set<string>,
  scoreFiles: Iterable<ScoreFiles>,
  problems: string[],
): Promise<ScoreSet[]> {
  const sets: { set: ScoreSet; rank: number }[] = [];
  const orders = new Map<string, MetricsOrder>();
  for (const s of scoreFiles) {
    const manifest = await readJson(root, join(s.stage, "manifest.json"), present);
    const config = manifest?.config as Record<string, unknown> | undefined;
    const id = typeof config?.id === "string" ? config.id : "id";
    const where = join(s.stage, s.stage === s.group ? `scores/${s.method}` : "scores");
    if (!s.names.has(id)) {
      problems.push(`${where}: no ${id}.npy (the ID set's scores); not drawn`);
      continue;
    }
    if (!orders.has(s.group)) orders.set(s.group, await tableOrder(root, s.group, present));
    const order = orders.get(s.group)!;
    const ood = orderedOod(s.names, id, [...strings(config?.ood), ...order.datasets]);
    if (ood.length === 0) {
      problems.push(`${where}: no OOD set's scores beside ${id}.npy; not drawn`);
      continue;
    }
    const result = s.stage !== s.group
      ? await readJson(root, join(s.stage, "result.json"), present)
      : null;
    const files: Record<string, string> = {};
    for (const n of [id, ...ood]) files[n] = s.names.get(n)!;
    sets.push({
      set: {
        group: s.group,
        method: s.method,
        ...(typeof result?.label === "string" ? { label: result.label } : {}),
        id,
        ood,
        files,
      },
      rank: [...strings(config?.methods), ...order.methods].indexOf(s.method),
    });
  }
  // Groups in path order; within a group, the table's method order, then by key.
  return sets.map((x, i) => ({ ...x, i })).sort((a, b) => {
    if (a.set.group !== b.set.group) return naturalCompare(a.set.group, b.set.group);
    if (a.rank !== b.rank) return a.rank === -1 ? 1 : b.rank === -1 ? -1 : a.rank - b.rank;
    return a.i - b.i;
  }).map((e) => e.set);
}

/** The OOD set names beside `id`: those in `listed` in its order first, the rest sorted. */
function orderedOod(names: Map<string, string>, id: string, listed: string[]): string[] {
  return [...names.keys()].filter((n) => n !== id).sort((a, b) => {
    const [i, j] = [listed.indexOf(a), listed.indexOf(b)];
    if (i !== j) return i === -1 ? 1 : j === -1 ? -1 : i - j;
    return a < b ? -1 : a > b ? 1 : 0;
  });
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

/**
 * The row order of the nearest `metrics.csv` at `group` or above it (a score stage writes one
 * beside its scores, table1-extended one per protocol above its seeds): the methods and data
 * sets in the order the tables list them. Empty when there is none or it has no such columns.
 */
async function tableOrder(
  root: string,
  group: string,
  present: Set<string>,
): Promise<MetricsOrder> {
  for (let g: string | null = group; g !== null; g = g === "" ? null : dirOf(g)) {
    const rel = join(g, "metrics.csv");
    if (!present.has(rel)) continue;
    const order = metricsCsvOrder(await readText({ rel, path: `${root}/${rel}` }));
    if (order !== null) return order;
  }
  return { methods: [], datasets: [] };
}
