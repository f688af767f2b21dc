/**
 * The lock -> stage -> write -> commit sequence that every table and figure writer shares
 * (tables, the paper pipeline, table1-extended, the four ablation tasks):
 *
 * 1. `--out` is checked against the task's inputs (lib/io/containment.ts) before anything exists;
 * 2. it is created (parents included) and locked for the whole run;
 * 3. result files are written into a staging directory inside it and moved into place together,
 *    the completion marker last (lib/io/staging.ts), so a failure part-way (a full disk included)
 *    leaves the previous result byte for byte;
 * 4. on failure, the directories this run created are removed again while they hold nothing but
 *    the run's own bookkeeping (lib/io/out_dir.ts), so a failed first run leaves no empty `--out`
 *    behind; nothing else is ever deleted.
 *
 * @module
 */
import { DataError } from "../../lib/errors.ts";
import { writeFileAtomic } from "../../lib/io/atomic.ts";
import { assertOutsideInputs, type NamedPath } from "../../lib/io/containment.ts";
import { acquireLock, type Lock } from "../../lib/io/lock.ts";
import { readManifest } from "../../lib/io/manifest.ts";
import { prepareOutDir, removeFreshOutDir } from "../../lib/io/out_dir.ts";
import { commitStaging, createStaging, discardStaging } from "../../lib/io/staging.ts";

/** Writes result files into the staging directory; each call returns the file's final path. */
export interface StagedWriter {
  /** Stages UTF-8 `text` as `name` (a relative path; subdirectories are created). */
  text(name: string, text: string): Promise<string>;
  /** Stages `data` as `name`. */
  bytes(name: string, data: Uint8Array): Promise<string>;
}

/** A locked result directory (see {@linkcode withResultDir}). */
export interface ResultDir {
  /** The directory, as given. */
  out: string;
  /**
   * Runs `write` against a fresh staging directory, then moves every staged file into `out`,
   * `markers` (relative paths, e.g. the main table) last and in order. If `write` or the commit
   * fails, the staging directory is removed and the files already in `out` stay as they were.
   * Returns the final paths of the staged files, in the order they were written.
   */
  commit(write: (w: StagedWriter) => Promise<void>, markers: readonly string[]): Promise<string[]>;
}

/** Options of {@linkcode withResultDir}. */
export interface ResultDirOptions {
  /** Recorded in `.lock` (e.g. "tables"). */
  purpose: string;
  /** Paths the task reads; `out` must not equal, contain or lie inside any of them. */
  inputs?: readonly NamedPath[];
  /** Where `out` came from, for errors (default "--out"). */
  flag?: string;
}

/**
 * Checks `out` against `o.inputs`, creates and locks it, runs `body`, and releases the lock. If
 * `body` throws, the directories this call created are removed again while they hold only the
 * run's bookkeeping, so a run that failed before writing a result leaves the path as it found it.
 *
 * @example
 * ```ts
 * await withResultDir("results/t", { purpose: "tables" }, async (dir) => {
 *   await dir.commit(async (w) => {
 *     await w.text("table3.csv", csv3);
 *     await w.text("table1.csv", csv1);
 *   }, ["table1.csv"]);
 * });
 * ```
 */
export async function withResultDir<T>(
  out: string,
  o: ResultDirOptions,
  body: (dir: ResultDir) => Promise<T>,
): Promise<T> {
  const flag = o.flag ?? "--out";
  if (o.inputs) assertOutsideInputs({ label: flag, path: out }, o.inputs);
  const outDir = await prepareOutDir(out, flag);
  let lock: Lock | undefined;
  let ok = false;
  try {
    lock = await acquireLock(out, o.purpose);
    const result = await body({
      out,
      commit: (write, markers) => commitFiles(out, write, markers),
    });
    ok = true;
    return result;
  } finally {
    lock?.release();
    if (!ok) await removeFreshOutDir(outDir);
  }
}

async function commitFiles(
  out: string,
  write: (w: StagedWriter) => Promise<void>,
  markers: readonly string[],
): Promise<string[]> {
  const staging = await createStaging(out).catch((err) => {
    throw new DataError(
      `Cannot create a staging directory in ${out} (${
        err instanceof Error ? err.message.split("\n")[0] : err
      }); free space there or choose another output directory (--out)`,
    );
  });
  const files: string[] = [];
  const put = async (name: string, data: Uint8Array): Promise<string> => {
    if (name === "" || name.startsWith("/") || name.split("/").includes("..")) {
      throw new RangeError(`staged file name must be a relative path inside --out: ${name}`);
    }
    const slash = name.lastIndexOf("/");
    try {
      if (slash !== -1) await Deno.mkdir(`${staging}/${name.slice(0, slash)}`, { recursive: true });
      await writeFileAtomic(`${staging}/${name}`, data);
    } catch (err) {
      // The user knows the final name, not the staging directory's.
      if (err instanceof DataError) throw new DataError(err.message.replaceAll(staging, out));
      throw err;
    }
    files.push(`${out}/${name}`);
    return `${out}/${name}`;
  };
  try {
    await write({
      text: (name, text) => put(name, new TextEncoder().encode(text)),
      bytes: put,
    });
    await commitStaging(staging, out, markers);
  } catch (e) {
    await discardStaging(staging);
    throw e;
  }
  return files;
}

/**
 * Removes `dir/manifest.json` before a stage rewrites `dir`, but only when it is this toolkit's
 * manifest of `stage`: any other manifest.json (another stage's, another program's, not JSON) was
 * not written by this stage, so it is left alone and the run stops with one line naming it.
 */
export async function removeOwnManifest(dir: string, stage: string): Promise<void> {
  const path = `${dir}/manifest.json`;
  try {
    await Deno.lstat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  const m = await readManifest(dir);
  const tool = (m as { tool?: unknown } | null)?.tool;
  if (!m || tool !== "mos-toolkit" || m.stage !== stage) {
    throw new DataError(
      `${path} was not written by this stage (${
        m ? `stage "${m.stage}"` : "not a mos-toolkit manifest"
      }, expected "${stage}"); it is left alone: choose another --out or move that directory`,
    );
  }
  await Deno.remove(path);
}
