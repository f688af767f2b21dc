import assert from "node:assert/strict";
import { assertClose } from "../../tests/assert_close.ts";
import { DataError, UsageError } from "../errors.ts";
import { type Matrix, matrix } from "../matrix.ts";
import { createRng, shuffle } from "../random.ts";
import { validateGroups } from "../groups.ts";
import { centredGram, classMeans, gramReference, kmeansGroups } from "./kmeans.ts";

/** Planted clusters: unequal sizes, classes of a cluster scattered over the ids. */
function planted(seed: number, C: number, D: number, K: number, spread: number) {
  const rng = createRng(seed);
  const centres = Array.from(
    { length: K },
    () => Array.from({ length: D }, () => 10 * rng.normal()),
  );
  const ids = shuffle(rng, Array.from({ length: C }, (_, i) => i));
  const label = new Int32Array(C);
  ids.forEach((c, pos) => (label[c] = pos < K ? pos : rng.int(K)));
  const x = matrix(C, D);
  for (let c = 0; c < C; c++) {
    for (let d = 0; d < D; d++) x.data[c * D + d] = centres[label[c]][d] + spread * rng.normal();
  }
  const groups: number[][] = Array.from({ length: K }, () => []);
  label.forEach((k, c) => groups[k].push(c));
  return { x, groups: canonical(groups) };
}

function canonical(groups: number[][]): number[][] {
  return groups.map((g) => [...g].sort((a, b) => a - b)).sort((a, b) => a[0] - b[0]);
}

/** Inertia of a grouping computed directly in feature space (float64). */
function inertiaOf(x: Matrix, groups: number[][]): number {
  let total = 0;
  for (const g of groups) {
    const mean = new Float64Array(x.cols);
    for (const c of g) {
      for (let d = 0; d < x.cols; d++) mean[d] += x.data[c * x.cols + d] / g.length;
    }
    for (const c of g) {
      for (let d = 0; d < x.cols; d++) total += (x.data[c * x.cols + d] - mean[d]) ** 2;
    }
  }
  return total;
}

Deno.test("k-means recovers a planted grouping exactly for several seeds", async () => {
  for (const seed of [0, 1, 2, 3, 4]) {
    const { x, groups } = planted(100 + seed, 60, 12, 6, 0.5);
    const res = await kmeansGroups(x, 6, { seed, gram: "typescript" });
    assert.deepEqual(res.groups, groups, `seed ${seed}`);
    validateGroups(res.groups, 60);
    res.groups.forEach((g, k) => g.forEach((c) => assert.equal(res.assignments[c], k)));
    assertClose(res.inertia, inertiaOf(x, groups), {
      atol: 0,
      rtol: 1e-6,
      reason: "centring rounds each coordinate to float32 once (relative 6e-8 of values ~30)",
    });
  }
});

Deno.test("the ORT and TypeScript Gram paths give the same clustering", async () => {
  const { x, groups } = planted(7, 120, 300, 9, 2);
  const a = await kmeansGroups(x, 9, { seed: 3, gram: "ort", threads: 1 });
  const b = await kmeansGroups(x, 9, { seed: 3, gram: "typescript" });
  assert.deepEqual(a.groups, groups);
  assert.deepEqual(b.groups, groups);
  assertClose(a.inertia, b.inertia, {
    rtol: 1e-5,
    reason: "ORT accumulates the float32 Gram in float32, TypeScript in float64",
  });
});

Deno.test("centredGram matches a plain float64 Gram of the centred rows", async () => {
  const rng = createRng(11);
  const x = matrix(37, 53);
  for (let i = 0; i < x.data.length; i++) x.data[i] = 5 + rng.normal();
  const centred = matrix(37, 53);
  for (let d = 0; d < 53; d++) {
    let m = 0;
    for (let i = 0; i < 37; i++) m += x.data[i * 53 + d] / 37;
    for (let i = 0; i < 37; i++) centred.data[i * 53 + d] = x.data[i * 53 + d] - m;
  }
  const ref = new Float64Array(37 * 37);
  for (let i = 0; i < 37; i++) {
    for (let j = 0; j < 37; j++) {
      let s = 0;
      for (let d = 0; d < 53; d++) s += centred.data[i * 53 + d] * centred.data[j * 53 + d];
      ref[i * 37 + j] = s;
    }
  }
  assertClose(gramReference(centred), ref, { atol: 0, rtol: 0, reason: "same float64 sums" });
  assertClose(await centredGram(x, { gram: "typescript" }), ref, {
    atol: 1e-9,
    reason: "the mean is subtracted in float64 then rounded to float32 once",
  });
  const worst = assertClose(await centredGram(x, { gram: "ort", threads: 1 }), ref, {
    atol: 1e-4,
    reason: "ORT sums 53 float32 products in float32 (entries up to ~80)",
  });
  assert.ok(worst < 1e-4);
});

Deno.test("k-means ends at a Lloyd fixed point with the lowest inertia over restarts", async () => {
  const rng = createRng(5);
  const x = matrix(80, 6);
  for (let i = 0; i < x.data.length; i++) x.data[i] = rng.normal();
  const best = await kmeansGroups(x, 7, { seed: 9, restarts: 8 });
  // Every class is nearest (squared distance, ties allowed) to its own group's mean.
  const means = best.groups.map((g) => {
    const m = new Float64Array(6);
    for (const c of g) for (let d = 0; d < 6; d++) m[d] += x.data[c * 6 + d] / g.length;
    return m;
  });
  for (let c = 0; c < 80; c++) {
    const dist = means.map((m) => m.reduce((s, v, d) => s + (x.data[c * 6 + d] - v) ** 2, 0));
    assert.ok(dist[best.assignments[c]] <= Math.min(...dist) + 1e-9, `class ${c}`);
  }
  assertClose(best.inertia, inertiaOf(x, best.groups), {
    atol: 0,
    rtol: 1e-6,
    reason: "centring rounds each coordinate to float32 once",
  });
  // One restart with the same seed uses the first of the eight starts, so it cannot be better.
  const single = await kmeansGroups(x, 7, { seed: 9, restarts: 1 });
  assert.ok(best.inertia <= single.inertia);
  const again = await kmeansGroups(x, 7, { seed: 9, restarts: 8 });
  assert.deepEqual(again.groups, best.groups);
});

Deno.test("k-means fills empty clusters when points coincide", async () => {
  // Six copies of one point and two of another: k-means++ runs out of distinct points for K = 4.
  const x = matrix(8, 2, Float32Array.from([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 5, 5, 5, 5]));
  const res = await kmeansGroups(x, 4, { seed: 0 });
  assert.equal(res.groups.length, 4);
  validateGroups(res.groups, 8);
  assert.equal(res.inertia, 0);
  // K = C puts every class alone.
  const all = await kmeansGroups(x, 8, { seed: 1 });
  assert.deepEqual(all.groups, [[0], [1], [2], [3], [4], [5], [6], [7]]);
});

Deno.test("k-means rejects bad group counts and non-finite means", async () => {
  const x = matrix(5, 2, Float32Array.from([0, 0, 1, 0, 0, 1, 1, 1, 2, 2]));
  for (const k of [1, 6, 2.5, 0]) {
    await assert.rejects(
      () => kmeansGroups(x, k, { seed: 0 }),
      (e: unknown) => e instanceof UsageError && e.message.includes(`groups ${k} `),
    );
  }
  const bad = matrix(3, 2, Float32Array.from([0, 0, Number.NaN, 1, 2, 2]));
  await assert.rejects(
    () => kmeansGroups(bad, 2, { seed: 0 }),
    (e: unknown) => e instanceof DataError && /Class mean 1 /.test(e.message),
  );
});

Deno.test("classMeans averages each class and skips unlabeled rows", () => {
  const features = matrix(6, 2, Float32Array.from([1, 2, 3, 4, 10, 10, 5, 6, 7, 7, 100, 100]));
  const labels = Int32Array.from([0, 0, 2, 1, 1, -1]);
  const m = classMeans(features, labels, 3);
  assert.deepEqual([m.rows, m.cols], [3, 2]);
  assertClose(m.data, [2, 3, 6, 6.5, 10, 10], { atol: 0, reason: "exact small sums" });
  assert.throws(
    () => classMeans(features, Int32Array.from([0, 0, 2, 2, 2, -1]), 3),
    (e: unknown) => e instanceof DataError && /Class 1 has no samples/.test(e.message),
  );
  assert.throws(
    () => classMeans(features, Int32Array.from([0, 1, 2, 3, 1, 0]), 3),
    (e: unknown) => e instanceof DataError && /Label 3 of sample 3/.test(e.message),
  );
});
