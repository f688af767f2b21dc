import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import { matrix } from "../matrix.ts";
import { createRng } from "../random.ts";
import { assertClose } from "../../tests/assert_close.ts";
import {
  type FeatureSetInit,
  readFeatureMeta,
  readFeatureSet,
  writeFeatureSet,
} from "./feature_set.ts";
import { encodeNpyHeader, writeNpy } from "./npy.ts";
import { openFeatureStream } from "./feature_stream.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function sampleSet(n = 20, d = 6, k = 4, seed = 1): FeatureSetInit {
  const rng = createRng(seed);
  return {
    meta: { dataset: "toy", backbone: "none", preprocess: "none", shard: "0/1" },
    features: matrix(n, d, new Float32Array(n * d).map(() => rng.normal())),
    labels: new Int32Array(n).map((_, i) => (i % 5 === 4 ? -1 : rng.int(k))),
    logits: matrix(n, k, new Float32Array(n * k).map(() => rng.normal() * 3)),
    paths: Array.from({ length: n }, (_, i) => `class_${i % 3}/img ${i}.jpg`),
  };
}

async function rejectsWith(p: Promise<unknown>, ...parts: string[]) {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof DataError, `expected DataError, got ${err}`);
    for (const s of parts) assert.ok(err.message.includes(s), `"${err.message}" lacks "${s}"`);
    return true;
  });
}

Deno.test("feature_set: f32 round trip keeps every array and meta key", async () => {
  await withTempDir(async (dir) => {
    const init = sampleSet();
    const meta = await writeFeatureSet(`${dir}/fs`, init);
    assert.deepEqual(
      [meta.count, meta.dim, meta.dtype, meta.complete, meta.shard],
      [20, 6, "float32", true, "0/1"],
    );
    const set = await readFeatureSet(`${dir}/fs`, { numClasses: 4 });
    assert.deepEqual(set.features, init.features);
    assert.deepEqual(set.labels, init.labels);
    assert.deepEqual(set.logits, init.logits);
    assert.deepEqual(set.paths, init.paths);
    assert.deepEqual(set.meta, meta);
    assert.equal(set.features.data.byteLength + 128, set.features.data.buffer.byteLength);
    const names = [...Deno.readDirSync(`${dir}/fs`)].map((e) => e.name).sort();
    assert.deepEqual(names, ["features.npy", "labels.npy", "logits.npy", "meta.json", "paths.txt"]);
  });
});

Deno.test("feature_set: f16 storage round trip within half precision", async () => {
  await withTempDir(async (dir) => {
    const init = sampleSet(30, 8, 3, 2);
    delete init.logits;
    delete init.paths;
    await writeFeatureSet(dir, init, { dtype: "f16" });
    const set = await readFeatureSet(dir);
    assert.equal(set.meta.dtype, "float16");
    const worst = assertClose(set.features.data, init.features.data, {
      atol: 2 ** -24,
      rtol: 2 ** -11,
      reason: "float16 rounding: half an ulp of an 11-bit significand",
    });
    assert.ok(worst > 0);
    assert.equal(set.logits, undefined);
    assert.equal(set.paths, undefined);
  });
});

Deno.test("feature_set: rewriting without optional files removes stale ones", async () => {
  await withTempDir(async (dir) => {
    await writeFeatureSet(dir, sampleSet());
    const smaller = sampleSet(5, 6, 4, 9);
    delete smaller.logits;
    delete smaller.paths;
    await writeFeatureSet(dir, smaller);
    const set = await readFeatureSet(dir);
    assert.equal(set.features.rows, 5);
    assert.equal(set.logits, undefined);
  });
});

Deno.test("feature_set: N = 0 and int64 labels are accepted", async () => {
  await withTempDir(async (dir) => {
    await writeFeatureSet(dir, {
      meta: { dataset: "empty", backbone: "x" },
      features: matrix(0, 4),
      labels: new Int32Array(0),
      paths: [],
    });
    const empty = await readFeatureSet(dir);
    assert.deepEqual([empty.features.rows, empty.features.cols, empty.paths], [0, 4, []]);

    await writeFeatureSet(dir, sampleSet(3, 2, 2));
    await writeNpy(`${dir}/labels.npy`, {
      dtype: "<i8",
      shape: [3],
      data: new BigInt64Array([2n, -1n, 0n]),
    });
    const set = await readFeatureSet(dir);
    assert.deepEqual(Array.from(set.labels), [2, -1, 0]);
  });
});

Deno.test("feature_set: missing, incomplete and inconsistent sets give one-line DataErrors", async () => {
  await withTempDir(async (dir) => {
    await rejectsWith(
      readFeatureSet(`${dir}/nope`),
      `Feature set not found: ${dir}/nope`,
      "deno task demo",
    );
    const fs = `${dir}/fs`;
    await writeFeatureSet(fs, sampleSet());
    const metaPath = `${fs}/meta.json`;
    const meta = JSON.parse(await Deno.readTextFile(metaPath));

    await Deno.writeTextFile(metaPath, JSON.stringify({ ...meta, complete: false }));
    await rejectsWith(readFeatureMeta(fs), `${metaPath} is incomplete`, '"complete": true');
    await Deno.writeTextFile(metaPath, "{oops");
    await rejectsWith(readFeatureMeta(fs), "not valid JSON");
    await Deno.remove(metaPath);
    await Deno.writeTextFile(`${fs}/.lock`, "123");
    await rejectsWith(readFeatureMeta(fs), `${metaPath} is missing while ${fs}/.lock exists`);
    await Deno.remove(`${fs}/.lock`);

    await Deno.writeTextFile(metaPath, JSON.stringify({ ...meta, count: 21 }));
    await rejectsWith(readFeatureSet(fs), "features.npy has 20 rows", "count 21");
    await Deno.writeTextFile(metaPath, JSON.stringify({ ...meta, dim: 7 }));
    await rejectsWith(readFeatureSet(fs), "6 columns", "dim 7");
    await Deno.writeTextFile(metaPath, JSON.stringify({ ...meta, dim: "6" }));
    await rejectsWith(readFeatureMeta(fs), '"dim" must be a non-negative integer');
    await Deno.writeTextFile(metaPath, JSON.stringify(meta));

    await writeNpy(`${fs}/labels.npy`, { dtype: "<i4", shape: [19], data: new Int32Array(19) });
    await rejectsWith(readFeatureSet(fs), "labels.npy has 19 labels", "20 rows");
    await writeNpy(`${fs}/labels.npy`, { dtype: "<f4", shape: [20], data: new Float32Array(20) });
    await rejectsWith(readFeatureSet(fs), "labels.npy must hold integer labels");
    const labels = new Int32Array(20);
    labels[13] = 4;
    await writeNpy(`${fs}/labels.npy`, { dtype: "<i4", shape: [20], data: labels });
    await rejectsWith(readFeatureSet(fs, { numClasses: 4 }), "label 4 at index 13", "[-1, 4)");
    labels[13] = -2;
    await writeNpy(`${fs}/labels.npy`, { dtype: "<i4", shape: [20], data: labels });
    await rejectsWith(readFeatureSet(fs), "label -2 at index 13");
    labels[13] = 0;
    await writeNpy(`${fs}/labels.npy`, { dtype: "<i4", shape: [20], data: labels });

    await Deno.writeTextFile(`${fs}/paths.txt`, "a\nb\n");
    await rejectsWith(readFeatureSet(fs), "paths.txt has 2 lines", "20 rows");
    await Deno.remove(`${fs}/paths.txt`);
    await writeNpy(`${fs}/logits.npy`, { dtype: "<f4", shape: [3, 2], data: new Float32Array(6) });
    await rejectsWith(readFeatureSet(fs), "logits.npy has 3 rows");
    await Deno.remove(`${fs}/logits.npy`);

    await writeNpy(`${fs}/features.npy`, {
      dtype: "<f4",
      shape: [120],
      data: new Float32Array(120),
    });
    await rejectsWith(readFeatureSet(fs), "features.npy must be 2-D", "(120)");
  });
});

Deno.test("feature_set: NaN / Inf features name the first bad row unless checkFinite is off", async () => {
  await withTempDir(async (dir) => {
    const init = sampleSet(10, 4, 2);
    init.features.data[7 * 4 + 2] = NaN;
    init.features.data[8 * 4 + 1] = Infinity;
    await writeFeatureSet(dir, init);
    await rejectsWith(readFeatureSet(dir), "non-finite value (NaN) in row 7");
    const set = await readFeatureSet(dir, { checkFinite: false });
    assert.ok(Number.isNaN(set.features.data[30]));
    init.features.data[30] = 0;
    init.logits!.data[5] = -Infinity;
    await writeFeatureSet(dir, init);
    await rejectsWith(readFeatureSet(dir), "non-finite value (Infinity) in row 8");
    init.features.data[33] = 0;
    await writeFeatureSet(dir, init);
    await rejectsWith(readFeatureSet(dir), "logits.npy has a non-finite value in row 2");
  });
});

Deno.test("feature_set: meta.json sizes are checked against features.npy before it is read", async () => {
  await withTempDir(async (dir) => {
    const fs = `${dir}/fs`;
    await writeFeatureSet(fs, sampleSet(20, 6));
    const metaPath = `${fs}/meta.json`;
    const meta = JSON.parse(await Deno.readTextFile(metaPath));
    // meta.json and features.npy's header agreeing on 500,000,000 rows over 20 rows of data.
    const lying = encodeNpyHeader("<f4", [500_000_000, 6]);
    const file = new Uint8Array(lying.length + 20 * 6 * 4);
    file.set(lying);
    await Deno.writeFile(`${fs}/features.npy`, file);
    await Deno.writeTextFile(metaPath, JSON.stringify({ ...meta, count: 500_000_000 }));
    await rejectsWith(readFeatureSet(fs), `${fs}/features.npy is truncated`, "12000000000 data");
    await writeFeatureSet(fs, sampleSet(20, 6));
    // Sizes other stages allocate from must be positive integers when present.
    for (const [key, v] of [["num_classes", "ten"], ["num_classes", 0], ["views", 1.5]]) {
      await Deno.writeTextFile(metaPath, JSON.stringify({ ...meta, [key]: v }));
      await rejectsWith(readFeatureMeta(fs), `"${key}" must be a positive integer`);
    }
    // A meta.json far larger than any real one is refused before it is parsed.
    await Deno.writeFile(metaPath, new Uint8Array((16 << 20) + 1).fill(0x20));
    await rejectsWith(readFeatureMeta(fs), `${metaPath} is 16.0 MiB`);
    // Long, nested or multi-line values stay on one short line.
    const deep = "[".repeat(60) + JSON.stringify(["a\nb", "x".repeat(5000)]) + "]".repeat(60);
    const text = JSON.stringify(meta).replace(/"count":\d+/, `"count":${deep}`);
    await Deno.writeTextFile(metaPath, text);
    await assert.rejects(readFeatureMeta(fs), (e: unknown) => {
      assert.ok(e instanceof DataError && e.message.includes('"count" must be'), String(e));
      assert.ok(!e.message.includes("\n") && e.message.length < 300, e.message);
      return true;
    });
    // Nesting past any real file's is refused before parsing (JSON.stringify of such a value,
    // in a manifest or a rewritten file, would overflow the stack).
    const deeper = "[".repeat(100000) + "]".repeat(100000);
    await Deno.writeTextFile(metaPath, JSON.stringify(meta).replace(/}$/, `,"x":${deeper}}`));
    await rejectsWith(readFeatureMeta(fs), `${metaPath} nests arrays / objects deeper than 64`);
  });
});

Deno.test("feature_set: a bare set (features.npy alone) reads with its meta from the header", async () => {
  await withTempDir(async (dir) => {
    const fs = `${dir}/my_ood`;
    await Deno.mkdir(fs);
    await rejectsWith(readFeatureSet(fs), "holds neither meta.json nor features.npy");
    const data = Float32Array.from({ length: 12 }, (_, i) => i / 4);
    await writeNpy(`${fs}/features.npy`, { dtype: "<f4", shape: [4, 3], data });
    const set = await readFeatureSet(fs);
    assert.deepEqual(
      [set.meta.dataset, set.meta.backbone, set.meta.count, set.meta.dim, set.meta.dtype],
      ["my_ood", "unknown", 4, 3, "float32"],
    );
    // No labels.npy: every row is unlabeled (-1), as an OOD set's labels would be.
    assert.deepEqual(Array.from(set.labels), [-1, -1, -1, -1]);
    assert.deepEqual(Array.from(set.features.data), Array.from(data));
    const stream = await openFeatureStream(fs);
    assert.deepEqual([stream.features.rows, Array.from(stream.labels)], [4, [-1, -1, -1, -1]]);
    stream.close();
    await writeNpy(`${fs}/labels.npy`, {
      dtype: "<i4",
      shape: [4],
      data: Int32Array.from([0, 2, 1, 0]),
    });
    assert.deepEqual(Array.from((await readFeatureSet(fs)).labels), [0, 2, 1, 0]);
    // Traces of a writer of ours mean "interrupted", never "bare".
    for (const trace of ["manifest.json", ".staging.tmp-1-ab"]) {
      await Deno.mkdir(`${fs}/${trace}`);
      await rejectsWith(readFeatureSet(fs), `meta.json is missing while ${fs}/${trace} exists`);
      await Deno.remove(`${fs}/${trace}`);
    }
    // A rewrite in progress shows a placeholder meta.json, which is refused.
    await writeFeatureSet(fs, sampleSet(3, 2, 2));
    await Deno.writeTextFile(`${fs}/meta.json`, JSON.stringify({ complete: false }));
    await rejectsWith(readFeatureMeta(fs), "is incomplete");
  });
});
