import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import { float32ToFloat16Bits, openNpy, writeNpy } from "../io/npy.ts";
import { matrix } from "../matrix.ts";
import { createRng } from "../random.ts";
import { hyperRule } from "./hyperrule.ts";
import { npyFeatureSource, openFileSource } from "./file_source.ts";
import { gatherSource, trainHead } from "./trainer.ts";

const N = 300;
const D = 24;

/** Seeded post-ReLU rows; every f32 value here is also written as f16 (rounded). */
function rows(seed: number) {
  const rng = createRng(seed);
  const x = matrix(N, D);
  for (let i = 0; i < x.data.length; i++) x.data[i] = Math.max(0, rng.normal());
  return x;
}

/** Plain reference gather: row indices[i] copied to slot i. */
function refGather(data: Float32Array, indices: Int32Array): Float32Array {
  const out = new Float32Array(indices.length * D);
  indices.forEach((r, i) => out.set(data.subarray(r * D, (r + 1) * D), i * D));
  return out;
}

/** Index batches that exercise lone rows, runs, runs longer than maxRunRows and repeats. */
function batches(): Int32Array[] {
  const rng = createRng(5);
  const random = Int32Array.from({ length: 200 }, () => rng.int(N));
  const runs = Int32Array.from([7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 299, 0, 1, 2, 150, 150, 151]);
  const shuffled = Int32Array.from({ length: 64 }, (_, i) => (i * 37) % 64 + 100);
  return [random, runs, shuffled, Int32Array.from([42]), new Int32Array(0)];
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "file_source_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("npyFeatureSource: float32 file gathers exactly the rows of the in-memory copy", async () => {
  await withDir(async (dir) => {
    const x = rows(1);
    await writeNpy(`${dir}/f.npy`, { dtype: "<f4", shape: [N, D], data: x.data });
    for (const maxRunRows of [1, 4, 64]) {
      const src = await openFileSource(`${dir}/f.npy`, { maxRunRows });
      try {
        assert.equal(src.rows, N);
        assert.equal(src.cols, D);
        for (const idx of batches()) {
          const out = new Float32Array(idx.length * D).fill(-1);
          src.gather(idx, out);
          assert.deepEqual(out, refGather(x.data, idx), `maxRunRows ${maxRunRows}`);
        }
      } finally {
        src.close();
      }
    }
  });
});

Deno.test("npyFeatureSource: float16 file gathers the exact float32 values of its halves", async () => {
  await withDir(async (dir) => {
    const x = rows(2);
    const bits = float32ToFloat16Bits(x.data);
    await writeNpy(`${dir}/h.npy`, { dtype: "<f2", shape: [N, D], data: bits });
    // Independent expectation: decode each half by its IEEE definition.
    const halves = Float32Array.from(bits, (h) => {
      const e = (h >> 10) & 0x1f;
      const m = h & 0x3ff;
      const v = e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15);
      return h & 0x8000 ? -v : v;
    });
    const src = npyFeatureSource(await openNpy(`${dir}/h.npy`), { maxRunRows: 3 });
    try {
      for (const idx of batches()) {
        const out = new Float32Array(idx.length * D);
        src.gather(idx, out);
        assert.deepEqual(out, refGather(halves, idx));
      }
    } finally {
      src.close();
    }
  });
});

Deno.test("npyFeatureSource: a non-finite gathered value is a DataError naming file and row", async () => {
  await withDir(async (dir) => {
    const x = rows(3);
    x.data[57 * D + 5] = NaN;
    await writeNpy(`${dir}/f.npy`, { dtype: "<f4", shape: [N, D], data: x.data });
    const src = await openFileSource(`${dir}/f.npy`);
    try {
      src.gather(Int32Array.from([1, 2, 3]), new Float32Array(3 * D)); // row 57 not touched
      assert.throws(
        () => src.gather(Int32Array.from([9, 57]), new Float32Array(2 * D)),
        (e: unknown) =>
          e instanceof DataError && e.message.includes("row 57") && e.message.includes("f.npy"),
      );
    } finally {
      src.close();
    }
    const lax = await openFileSource(`${dir}/f.npy`, { checkFinite: false });
    try {
      const out = new Float32Array(D);
      lax.gather(Int32Array.from([57]), out);
      assert.ok(Number.isNaN(out[5]));
    } finally {
      lax.close();
    }
  });
});

Deno.test("npyFeatureSource: rejects 1-D and integer files, out-of-range rows and short outputs", async () => {
  await withDir(async (dir) => {
    await writeNpy(`${dir}/v.npy`, { dtype: "<f4", shape: [5], data: new Float32Array(5) });
    await writeNpy(`${dir}/i.npy`, { dtype: "<i4", shape: [2, 2], data: new Int32Array(4) });
    await assert.rejects(() => openFileSource(`${dir}/v.npy`), DataError);
    await assert.rejects(() => openFileSource(`${dir}/i.npy`), DataError);
    await writeNpy(`${dir}/f.npy`, { dtype: "<f4", shape: [4, 2], data: new Float32Array(8) });
    const src = await openFileSource(`${dir}/f.npy`);
    try {
      assert.throws(() => src.gather(Int32Array.from([4]), new Float32Array(2)), RangeError);
      assert.throws(() => src.gather(Int32Array.from([0, 1]), new Float32Array(3)), RangeError);
    } finally {
      src.close();
    }
  });
});

Deno.test("trainHead: a float16 file source trains the same bytes as the decoded set in memory", async () => {
  await withDir(async (dir) => {
    const C = 5;
    const rng = createRng(11);
    const y = Int32Array.from({ length: N }, () => rng.int(C));
    const x = rows(4);
    for (let i = 0; i < N; i++) x.data[i * D + (y[i] % D)] += 3; // learnable
    const bits = float32ToFloat16Bits(x.data);
    await writeNpy(`${dir}/h.npy`, { dtype: "<f2", shape: [N, D], data: bits });
    const mem = matrix(N, D);
    const reader = await openNpy(`${dir}/h.npy`);
    reader.readRowsSync(0, N, mem.data);
    reader.close();
    const rule = hyperRule(N, { steps: 12, batch: 32, lr: 0.05, mixupAlpha: 0.2 });
    const common = { labels: y, numClasses: C, layout: null, rule, seed: 3, threads: 1 };
    const a = await trainHead({ ...common, source: gatherSource(mem) });
    const src = await openFileSource(`${dir}/h.npy`);
    try {
      const b = await trainHead({ ...common, source: src });
      assert.deepEqual(b.weight.data, a.weight.data);
      assert.deepEqual(b.bias, a.bias);
      assert.deepEqual(b.lossHistory, a.lossHistory);
    } finally {
      src.close();
    }
  });
});
