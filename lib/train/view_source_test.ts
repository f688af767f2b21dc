import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import { writeFeatureSet } from "../io/feature_set.ts";
import { float16BitsToFloat32, float32ToFloat16Bits, writeNpy } from "../io/npy.ts";
import { createRng } from "../random.ts";
import { openViewSource, viewIndex, viewSource } from "./view_source.ts";

function data(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

Deno.test("viewIndex: a pure function of (seed, step, row), about uniform, varies by step", () => {
  const V = 4;
  const counts = new Array(V).fill(0);
  let changed = 0;
  const N = 20000;
  for (let r = 0; r < N; r++) {
    const v = viewIndex(9, 3, r, V);
    assert.equal(v, viewIndex(9, 3, r, V));
    counts[v]++;
    if (viewIndex(9, 4, r, V) !== v) changed++;
  }
  // Multinomial(20000, 1/4): sd sqrt(20000 * 3/16) = 61; allow 5 sd.
  for (const c of counts) assert.ok(Math.abs(c - N / V) < 306, `counts ${counts}`);
  // Two independent picks differ with probability 3/4 (sd of the count 61).
  assert.ok(Math.abs(changed - 0.75 * N) < 306, `changed ${changed}`);
  assert.notEqual(
    [0, 1, 2, 3, 4, 5, 6, 7].map((r) => viewIndex(1, 0, r, V)).join(),
    [0, 1, 2, 3, 4, 5, 6, 7].map((r) => viewIndex(2, 0, r, V)).join(),
  );
  assert.equal(viewIndex(5, 7, 123, 1), 0);
});

Deno.test("viewSource.gather: row i*V + viewIndex of each index, f32 and f16, any batch", () => {
  const [N, V, D] = [37, 3, 5];
  const f32 = data(N * V * D, 1);
  const f16 = float32ToFloat16Bits(f32);
  const f16AsF32 = float16BitsToFloat32(f16);
  for (const [src, ref] of [[f32, f32], [f16, f16AsF32]] as const) {
    const s = viewSource(src, N, D, V, 11);
    assert.equal(s.rows, N);
    const idx = Int32Array.from([0, 36, 5, 5, 17]);
    for (const step of [0, 1, 999]) {
      const out = new Float32Array(idx.length * D);
      s.gather(idx, out, step);
      for (let i = 0; i < idx.length; i++) {
        const row = idx[i] * V + viewIndex(11, step, idx[i], V);
        assert.deepEqual(out.subarray(i * D, (i + 1) * D), ref.subarray(row * D, (row + 1) * D));
      }
      // The same example gets the same view in another batch of the same step.
      const alone = new Float32Array(D);
      s.gather(Int32Array.from([17]), alone, step);
      assert.deepEqual(alone, out.subarray(4 * D, 5 * D));
    }
    assert.throws(() => s.gather(idx, new Float32Array(idx.length * D)), /needs the training step/);
  }
});

Deno.test("openViewSource: reads views.npy of a feature set; null without views; clear errors", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mos_views_src_" });
  try {
    const [N, V, D] = [6, 2, 4];
    const set = {
      meta: { dataset: "t", backbone: "b" },
      features: { data: data(N * D, 2), rows: N, cols: D },
      labels: new Int32Array(N),
    };
    await writeFeatureSet(`${dir}/plain`, set);
    assert.equal(await openViewSource(`${dir}/plain`, 0), null);
    await writeFeatureSet(`${dir}/v`, { ...set, meta: { ...set.meta, views: V } });
    await assert.rejects(
      openViewSource(`${dir}/v`, 0),
      (e: unknown) =>
        e instanceof DataError && /views\.npy is missing.*extract the set's views again$/
          .test(e.message),
    );
    await assert.rejects(
      openViewSource(`${dir}/v`, 0, undefined, { hint: "rerun with --views" }),
      (e: unknown) => e instanceof DataError && /; rerun with --views$/.test(e.message),
    );
    const views = data(N * V * D, 3);
    await writeNpy(`${dir}/v/views.npy`, {
      dtype: "<f2",
      shape: [N * V, D],
      data: float32ToFloat16Bits(views),
    });
    const s = (await openViewSource(`${dir}/v`, 4))!;
    assert.equal(s.views, V);
    const out = new Float32Array(D);
    s.gather(Int32Array.from([5]), out, 12);
    const row = 5 * V + viewIndex(4, 12, 5, V);
    assert.deepEqual(
      out,
      float16BitsToFloat32(float32ToFloat16Bits(views.subarray(row * D, row * D + D))),
    );
    await writeNpy(`${dir}/v/views.npy`, { dtype: "<f4", shape: [N, D], data: data(N * D, 4) });
    await assert.rejects(openViewSource(`${dir}/v`, 0), /expected float \(12, 4\)/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openViewSource above the size limit gathers from the file: same rows as in memory", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mos_views_file_" });
  try {
    const [N, V, D] = [50, 3, 7];
    const set = {
      meta: { dataset: "t", backbone: "b", views: V },
      features: { data: data(N * D, 5), rows: N, cols: D },
      labels: new Int32Array(N),
    };
    await writeFeatureSet(`${dir}/v`, set);
    const views = data(N * V * D, 6);
    for (const dtype of ["<f4", "<f2"] as const) {
      await writeNpy(`${dir}/v/views.npy`, {
        dtype,
        shape: [N * V, D],
        data: dtype === "<f4" ? views : float32ToFloat16Bits(views),
      });
      const mem = (await openViewSource(`${dir}/v`, 8))!;
      // A limit of 0 bytes: every views.npy stays on disk.
      const file = (await openViewSource(`${dir}/v`, 8, 0))!;
      try {
        assert.equal(file.views, V);
        assert.equal(file.rows, N);
        // Repeats, neighbours and unsorted indices exercise the file source's runs.
        const idx = Int32Array.from([49, 0, 1, 2, 2, 30, 17, 18, 0]);
        for (const step of [0, 5, 77]) {
          const a = new Float32Array(idx.length * D);
          const b = new Float32Array(idx.length * D);
          mem.gather(idx, a, step);
          file.gather(idx, b, step);
          assert.deepEqual(b, a, `${dtype} step ${step}`);
          const row = idx[5] * V + viewIndex(8, step, idx[5], V);
          const ref = dtype === "<f4"
            ? views.subarray(row * D, row * D + D)
            : float16BitsToFloat32(float32ToFloat16Bits(views.subarray(row * D, row * D + D)));
          assert.deepEqual(b.subarray(5 * D, 6 * D), ref);
        }
        assert.throws(() => file.gather(idx, new Float32Array(idx.length * D)), /training step/);
      } finally {
        mem.close();
        file.close();
      }
    }
    await writeNpy(`${dir}/v/views.npy`, { dtype: "<f4", shape: [N, D], data: data(N * D, 4) });
    await assert.rejects(openViewSource(`${dir}/v`, 0, 0), /expected float \(150, 7\)/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openViewSource: a non-finite view value is one clear error, in memory and on disk", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mos_views_nan_" });
  try {
    const [N, V, D] = [4, 2, 3];
    await writeFeatureSet(`${dir}/v`, {
      meta: { dataset: "t", backbone: "b", views: V },
      features: { data: data(N * D, 1), rows: N, cols: D },
      labels: new Int32Array(N),
    });
    const views = data(N * V * D, 2);
    views[5 * D + 1] = NaN; // row 5 = example 2, view 1
    for (const dtype of ["<f4", "<f2"] as const) {
      await writeNpy(`${dir}/v/views.npy`, {
        dtype,
        shape: [N * V, D],
        data: dtype === "<f4" ? views : float32ToFloat16Bits(views),
      });
      await assert.rejects(
        openViewSource(`${dir}/v`, 0),
        (e: unknown) => e instanceof DataError && /non-finite value in row 5/.test(e.message),
      );
      const file = (await openViewSource(`${dir}/v`, 0, 0))!;
      try {
        // Find a step whose pick for example 2 is view 1: the gather must then fail on row 5.
        let step = 0;
        while (viewIndex(0, step, 2, V) !== 1) step++;
        assert.throws(
          () => file.gather(Int32Array.from([2]), new Float32Array(D), step),
          (e: unknown) => e instanceof DataError && /non-finite value .* in row 5/.test(e.message),
        );
      } finally {
        file.close();
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
