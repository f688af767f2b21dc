/**
 * Merges the feature sets of a sharded extraction (shards 0..n-1 of one image list and one
 * model) into one feature set, byte-identical in its arrays to an unsharded run.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import { ensureWritableDir, writeJsonAtomic, writeTextAtomic } from "../io/atomic.ts";
import { type FeatureMeta, readFeatureMeta } from "../io/feature_set.ts";
import { acquireLock } from "../io/lock.ts";
import { buildManifest, hashFile, writeManifest } from "../io/manifest.ts";
import { type NpyDtype, openNpy, readNpy, writeNpy } from "../io/npy.ts";
import { concatNpyFiles } from "./npy_concat.ts";

/** Shard information that `deno task extract` records in meta.json. */
interface ShardInfo {
  index: number;
  count: number;
  start: number;
  end: number;
  total: number;
}

interface OutputInfo {
  name: string;
  file: string;
  dim: number;
  dtype: "float32" | "float16";
  /** Rows per image (the training views array has V); 1 when absent. */
  rows_per_image?: number;
}

interface ShardSet {
  dir: string;
  meta: FeatureMeta;
  shard: ShardInfo;
  outputs: OutputInfo[];
}

/** What a merge produced. */
export interface MergeSummary {
  outDir: string;
  shards: number;
  count: number;
  skipped: number;
  dim: number;
}

function canonical(v: unknown): string {
  return JSON.stringify(
    v,
    (_k, x) =>
      x && typeof x === "object" && !Array.isArray(x)
        ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, x[k]]))
        : x,
  );
}

async function readShard(dir: string): Promise<ShardSet> {
  const meta = await readFeatureMeta(dir);
  const s = meta.shard as ShardInfo | undefined;
  if (
    !s || typeof s !== "object" ||
    !["index", "count", "start", "end", "total"].every((k) =>
      Number.isSafeInteger((s as unknown as Record<string, unknown>)[k])
    )
  ) {
    throw new DataError(
      `${dir}/meta.json has no shard record; merge only feature sets written by ` +
        "`deno task extract --shard i/n`",
    );
  }
  const outputs = Array.isArray(meta.outputs)
    ? meta.outputs as OutputInfo[]
    : [{ name: "features", file: "features.npy", dim: meta.dim, dtype: meta.dtype }];
  return { dir, meta, shard: s, outputs };
}

/** Lines of a text file without the trailing newline ("" -> no lines). */
async function lines(path: string): Promise<string[]> {
  const text = await Deno.readTextFile(path);
  return text === "" ? [] : text.replace(/\n$/, "").split("\n");
}

/**
 * Checks that `dirs` are exactly shards 0..n-1 of the same list, model, preprocessing and output
 * layout (any order on the command line), then writes their concatenation in shard order to
 * `outDir`: every output array, labels, paths, skipped.tsv, manifest and meta.json (last).
 * Refuses with a `DataError` naming the offending directory otherwise.
 */
export async function mergeShards(outDir: string, dirs: readonly string[]): Promise<MergeSummary> {
  const t0 = performance.now();
  if (dirs.length === 0) throw new DataError("no shard directories given");
  const sets: ShardSet[] = [];
  for (const d of dirs) sets.push(await readShard(d));
  sets.sort((a, b) => a.shard.index - b.shard.index);
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
  const missing = [...Array(n).keys()].filter((i) => !have.has(i));
  if (missing.length > 0) {
    throw new DataError(
      `shards ${missing.map((i) => `${i}/${n}`).join(", ")} are missing; pass all ${n} shard ` +
        "directories (rerun the missing shards first)",
    );
  }
  let pos = 0;
  let count = 0;
  let skipped = 0;
  const skippedLines: string[] = [];
  const paths: string[] = [];
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
    paths.push(...p);
    skippedLines.push(...sk);
    count += s.meta.count;
    skipped += sk.length;
  }
  if (pos !== first.shard.total) {
    throw new DataError(`the shards end at list position ${pos}, not ${first.shard.total}`);
  }

  await ensureWritableDir(outDir, "--out");
  const lock = await acquireLock(outDir, "merge-shards");
  try {
    await Deno.remove(`${outDir}/meta.json`).catch(() => {});
    for (const o of first.outputs) {
      await concatNpyFiles(
        `${outDir}/${o.file}`,
        (o.dtype === "float16" ? "<f2" : "<f4") as NpyDtype,
        o.dim,
        count * (o.rows_per_image ?? 1),
        sets.map((s) => `${s.dir}/${o.file}`),
      );
    }
    const labels = new Int32Array(count);
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
    await writeNpy(`${outDir}/labels.npy`, { dtype: "<i4", shape: [count], data: labels });
    await writeTextAtomic(`${outDir}/paths.txt`, paths.map((p) => p + "\n").join(""));
    await writeTextAtomic(
      `${outDir}/skipped.tsv`,
      "path\treason\n" + skippedLines.map((l) => l + "\n").join(""),
    );
    // Each shard's meta.json identifies it (list, model, range, counts) without rehashing arrays.
    const inputs: Record<string, string> = {};
    for (const s of sets) {
      inputs[`shard_${s.shard.index}`] = `sha256:${await hashFile(`${s.dir}/meta.json`)}`;
    }
    await writeManifest(
      outDir,
      buildManifest({
        stage: "merge-shards",
        config: { shards: n },
        inputs,
        wallSeconds: (performance.now() - t0) / 1000,
      }),
    );
    const meta = {
      ...first.meta,
      count,
      skipped,
      shard: { index: 0, count: 1, start: 0, end: first.shard.total, total: first.shard.total },
      merged_from: sets.map((s) => ({ dir: s.dir, index: s.shard.index, count: s.meta.count })),
      complete: true,
    };
    await writeJsonAtomic(`${outDir}/meta.json`, meta);
  } finally {
    lock.release();
  }
  return { outDir, shards: n, count, skipped, dim: first.meta.dim };
}
