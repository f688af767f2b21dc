import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import { createRng } from "../random.ts";
import { writeFeatureSet } from "./feature_set.ts";
import { openFeatureStream } from "./feature_stream.ts";
import { writeNpy } from "./npy.ts";

async function withSet(fn: (dir: string, features: Float32Array) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "mos_stream_" });
  try {
    const rng = createRng(9);
    const features = new Float32Array(5 * 3).map(() => rng.normal());
    await writeFeatureSet(dir, {
      meta: { dataset: "t", backbone: "b" },
      features: { data: features, rows: 5, cols: 3 },
      labels: Int32Array.from([0, 2, -1, 1, 2]),
    });
    await fn(dir, features);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function rejectsWith(p: Promise<unknown>, ...parts: string[]) {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof DataError, `expected DataError, got ${err}`);
    assert.ok(!err.message.includes("\n"), err.message);
    for (const s of parts) assert.ok(err.message.includes(s), `"${err.message}" lacks "${s}"`);
    return true;
  });
}

Deno.test("openFeatureStream: streams the rows and labels the set holds", async () => {
  await withSet(async (dir, features) => {
    const s = await openFeatureStream(dir, { numClasses: 3 });
    try {
      assert.deepEqual(Array.from(s.labels), [0, 2, -1, 1, 2]);
      const out = new Float32Array(15);
      await s.features.readRows(0, 5, out);
      assert.deepEqual(out, features);
    } finally {
      s.close();
    }
    await rejectsWith(openFeatureStream(dir, { numClasses: 2 }), "label 2 at row 1");
  });
});

Deno.test("openFeatureStream: meta.json sizes and int64 labels are checked, never trusted", async () => {
  await withSet(async (dir) => {
    const meta = JSON.parse(await Deno.readTextFile(`${dir}/meta.json`));
    // meta.json's count and dim must match features.npy (the stream once took either on trust).
    await Deno.writeTextFile(`${dir}/meta.json`, JSON.stringify({ ...meta, count: 500_000_000 }));
    await rejectsWith(openFeatureStream(dir), "features.npy has 5 rows", "count 500000000");
    await Deno.writeTextFile(`${dir}/meta.json`, JSON.stringify({ ...meta, dim: 4 }));
    await rejectsWith(openFeatureStream(dir), "features.npy has 3 columns", "dim 4");
    await Deno.writeTextFile(`${dir}/meta.json`, JSON.stringify(meta));
    // An int64 label outside int32 once wrapped silently (2^32 read as class 0).
    await writeNpy(`${dir}/labels.npy`, {
      dtype: "<i8",
      shape: [5],
      data: BigInt64Array.from([0n, 1n, 4294967296n, 0n, 1n]),
    });
    await rejectsWith(openFeatureStream(dir), "labels.npy: label 4294967296 at index 2");
    await writeNpy(`${dir}/labels.npy`, {
      dtype: "<i8",
      shape: [5],
      data: BigInt64Array.from([0n, 1n, 2n, 0n, -1n]),
    });
    const s = await openFeatureStream(dir);
    s.close();
    assert.deepEqual(Array.from(s.labels), [0, 1, 2, 0, -1]);
  });
});
