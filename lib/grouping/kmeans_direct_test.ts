import assert from "node:assert/strict";
import { assertClose } from "../../tests/assert_close.ts";
import { matrix } from "../matrix.ts";
import { createRng } from "../random.ts";
import { GRAM_MAX_BYTES, kmeansGroups } from "./kmeans.ts";

/** `perBlob` points around each of `k` centres far apart (distance ~100 vs spread ~1). */
function blobs(k: number, perBlob: number, D: number, seed: number) {
  const rng = createRng(seed);
  const centres = Array.from(
    { length: k },
    () => Array.from({ length: D }, () => 100 * rng.normal()),
  );
  const C = k * perBlob;
  const x = matrix(C, D);
  const truth: number[][] = Array.from({ length: k }, () => []);
  // Interleave the blobs so cluster ids and class ids are unrelated.
  for (let i = 0; i < C; i++) {
    const b = i % k;
    truth[b].push(i);
    for (let d = 0; d < D; d++) x.data[i * D + d] = centres[b][d] + rng.normal();
  }
  return { x, truth: truth.sort((a, b) => a[0] - b[0]) };
}

Deno.test("feature-space k-means finds the same clusters and inertia as the Gram path", async () => {
  // Overlapping blobs, so Lloyd iterates: spread 1 around centres ~N(0, 1.5^2).
  const rng = createRng(3);
  const C = 300;
  const D = 16;
  const x = matrix(C, D);
  const centres = Array.from(
    { length: 7 },
    () => Array.from({ length: D }, () => 1.5 * rng.normal()),
  );
  for (let i = 0; i < C; i++) {
    for (let d = 0; d < D; d++) x.data[i * D + d] = centres[i % 7][d] + rng.normal();
  }
  const gram = await kmeansGroups(x, 7, {
    seed: 5,
    restarts: 3,
    gram: "typescript",
    space: "gram",
  });
  const direct = await kmeansGroups(x, 7, { seed: 5, restarts: 3, space: "features", threads: 2 });
  assert.deepEqual(direct.groups, gram.groups);
  assert.deepEqual([...direct.assignments], [...gram.assignments]);
  assert.equal(direct.iterations, gram.iterations);
  assertClose([direct.inertia], [gram.inertia], {
    rtol: 1e-5,
    reason: "float32 ORT products vs float64 Gram sums",
  });
  assert.ok(gram.iterations > 0, "the case should need Lloyd iterations");
});

Deno.test("above the Gram budget, auto clusters in feature space and recovers separated blobs", async () => {
  const k = 4;
  const perBlob = 2300; // C = 9200 > 8192: the Gram matrix would pass GRAM_MAX_BYTES.
  const C = k * perBlob;
  assert.ok(C * C * 8 > GRAM_MAX_BYTES);
  const { x, truth } = blobs(k, perBlob, 8, 11);
  const r = await kmeansGroups(x, k, { seed: 1, restarts: 2, threads: 2 });
  assert.deepEqual(r.groups, truth);
  // Inertia of the true clustering, in float64: the sum of squared distances to blob means.
  let want = 0;
  for (const g of truth) {
    const mean = new Float64Array(8);
    for (const i of g) for (let d = 0; d < 8; d++) mean[d] += x.data[i * 8 + d] / g.length;
    for (const i of g) for (let d = 0; d < 8; d++) want += (x.data[i * 8 + d] - mean[d]) ** 2;
  }
  assertClose([r.inertia], [want], { rtol: 1e-4, reason: "float32 products, C = 9200 terms" });
});
