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
import { assertOutsideInputs, type NamedPath } from "../../lib/io/containment.ts";
import {
  checkOwnManifest,
  commitStaged,
  type StagedWriter,
  withLockedDir,
} from "../../lib/io/stage.ts";

export type { StagedWriter };

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
 * import { renderCsv, type Table } from "../../lib/tables/render.ts";
 * declare const table1: Table, table3: Table;
 * const [csv1, csv3] = [renderCsv(table1), renderCsv(table3)];
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
  const label = o.flag ?? "--out";
  if (o.inputs) assertOutsideInputs({ label, path: out }, o.inputs);
  return await withLockedDir(out, { purpose: o.purpose, label }, () =>
    body({
      out,
      commit: (write, markers) => commitStaged(out, write, markers, { label }),
    }));
}

/**
 * Removes `dir/manifest.json` before a stage rewrites `dir`, but only when it is this toolkit's
 * manifest of `stage`: any other manifest.json (another stage's, another program's, not JSON) was
 * not written by this stage, so it is left alone and the run stops with one line naming it.
 */
export async function removeOwnManifest(dir: string, stage: string): Promise<void> {
  await checkOwnManifest(dir, stage, { label: "--out" });
  await Deno.remove(`${dir}/manifest.json`).catch((err) => {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  });
}
