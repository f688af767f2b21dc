/**
 * Feature sets: a directory of `features.npy` (N x D f32 or f16), optional `labels.npy` (N int32,
 * -1 for OOD / unlabeled; a set without it is read as all -1), optional `logits.npy` (N x K f32)
 * and `paths.txt` (N lines), and `meta.json`, which is written last and carries
 * `"complete": true`.
 *
 * Bare sets. A directory with `features.npy` and no `meta.json` (features dumped from a user's own
 * model) is read too, its meta taken from the arrays' headers ({@linkcode bareFeatureMeta}), unless
 * it shows a writer of this toolkit at work or interrupted (a `.lock`, a staging or `.parts`
 * directory, or a `manifest.json`): every writer here removes or withholds `meta.json` until its
 * arrays are complete, so there a missing `meta.json` means "incomplete", never "bare".
 * `deno task import-features` writes a validated, hashed `meta.json` for a bare set.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import type { Matrix } from "../matrix.ts";
import { writeJsonAtomic, writeTextAtomic } from "./atomic.ts";
import { readJsonFile } from "./json_file.ts";
import {
  float32ToFloat16Bits,
  type NpyArray,
  type NpyFileInfo,
  readNpy,
  readNpyHeader,
  toFloat32,
  writeNpy,
} from "./npy.ts";
import { quoteValue } from "../quote.ts";

/** Names whose presence shows a writer of this toolkit at work (or interrupted) in a set. */
const WRITER_TRACES = ["manifest.json", ".lock", ".parts"];

/** Contents of `meta.json`. Extra keys (shard, source, timings, ...) are kept as they are. */
export interface FeatureMeta {
  /** Dataset name (a bare set: its directory's name). */
  dataset: string;
  /** Backbone that produced the features (a bare set: "unknown"). */
  backbone: string;
  /** Feature dimension D. */
  dim: number;
  /** Number of samples N. */
  count: number;
  /** Storage type of `features.npy`. */
  dtype: "float32" | "float16";
  /** How images were preprocessed (free-form: a description string or a settings object). */
  preprocess?: unknown;
  /** Marks a finished set: meta.json is written last. */
  complete: true;
  /** Other keys, kept as they are. */
  [key: string]: unknown;
}

/** A feature set in memory: features are always float32. */
export interface FeatureSet {
  /** Directory the set was read from. */
  dir: string;
  /** Its meta.json (or the meta inferred for a bare set). */
  meta: FeatureMeta;
  /** Features, N x D, float32. */
  features: Matrix;
  /** Class labels, length N; -1 for OOD / unlabeled (all -1 without labels.npy). */
  labels: Int32Array;
  /** The backbone's logits, N x K, when logits.npy exists. */
  logits?: Matrix;
  /** Image path of each row, when paths.txt exists. */
  paths?: string[];
}

/** What {@linkcode writeFeatureSet} needs: `dim`, `count`, `dtype`, `complete` are filled in. */
export interface FeatureSetInit {
  /** meta.json fields besides the computed ones: dataset, backbone and any extra keys. */
  meta: { dataset: string; backbone: string; preprocess?: unknown; [key: string]: unknown };
  /** Features, N x D (stored as float32, or float16 with `dtype: "f16"`). */
  features: Matrix;
  /** Labels, length N; -1 for OOD / unlabeled. */
  labels: Int32Array;
  /** Optional logits, N x K, written as logits.npy. */
  logits?: Matrix;
  /** Optional image paths, N lines of paths.txt. */
  paths?: string[];
}

/** Options for {@linkcode readFeatureSet}. */
export interface ReadFeatureSetOptions {
  /** When given, every label must be in [-1, numClasses). */
  numClasses?: number;
  /** Reject NaN / Inf in features and logits (default true). */
  checkFinite?: boolean;
  /** Read the arrays as a bare set even when meta.json exists (what an import validates). */
  ignoreMeta?: boolean;
}

async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

/** Reads and validates `dir/meta.json`; throws a `DataError` if the set is missing or incomplete. */
export async function readFeatureMeta(dir: string): Promise<FeatureMeta> {
  const info = await statOrNull(dir);
  if (!info || !info.isDirectory) {
    throw new DataError(
      `Feature set not found: ${dir}; create it with \`deno task extract ...\` or run ` +
        "`deno task demo`",
    );
  }
  const path = `${dir}/meta.json`;
  let raw: unknown;
  try {
    raw = await readJsonFile(path, "rerun the extraction that writes it");
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    return await bareFeatureMeta(dir);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new DataError(`${path} must hold a JSON object; rerun the extraction that writes it`);
  }
  const meta = raw as Record<string, unknown>;
  if (meta.complete !== true) {
    throw new DataError(
      `${path} is incomplete (meta.json has no "complete": true); rerun the extraction that ` +
        "writes it",
    );
  }
  for (const key of ["count", "dim"]) {
    const v = meta[key];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
      throw new DataError(`${path}: "${key}" must be a non-negative integer, got ${quoteValue(v)}`);
    }
  }
  // Optional sizes other stages allocate from (a head of num_classes outputs, count x views
  // rows): a present one must be a positive integer, never silently ignored or used as is.
  for (const key of ["num_classes", "views"]) {
    const v = meta[key];
    if (v !== undefined && (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1)) {
      throw new DataError(`${path}: "${key}" must be a positive integer, got ${quoteValue(v)}`);
    }
  }
  for (const key of ["dataset", "backbone"]) {
    if (typeof meta[key] !== "string") {
      throw new DataError(`${path}: "${key}" must be a string, got ${quoteValue(meta[key])}`);
    }
  }
  if (meta.dtype !== "float32" && meta.dtype !== "float16") {
    throw new DataError(
      `${path}: "dtype" must be "float32" or "float16", got ${quoteValue(meta.dtype)}`,
    );
  }
  return meta as FeatureMeta;
}

/** The first name in `dir` that shows a writer of this toolkit at work, or null. */
async function writerTrace(dir: string): Promise<string | null> {
  for await (const e of Deno.readDir(dir)) {
    if (WRITER_TRACES.includes(e.name) || e.name.startsWith(".staging.tmp-")) return e.name;
  }
  return null;
}

/**
 * The meta of a bare set (`features.npy` and no `meta.json`, see the module doc): dataset = the
 * directory's name, backbone "unknown", count, dim and dtype from the features.npy header. A
 * directory without features.npy, or one that shows an interrupted writer, is a `DataError`.
 */
export async function bareFeatureMeta(dir: string): Promise<FeatureMeta> {
  const fPath = `${dir}/features.npy`;
  if (!(await statOrNull(fPath))) {
    throw new DataError(
      `${dir} holds neither meta.json nor features.npy; extract it (\`deno task extract\`) or ` +
        "save your features there as features.npy (N x D float32)",
    );
  }
  const trace = await writerTrace(dir);
  if (trace !== null) {
    throw new DataError(
      `${dir}/meta.json is missing while ${dir}/${trace} exists, so the feature set is ` +
        "incomplete (a run that writes it was interrupted or is running); rerun the extraction " +
        "that writes it",
    );
  }
  const h = await readNpyHeader(fPath);
  const meta = {
    dataset: basename(dir),
    backbone: "unknown",
    count: h.shape[0] ?? 0,
    dim: h.shape[1] ?? 0,
    dtype: h.dtype === "<f2" ? "float16" : "float32",
    complete: true,
    bare: true,
  } as const;
  checkFeaturesHeader(h, meta, fPath, fPath);
  return { ...meta };
}

function basename(dir: string): string {
  const parts = dir.replace(/[\\/]+$/, "").split(/[\\/]/);
  return parts[parts.length - 1] || dir;
}

/**
 * The labels of a set: labels.npy as int32, or all -1 (unlabeled) when the set has none. A
 * labels.npy of another length than `rows` is a `DataError`.
 */
export async function readSetLabels(dir: string, rows: number, fPath: string): Promise<Int32Array> {
  const lPath = `${dir}/labels.npy`;
  if (!(await statOrNull(lPath))) return new Int32Array(rows).fill(-1);
  const lh = await readNpyHeader(lPath);
  if (lh.shape.length === 1 && lh.shape[0] !== rows) {
    throw new DataError(`${lPath} has ${lh.shape[0]} labels but ${fPath} has ${rows} rows`);
  }
  const labels = labelsOf(await readNpy(lPath), lPath);
  if (labels.length !== rows) {
    throw new DataError(`${lPath} has ${labels.length} labels but ${fPath} has ${rows} rows`);
  }
  return labels;
}

/**
 * Checks a features.npy header against meta.json's count and dim (before the file is read, so
 * either side's sizes are reconciled before anything is allocated from them).
 */
export function checkFeaturesHeader(
  h: Pick<NpyFileInfo, "dtype" | "shape">,
  meta: Pick<FeatureMeta, "count" | "dim">,
  fPath: string,
  metaPath: string,
): void {
  if (h.shape.length !== 2) {
    throw new DataError(
      `${fPath} must be 2-D (N x D features), got shape (${h.shape.join(", ")}); reshape it to ` +
        "N x D",
    );
  }
  if (h.dtype !== "<f4" && h.dtype !== "<f2") {
    throw new DataError(`${fPath} must be float32 or float16, got ${h.dtype}`);
  }
  if (h.shape[0] !== meta.count) {
    throw new DataError(`${fPath} has ${h.shape[0]} rows but ${metaPath} says count ${meta.count}`);
  }
  if (h.shape[1] !== meta.dim) {
    throw new DataError(
      `${fPath} has ${h.shape[1]} columns but ${metaPath} says dim ${meta.dim}`,
    );
  }
}

/** Index of the first non-finite value, or -1. `x - x` is NaN exactly for NaN and +-Inf. */
function firstNonFinite(data: Float32Array): number {
  for (let i = 0; i < data.length; i++) {
    if (data[i] - data[i] !== 0) return i;
  }
  return -1;
}

function matrixOf(arr: NpyArray, path: string, what: string): Matrix {
  if (arr.shape.length !== 2) {
    throw new DataError(
      `${path} must be 2-D (${what}), got shape (${arr.shape.join(", ")}); reshape it to N x D`,
    );
  }
  if (arr.dtype !== "<f4" && arr.dtype !== "<f2") {
    throw new DataError(`${path} must be float32 or float16, got ${arr.dtype}`);
  }
  // f4: a view of the read buffer. f2: one conversion; the raw buffer is dropped with `arr`.
  return { data: toFloat32(arr), rows: arr.shape[0], cols: arr.shape[1] };
}

/**
 * The labels of a labels.npy array as int32: 1-D `<i4`, or `<i8` whose every value fits int32
 * (a `DataError` naming the index otherwise, never a silent wrap).
 */
export function labelsOf(arr: NpyArray, path: string): Int32Array {
  if (arr.shape.length !== 1) {
    throw new DataError(`${path} must be 1-D (N labels), got shape (${arr.shape.join(", ")})`);
  }
  if (arr.data instanceof Int32Array) return arr.data;
  if (arr.data instanceof BigInt64Array) {
    const out = new Int32Array(arr.data.length);
    for (let i = 0; i < out.length; i++) {
      const v = arr.data[i];
      if (v < -2147483648n || v > 2147483647n) {
        throw new DataError(`${path}: label ${v} at index ${i} does not fit int32`);
      }
      out[i] = Number(v);
    }
    return out;
  }
  throw new DataError(
    `${path} must hold integer labels ('<i4' or '<i8'), got ${arr.dtype}; save with ` +
      "`np.save(path, labels.astype(np.int32))`",
  );
}

/**
 * Reads and validates a complete feature set. Features are float32 in memory: a float32 file is
 * used in place (no second copy); a float16 file is converted once.
 *
 * @example
 * ```ts
 * const set = await readFeatureSet("results/features/val", { numClasses: 1000 });
 * ```
 */
export async function readFeatureSet(
  dir: string,
  opts: ReadFeatureSetOptions = {},
): Promise<FeatureSet> {
  const meta = opts.ignoreMeta ? await bareFeatureMeta(dir) : await readFeatureMeta(dir);
  const checkFinite = opts.checkFinite ?? true;

  const fPath = `${dir}/features.npy`;
  const lPath = `${dir}/labels.npy`;
  const N = meta.count;
  checkFeaturesHeader(await readNpyHeader(fPath), meta, fPath, `${dir}/meta.json`);
  const labels = await readSetLabels(dir, N, fPath);
  const features = matrixOf(await readNpy(fPath), fPath, "N x D features");
  if (features.rows !== N || features.cols !== meta.dim) {
    throw new DataError(`${fPath} changed while the feature set was read; rerun`);
  }
  if (checkFinite) {
    const bad = firstNonFinite(features.data);
    if (bad >= 0) {
      throw new DataError(
        `${fPath} has a non-finite value (${features.data[bad]}) in row ${
          Math.floor(bad / features.cols)
        }; re-extract the features`,
      );
    }
  }

  const hi = opts.numClasses ?? Infinity;
  for (let i = 0; i < N; i++) {
    const y = labels[i];
    if (y < -1 || y >= hi) {
      const range = opts.numClasses === undefined ? "[-1, inf)" : `[-1, ${opts.numClasses})`;
      throw new DataError(
        `${lPath}: label ${y} at index ${i} is outside ${range}; labels are class indices, ` +
          "-1 for OOD / unlabeled",
      );
    }
  }

  const set: FeatureSet = { dir, meta, features, labels };
  const gPath = `${dir}/logits.npy`;
  if (await statOrNull(gPath)) {
    const gh = await readNpyHeader(gPath);
    if (gh.shape.length === 2 && gh.shape[0] !== N) {
      throw new DataError(`${gPath} has ${gh.shape[0]} rows but ${fPath} has ${N}`);
    }
    const logits = matrixOf(await readNpy(gPath), gPath, "N x K logits");
    if (logits.rows !== N) {
      throw new DataError(`${gPath} has ${logits.rows} rows but ${fPath} has ${N}`);
    }
    if (checkFinite) {
      const bad = firstNonFinite(logits.data);
      if (bad >= 0) {
        throw new DataError(
          `${gPath} has a non-finite value in row ${Math.floor(bad / logits.cols)}; ` +
            "re-extract the features",
        );
      }
    }
    set.logits = logits;
  }
  const pPath = `${dir}/paths.txt`;
  if (await statOrNull(pPath)) {
    const text = await Deno.readTextFile(pPath);
    const lines = text === "" ? [] : text.replace(/\n$/, "").split("\n");
    if (lines.length !== N) {
      throw new DataError(`${pPath} has ${lines.length} lines but ${fPath} has ${N} rows`);
    }
    set.paths = lines;
  }
  return set;
}

/**
 * Writes a feature set: every array atomically, then `meta.json` last with `"complete": true`.
 * `meta.json` says `"complete": false` while the arrays are written, so an interrupted rewrite
 * never looks complete (nor bare).
 * Returns the meta written. Inconsistent inputs are programming errors (RangeError).
 */
export async function writeFeatureSet(
  dir: string,
  set: FeatureSetInit,
  opts: { dtype?: "f32" | "f16" } = {},
): Promise<FeatureMeta> {
  const { features, labels, logits, paths } = set;
  const N = features.rows;
  if (features.data.length !== N * features.cols) {
    throw new RangeError(
      `features data has ${features.data.length} values, not ${N} x ${features.cols}`,
    );
  }
  if (labels.length !== N) throw new RangeError(`${labels.length} labels for ${N} feature rows`);
  if (logits && logits.rows !== N) throw new RangeError(`${logits.rows} logit rows for ${N} rows`);
  if (paths) {
    if (paths.length !== N) throw new RangeError(`${paths.length} paths for ${N} feature rows`);
    const bad = paths.findIndex((p) => p.includes("\n"));
    if (bad >= 0) throw new RangeError(`path ${bad} contains a newline`);
  }
  const f16 = opts.dtype === "f16";
  await Deno.mkdir(dir, { recursive: true });
  // A placeholder, not a removal: a directory without meta.json would read as a bare set.
  await writeJsonAtomic(`${dir}/meta.json`, { complete: false });
  // Stale optional files from an earlier write would be read as part of the new set.
  for (const [name, present] of [["logits.npy", !!logits], ["paths.txt", !!paths]] as const) {
    if (!present) await Deno.remove(`${dir}/${name}`).catch(() => {});
  }

  const shape = [N, features.cols];
  if (f16) {
    await writeNpy(`${dir}/features.npy`, {
      dtype: "<f2",
      shape,
      data: float32ToFloat16Bits(features.data),
    });
  } else {
    await writeNpy(`${dir}/features.npy`, { dtype: "<f4", shape, data: features.data });
  }
  await writeNpy(`${dir}/labels.npy`, { dtype: "<i4", shape: [N], data: labels });
  if (logits) {
    await writeNpy(`${dir}/logits.npy`, {
      dtype: "<f4",
      shape: [logits.rows, logits.cols],
      data: logits.data,
    });
  }
  if (paths) {
    await writeTextAtomic(`${dir}/paths.txt`, paths.map((p) => p + "\n").join(""));
  }
  const meta: FeatureMeta = {
    ...set.meta,
    dim: features.cols,
    count: N,
    dtype: f16 ? "float16" : "float32",
    complete: true,
  };
  await writeJsonAtomic(`${dir}/meta.json`, meta);
  return meta;
}
