/**
 * The one stage runner: every stage of every task (train a head, score, a detector of
 * table1-extended, a synthetic benchmark, an extraction, ...) goes through
 * {@linkcode runStage}, which
 *
 * 1. makes the result directory (parents included) and locks it for the whole stage;
 * 2. hashes the stage's inputs (lib/io/manifest.ts) with the lock held;
 * 3. reuses the previous result when `manifest.json` records the same stage, config and input
 *    hashes (resume), unless forced;
 * 4. otherwise refuses a `manifest.json` that another stage or program wrote, computes, writes
 *    every new file into a staging directory inside the result directory and moves them into
 *    place together, the completion markers last and `manifest.json` after them
 *    (lib/io/staging.ts), so a failure at any point leaves the previous result byte for byte;
 * 5. releases the lock; after a failure, the directories it created are removed again while they
 *    hold nothing but the stage's own bookkeeping (lib/io/out_dir.ts).
 *
 * Nothing here prints: the caller learns from the outcome whether the result was reused.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import { writeFileAtomic } from "./atomic.ts";
import { acquireLock, type Lock } from "./lock.ts";
import {
  buildManifest,
  hashInputs,
  manifestMatches,
  readManifest,
  writeManifest,
} from "./manifest.ts";
import { prepareOutDir, removeFreshOutDir } from "./out_dir.ts";
import { commitStaging, createStaging, discardStaging } from "./staging.ts";

/** Writes result files into a staging directory; each call returns the file's final path. */
export interface StagedWriter {
  /** The staging directory itself, for writers that fill a directory (writeHead, writeNpy). */
  readonly path: string;
  /** Stages UTF-8 `text` as `name` (a relative path; subdirectories are created). */
  text(name: string, text: string): Promise<string>;
  /** Stages `data` as `name`. */
  bytes(name: string, data: Uint8Array): Promise<string>;
}

/** How a directory is named in error messages (a flag such as "--out", or a phrase). */
export interface DirLabel {
  /** Default "output directory". */
  label?: string;
}

function firstLine(err: unknown): string {
  return err instanceof Error ? err.message.split("\n")[0] : String(err);
}

/**
 * Runs `write` against a fresh staging directory inside `out` (which must exist), then moves
 * every staged file into `out`, `markers` (relative paths) last and in order. If `write` or the
 * move fails, the staging directory is removed and the files in `out` stay as they were. Returns
 * the final paths of the files staged through `text` / `bytes`, in the order they were written.
 */
export async function commitStaged(
  out: string,
  write: (w: StagedWriter) => Promise<void>,
  markers: readonly string[],
  o: DirLabel = {},
): Promise<string[]> {
  const staging = await createStaging(out).catch((err) => {
    throw new DataError(
      `Cannot create a staging directory in ${out} (${firstLine(err)}); free space there or ` +
        `choose another ${o.label ?? "output directory"}`,
    );
  });
  const files: string[] = [];
  const put = async (name: string, data: Uint8Array): Promise<string> => {
    if (name === "" || name.startsWith("/") || name.split("/").includes("..")) {
      throw new RangeError(`staged file name must be a relative path inside ${out}: ${name}`);
    }
    const slash = name.lastIndexOf("/");
    if (slash !== -1) await Deno.mkdir(`${staging}/${name.slice(0, slash)}`, { recursive: true });
    await writeFileAtomic(`${staging}/${name}`, data);
    files.push(`${out}/${name}`);
    return `${out}/${name}`;
  };
  try {
    try {
      await write({
        path: staging,
        text: (name, text) => put(name, new TextEncoder().encode(text)),
        bytes: put,
      });
    } catch (err) {
      // The user knows the final name, not the staging directory's.
      if (err instanceof DataError) throw new DataError(err.message.replaceAll(staging, out));
      throw err;
    }
    await commitStaging(staging, out, markers);
  } catch (e) {
    await discardStaging(staging);
    throw e;
  }
  return files;
}

/** Options of {@linkcode withLockedDir}. */
export interface LockedDirOptions extends DirLabel {
  /** Recorded in `.lock` (e.g. "score"). */
  purpose: string;
}

/**
 * Makes `dir` (parents included) and locks it, runs `body`, releases the lock. If `body` throws,
 * the directories this call created are removed again while they hold only bookkeeping (lock,
 * checkpoint, temps), so a failure leaves the path as it found it.
 */
export async function withLockedDir<T>(
  dir: string,
  o: LockedDirOptions,
  body: () => Promise<T>,
): Promise<T> {
  const outDir = await prepareOutDir(dir, o.label ?? "output directory");
  let lock: Lock | undefined;
  let ok = false;
  try {
    lock = await acquireLock(dir, o.purpose);
    const result = await body();
    ok = true;
    return result;
  } finally {
    lock?.release();
    // A refused lock means another run holds this directory (perhaps created at the same moment):
    // its lock and checkpoint stay.
    if (!ok) await removeFreshOutDir(outDir, { ownsLock: lock !== undefined });
  }
}

/**
 * Throws unless `dir/manifest.json` is absent or this toolkit's manifest of `stage`: a stage never
 * replaces a manifest that another stage or another program wrote (its directory is not ours).
 */
export async function checkOwnManifest(
  dir: string,
  stage: string,
  o: DirLabel = {},
): Promise<void> {
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
      }, expected "${stage}"); it is left alone: choose another ${
        o.label ?? "output directory"
      } or move that directory`,
    );
  }
}

/** What a stage's callbacks see. */
export interface StageContext {
  /** The result directory. */
  dir: string;
  /** Input name -> `sha256:<hex>` as recorded in the manifest. */
  inputs: Record<string, string>;
}

/** Options of {@linkcode runStage}. */
export interface StageOptions<R> extends DirLabel {
  /** The result directory; created if missing. */
  dir: string;
  /** Manifest stage name (e.g. "train_head"); also the lock's purpose unless `purpose` is set. */
  stage: string;
  /** Everything besides the inputs that determines the result (compared key order free). */
  config: unknown;
  /** Recorded in the manifest, not compared (put a seed that matters into `config`). */
  seed?: number | null;
  /** Named input paths (files or directories), hashed with the lock held. */
  inputs?: Record<string, string>;
  /** Input hashes the caller already has (`sha256:<hex>`), merged with those of `inputs`. */
  hashes?: Record<string, string>;
  /** Recompute even when the manifest matches. */
  force?: boolean;
  /** Recorded in `.lock`; default `stage`. */
  purpose?: string;
  /** Completion markers (relative paths), moved last in this order; manifest.json follows them. */
  markers?: readonly string[];
  /** Reads the previous result when the manifest matches. */
  reuse(ctx: StageContext): Promise<R>;
  /** Computes the new result (nothing is written yet; the previous result is intact). */
  compute(ctx: StageContext): Promise<R>;
  /** Writes the result's files into the staging directory (manifest.json is added after it). */
  write(w: StagedWriter, result: R, ctx: StageContext): Promise<void>;
  /** Runs after the commit, the lock still held (e.g. to remove a checkpoint). */
  committed?(result: R, ctx: StageContext): Promise<void>;
  /** The manifest's wall_seconds; default: seconds of compute + write. */
  wallSeconds?(result: R): number;
}

/** What {@linkcode runStage} returns. */
export interface StageOutcome<R> {
  result: R;
  /** True when the previous result was reused (its manifest matched). */
  reused: boolean;
  /** The input hashes recorded in (or matched against) the manifest. */
  inputs: Record<string, string>;
  /** Final paths of the files written through the writer's `text` / `bytes` (none on reuse). */
  files: string[];
}

/**
 * Runs (or reuses) one stage; see the module doc for the guarantees.
 *
 * @example
 * ```ts
 * const { result, reused } = await runStage({
 *   dir: "results/scores",
 *   stage: "score",
 *   config: { methods: ["msp"] },
 *   inputs: { head: "results/head" },
 *   markers: ["metrics.csv"],
 *   reuse: async ({ dir }) => await Deno.readTextFile(`${dir}/metrics.csv`),
 *   compute: async () => "method,auroc\nmsp,0.9\n",
 *   write: async (w, csv) => void await w.text("metrics.csv", csv),
 * });
 * ```
 */
export async function runStage<R>(o: StageOptions<R>): Promise<StageOutcome<R>> {
  return await withLockedDir(o.dir, { purpose: o.purpose ?? o.stage, label: o.label }, async () => {
    const inputs = { ...(o.hashes ?? {}), ...(o.inputs ? await hashInputs(o.inputs) : {}) };
    const ctx: StageContext = { dir: o.dir, inputs };
    if (!o.force && await manifestMatches(o.dir, { stage: o.stage, config: o.config, inputs })) {
      return { result: await o.reuse(ctx), reused: true, inputs, files: [] };
    }
    await checkOwnManifest(o.dir, o.stage, o);
    const t0 = performance.now();
    const result = await o.compute(ctx);
    const files = await commitStaged(
      o.dir,
      async (w) => {
        await o.write(w, result, ctx);
        const wallSeconds = o.wallSeconds?.(result) ?? (performance.now() - t0) / 1000;
        const manifest = buildManifest({
          stage: o.stage,
          config: o.config,
          seed: o.seed,
          inputs,
          wallSeconds,
        });
        await writeManifest(w.path, manifest);
      },
      [...(o.markers ?? []), "manifest.json"],
      o,
    );
    await o.committed?.(result, ctx);
    return { result, reused: false, inputs, files };
  });
}
