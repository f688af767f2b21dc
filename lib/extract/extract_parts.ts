/**
 * The resumable parts of an extraction under `<out>/.parts/`: one record (`part-NNNNNN.json`) and
 * one array per output (`part-NNNNNN.<name>.npy`) per chunk of list positions, and `run.json`,
 * which names the run's key and the exact files it may write, so that they (and only they) are
 * removed afterwards.
 *
 * @module
 */
import type { NpyDtype } from "../io/npy.ts";
import { isSafeOutputName, VIEWS_OUTPUT } from "./set_files.ts";

/** The parts directory inside `--out`. */
export const PARTS = ".parts";

/** Name of the training-views array (its part files: `part-NNNNNN.views.npy`). */
export const VIEWS = VIEWS_OUTPUT;

/** Largest chunk count a run.json may claim (a damaged one must not start a huge loop). */
const MAX_CHUNKS = 100_000_000;

/** One finished chunk. */
export interface PartRecord {
  key: string;
  chunk: number;
  start: number;
  end: number;
  ok: number;
  /** List positions (global) and reasons of unreadable images. */
  skipped: [number, string][];
  dims: Record<string, number>;
}

/** `.parts/run.json`: the run's key, and the exact part files it may write (for removal). */
export interface RunRecord {
  key: string;
  /** Chunks of the run: part files are `part-NNNNNN.json` and `part-NNNNNN.<part>.npy`. */
  chunks: number;
  /** The `<part>` names: the kept outputs, and `views`. */
  parts: string[];
}

/** The file stem of chunk `chunk`. */
export function partName(chunk: number): string {
  return `part-${String(chunk).padStart(6, "0")}`;
}

/** Storage type of an output: logits always float32, the rest as `--dtype`. */
export function storageDtype(output: string, dtype: "f32" | "f16"): NpyDtype {
  return output === "logits" || dtype === "f32" ? "<f4" : "<f2";
}

/** Parsed JSON of `path`, or null when it is missing or not JSON. */
export async function readJsonOrNull<T>(path: string): Promise<T | null> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as T;
  } catch {
    return null;
  }
}

/** The part files a run record names, run.json last; names that are not ours are skipped. */
function partFiles(run: Partial<RunRecord> | null): string[] {
  if (!run) return [];
  const chunks = Number.isSafeInteger(run.chunks) && run.chunks! >= 0 && run.chunks! <= MAX_CHUNKS
    ? run.chunks!
    : 0;
  const parts = Array.isArray(run.parts) ? run.parts.filter(isSafeOutputName) : [];
  const files: string[] = [];
  for (let c = 0; c < chunks; c++) {
    files.push(`${partName(c)}.json`);
    for (const p of parts) files.push(`${partName(c)}.${p}.npy`);
  }
  files.push("run.json");
  return files;
}

/**
 * Removes the part files `run` lists, then `.parts` itself if that left it empty. Returns a
 * warning when something else is in there (it is left alone).
 */
export async function removeParts(
  partsDir: string,
  run: Partial<RunRecord> | null,
): Promise<string[]> {
  for (const f of partFiles(run)) {
    await Deno.remove(`${partsDir}/${f}`).catch((err) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    });
  }
  try {
    await Deno.remove(partsDir);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    const left: string[] = [];
    for await (const e of Deno.readDir(partsDir)) left.push(e.name);
    if (left.length === 0) throw err;
    return [
      `${partsDir} still holds ${left.length} entries no extraction run lists (${
        left.sort().slice(0, 3).join(", ")
      }${left.length > 3 ? ", ..." : ""}); they were left alone`,
    ];
  }
  return [];
}

/**
 * Whether a part record describes chunk [a, b) consistently (a damaged record is recomputed, never
 * trusted): its range, an image count plus skipped positions inside the range that cover it, and
 * a positive width for every part array.
 */
export function validRecord(
  rec: PartRecord,
  a: number,
  b: number,
  parts: readonly string[],
): boolean {
  if (rec.start !== a || rec.end !== b || !Number.isSafeInteger(rec.ok) || rec.ok < 0) return false;
  if (!Array.isArray(rec.skipped) || rec.ok + rec.skipped.length !== b - a) return false;
  const seen = new Set<number>();
  for (const s of rec.skipped) {
    if (!Array.isArray(s) || !Number.isSafeInteger(s[0]) || typeof s[1] !== "string") return false;
    if (s[0] < a || s[0] >= b || seen.has(s[0])) return false;
    seen.add(s[0]);
  }
  if (rec.ok === 0) return true;
  const dims = rec.dims;
  if (dims === null || typeof dims !== "object") return false;
  return parts.every((p) => Number.isSafeInteger(dims[p]) && dims[p] > 0 && dims[p] <= 1 << 24);
}

/**
 * The finished chunks of run `key` in `partsDir` (null where a chunk is missing, stale or
 * damaged), for the shard positions [start, end) cut into `chunkSize` chunks.
 */
export async function loadRecords(
  partsDir: string,
  o: { key: string; start: number; end: number; chunkSize: number; parts: readonly string[] },
): Promise<(PartRecord | null)[]> {
  const nChunks = Math.ceil((o.end - o.start) / o.chunkSize);
  const records: (PartRecord | null)[] = new Array(nChunks).fill(null);
  for (let c = 0; c < nChunks; c++) {
    const rec = await readJsonOrNull<PartRecord>(`${partsDir}/${partName(c)}.json`);
    const a = o.start + c * o.chunkSize;
    if (
      rec && rec.key === o.key && rec.chunk === c &&
      validRecord(rec, a, Math.min(o.end, a + o.chunkSize), o.parts)
    ) {
      records[c] = rec;
    }
  }
  return records;
}
