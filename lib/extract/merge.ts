/**
 * Merges the feature sets of a sharded extraction (shards 0..n-1 of one image list and one
 * model) into one feature set, byte-identical in its arrays to an unsharded run.
 *
 * Every path written is `--out` joined with a fixed name: a shard's meta.json `outputs` must name
 * exactly the files extract writes (lib/extract/set_files.ts), and the merged files are named
 * from those checked names, never from the text of a meta.json. `--out` may not overlap a shard.
 * The merged set is written into a staging directory and committed at the end (meta.json last),
 * so a failure (a full disk included) leaves a previous result in `--out` byte-identical; files
 * in `--out` that no extract or merge wrote are left alone.
 *
 * The directory, lock and release part is the stage runner's (`withLockedDir` of
 * lib/io/stage.ts); the commit is the feature set's own (lib/extract/set_files.ts), not
 * `runStage`'s, because a merged set must also remove the previous result's files it lacks and
 * record which files it owns (manifest `files`, meta.json last), as extract does.
 *
 * @module
 */
import { DataError, UsageError } from "../errors.ts";
import { diskError, writeJsonAtomic, writeTextAtomic } from "../io/atomic.ts";
import { assertOutsideInputs } from "../io/containment.ts";
import { type FeatureMeta, readFeatureMeta } from "../io/feature_set.ts";
import { buildManifest, hashFile, writeManifest } from "../io/manifest.ts";
import { type NpyDtype, openNpy, readNpy, writeNpy } from "../io/npy.ts";
import { withLockedDir } from "../io/stage.ts";
import { createStaging, discardStaging } from "../io/staging.ts";
import { assertFitsInMemory } from "../memory_budget.ts";
import { concatNpyFiles } from "./npy_concat.ts";
import {
  commitSetFiles,
  planSetFiles,
  setFileNames,
  type SetOutput,
  validateSetOutputs,
} from "./set_files.ts";

/** Shard information that `deno task extract` records in meta.json. */
interface ShardInfo {
  index: number;
  count: number;
  start: number;
  end: number;
  total: number;
}

interface ShardSet {
  dir: string;
  meta: FeatureMeta;
  shard: ShardInfo;
  /** Checked outputs, file names rebuilt from the output names. */
  outputs: SetOutput[];
}

/** What a merge produced. */
export interface MergeSummary {
  /** Directory of the merged feature set. */
  outDir: string;
  /** Shard feature sets merged. */
  shards: number;
  /** Images with features in the merged set (sum over shards). */
  count: number;
  /** Images the shards skipped as unreadable (sum over shards). */
  skipped: number;
  /** Columns of features.npy. */
  dim: number;
  /** Lines for the user (lib prints nothing): foreign files left alone in the output directory. */
  warnings: string[];
}

/** Most shards one merge takes (a shard record claiming more is damaged). */
export const MAX_SHARDS = 1_000_000;

function canonical(v: unknown): string {
  return JSON.stringify(
    v,
    (_k, x) =>
      x && typeof x === "object" && !Array.isArray(x)
        ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, x[k]]))
        : x,
  );
}

async function readShard(dir: string, writtenBy: string): Promise<ShardSet> {
  const meta = await readFeatureMeta(dir);
  const s = meta.shard as ShardInfo | undefined;
  if (
    !s || typeof s !== "object" ||
    !["index", "count", "start", "end", "total"].every((k) =>
      Number.isSafeInteger((s as unknown as Record<string, unknown>)[k])
    )
  ) {
    throw new DataError(
      `${dir}/meta.json has no shard record; merge only feature sets written by ${writtenBy}`,
    );
  }
  if (
    s.count < 1 || s.count > MAX_SHARDS || s.index < 0 || s.index >= s.count || s.start < 0 ||
    s.end < s.start || s.total < s.end
  ) {
    throw new DataError(
      `${dir}/meta.json: shard record ${canonical(s)} is inconsistent (need 0 <= index < ` +
        `count <= ${MAX_SHARDS} and 0 <= start <= end <= total); re-extract this shard`,
    );
  }
  const outputs = validateSetOutputs(meta, `${dir}/meta.json`);
  if (outputs[0].dim !== meta.dim) {
    throw new DataError(
      `${dir}/meta.json: outputs[0].dim ${outputs[0].dim} disagrees with "dim" ${meta.dim}; ` +
        "re-extract this shard",
    );
  }
  return { dir, meta, shard: s, outputs };
}

/** Lines of a text file without the trailing newline ("" -> no lines). */
async function lines(path: string): Promise<string[]> {
  const text = await Deno.readTextFile(path);
  return text === "" ? [] : text.replace(/\n$/, "").split("\n");
}

/** Refuses shards of different runs, repeated shards and missing shards (`sets` sorted). */
function checkSameRun(sets: readonly ShardSet[]): void {
  const first = sets[0];
  const n = first.shard.count;
  const same = (what: string, get: (s: ShardSet) => unknown) => {
    for (const s of sets) {
      if (canonical(get(s)) !== canonical(get(first))) {
        throw new DataError(
          `${s.dir} has a different ${what} (${canonical(get(s))}) than ${first.dir} ` +
            `(${canonical(get(first))}); merge only shards of one extraction run`,
        );
      }
    }
  };
  same("shard count", (s) => s.shard.count);
  same("image list (list_sha256)", (s) => s.meta.list_sha256);
  same("model (model_sha256)", (s) => s.meta.model_sha256);
  same("dtype", (s) => s.meta.dtype);
  same("feature dim", (s) => s.meta.dim);
  same("output layout", (s) => s.outputs);
  same("preprocessing", (s) => s.meta.preprocess);
  same("dataset name", (s) => s.meta.dataset);
  same("backbone name", (s) => s.meta.backbone);
  same("list size", (s) => s.shard.total);
  same("training views", (s) => [s.meta.views ?? 1, s.meta.view_transform ?? null]);
  for (let i = 1; i < sets.length; i++) {
    if (sets[i].shard.index === sets[i - 1].shard.index) {
      throw new DataError(
        `${sets[i - 1].dir} and ${sets[i].dir} are both shard ${sets[i].shard.index}/${n}; ` +
          "give each shard once",
      );
    }
  }
  const have = new Set(sets.map((s) => s.shard.index));
  if (have.size !== n) {
    const missing = [...Array(Math.min(n, have.size + 11)).keys()].filter((i) => !have.has(i));
    throw new DataError(
      `shards ${missing.slice(0, 10).map((i) => `${i}/${n}`).join(", ")}${
        n - have.size > 10 ? ", ..." : ""
      } are missing; pass all ${n} shard directories (rerun the missing shards first)`,
    );
  }
}

/** What the shards hold together, in shard order. */
interface Tiled {
  count: number;
  skipped: number;
  paths: string[];
  skippedLines: string[];
}

/**
 * Checks that the shards tile the list (each starts where the previous ended, the last at its
 * end) and that each one's arrays, paths and skipped images agree with its meta.json.
 */
async function tileShards(sets: readonly ShardSet[]): Promise<Tiled> {
  const tiled: Tiled = { count: 0, skipped: 0, paths: [], skippedLines: [] };
  let pos = 0;
  for (const s of sets) {
    if (s.shard.start !== pos) {
      throw new DataError(
        `${s.dir} covers list positions ${s.shard.start}..${s.shard.end} but the previous shard ` +
          `ended at ${pos}; the shards do not tile the list`,
      );
    }
    pos = s.shard.end;
    const sk = (await lines(`${s.dir}/skipped.tsv`).catch(() => ["path\treason"])).slice(1);
    if (s.meta.count + sk.length !== s.shard.end - s.shard.start) {
      throw new DataError(
        `${s.dir}: ${s.meta.count} images + ${sk.length} skipped != its ` +
          `${s.shard.end - s.shard.start} list positions; re-extract this shard`,
      );
    }
    for (const o of s.outputs) {
      const r = await openNpy(`${s.dir}/${o.file}`);
      r.close();
      const rows = s.meta.count * (o.rows_per_image ?? 1);
      if (r.rows !== rows || (r.rows > 0 && r.cols !== o.dim)) {
        throw new DataError(
          `${s.dir}/${o.file} has shape (${r.shape.join(", ")}), expected ` +
            `(${rows}, ${o.dim}) from its meta.json; re-extract this shard`,
        );
      }
    }
    const p = await lines(`${s.dir}/paths.txt`);
    if (p.length !== s.meta.count) {
      throw new DataError(`${s.dir}/paths.txt has ${p.length} lines, expected ${s.meta.count}`);
    }
    tiled.paths.push(...p);
    tiled.skippedLines.push(...sk);
    tiled.count += s.meta.count;
    tiled.skipped += sk.length;
  }
  if (pos !== sets[0].shard.total) {
    throw new DataError(`the shards end at list position ${pos}, not ${sets[0].shard.total}`);
  }
  return tiled;
}

/**
 * Checks that `dirs` are exactly shards 0..n-1 of the same list, model, preprocessing and output
 * layout (any order on the command line), then writes their concatenation in shard order to
 * `outDir`: every output array, labels, paths, skipped.tsv, manifest and meta.json (last), staged
 * and committed at the end. Refuses with a `UsageError` an `outDir` that overlaps a shard, and
 * with a `DataError` naming the offending directory anything inconsistent, before `outDir` is
 * created or changed. Messages name `outDir` by `o.label` (default "output directory") and say
 * that shards are written by `o.writtenBy` (default "a sharded extraction").
 */
export async function mergeShards(
  outDir: string,
  dirs: readonly string[],
  o: { label?: string; writtenBy?: string } = {},
): Promise<MergeSummary> {
  const label = o.label ?? "output directory";
  const t0 = performance.now();
  if (dirs.length === 0) throw new DataError("no shard directories given");
  assertOutsideInputs(
    { label, path: outDir },
    dirs.map((d, i) => ({ label: `shard directory ${i + 1}`, path: d })),
  );
  if (dirs.length > MAX_SHARDS) {
    throw new UsageError(`${dirs.length} shard directories given; at most ${MAX_SHARDS}`);
  }
  const sets: ShardSet[] = [];
  const writtenBy = o.writtenBy ?? "a sharded extraction";
  for (const d of dirs) sets.push(await readShard(d, writtenBy));
  sets.sort((a, b) => a.shard.index - b.shard.index);
  checkSameRun(sets);
  const tiled = await tileShards(sets);
  // The merged labels are the one array held whole; every other array is streamed.
  assertFitsInMemory(
    4 * tiled.count,
    `merging ${tiled.count} labels of ${sets.length} shards`,
    "merge fewer, larger shards on a machine with more memory",
  );
  const outputs = sets[0].outputs;
  const files = setFileNames(outputs);
  // The stage runner's lock and fresh-directory handling; the commit is the feature set's own
  // (lib/extract/set_files.ts: stale files of the previous result removed, meta.json last).
  return await withLockedDir(outDir, { purpose: "merge-shards", label }, async () => {
    // Before anything is written: a foreign file the result would overwrite is refused.
    const plan = await planSetFiles(outDir, files, { task: "merge-shards", label });
    await writeMerged(outDir, sets, { outputs, files, stale: plan.stale, ...tiled, t0 });
    return {
      outDir,
      shards: sets.length,
      count: tiled.count,
      skipped: tiled.skipped,
      dim: sets[0].meta.dim,
      warnings: plan.warnings,
    };
  });
}

/** Writes the merged set into a staging directory of `outDir`, then commits it. */
async function writeMerged(
  outDir: string,
  sets: ShardSet[],
  ctx: {
    outputs: SetOutput[];
    files: string[];
    stale: string[];
    count: number;
    skipped: number;
    paths: string[];
    skippedLines: string[];
    t0: number;
  },
): Promise<void> {
  const first = sets[0];
  let staging: string;
  try {
    staging = await createStaging(outDir);
  } catch (err) {
    throw diskError(err, `${outDir}/.staging`);
  }
  try {
    for (const o of ctx.outputs) {
      await concatNpyFiles(
        `${staging}/${o.file}`,
        (o.dtype === "float16" ? "<f2" : "<f4") as NpyDtype,
        o.dim,
        ctx.count * (o.rows_per_image ?? 1),
        sets.map((s) => `${s.dir}/${o.file}`),
      ).catch((err) => {
        throw diskError(err, `${outDir}/${o.file}`);
      });
    }
    const labels = new Int32Array(ctx.count);
    let off = 0;
    for (const s of sets) {
      const arr = await readNpy(`${s.dir}/labels.npy`);
      if (!(arr.data instanceof Int32Array) || arr.data.length !== s.meta.count) {
        throw new DataError(
          `${s.dir}/labels.npy must hold ${s.meta.count} int32 labels; re-extract this shard`,
        );
      }
      labels.set(arr.data, off);
      off += arr.data.length;
    }
    await writeNpy(`${staging}/labels.npy`, { dtype: "<i4", shape: [ctx.count], data: labels });
    await writeTextAtomic(`${staging}/paths.txt`, ctx.paths.map((p) => p + "\n").join(""));
    await writeTextAtomic(
      `${staging}/skipped.tsv`,
      "path\treason\n" + ctx.skippedLines.map((l) => l + "\n").join(""),
    );
    // Each shard's meta.json identifies it (list, model, range, counts) without rehashing arrays.
    const inputs: Record<string, string> = {};
    for (const s of sets) {
      inputs[`shard_${s.shard.index}`] = `sha256:${await hashFile(`${s.dir}/meta.json`)}`;
    }
    // `files`: what this directory holds of ours; a later run replaces or removes only these.
    const manifest = {
      ...buildManifest({
        stage: "merge-shards",
        config: { shards: first.shard.count },
        inputs,
        wallSeconds: (performance.now() - ctx.t0) / 1000,
      }),
      files: ctx.files,
    };
    await writeManifest(staging, manifest);
    const meta = {
      ...first.meta,
      outputs: ctx.outputs,
      count: ctx.count,
      skipped: ctx.skipped,
      shard: { index: 0, count: 1, start: 0, end: first.shard.total, total: first.shard.total },
      merged_from: sets.map((s) => ({ dir: s.dir, index: s.shard.index, count: s.meta.count })),
      complete: true,
    };
    await writeJsonAtomic(`${staging}/meta.json`, meta);
    await commitSetFiles(staging, outDir, ctx.stale);
  } catch (err) {
    await discardStaging(staging);
    throw err;
  }
}
