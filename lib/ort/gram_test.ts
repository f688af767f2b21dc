import assert from "node:assert/strict";
import { assertClose } from "../../tests/assert_close.ts";
import { DataError } from "../errors.ts";
import { type Matrix, matrix } from "../matrix.ts";
import { createRng } from "../random.ts";
import { classStats, withinClassScatter } from "./gram.ts";
import { matrixSource, type RowSource } from "./linear.ts";

/** Post-ReLU-like rows: relu(mu_y + noise), labels cycling so every class is present. */
function reluFeatures(seed: number, n: number, d: number, c: number, offset = 0) {
  const rng = createRng(seed);
  const mu = new Float64Array(c * d);
  for (let i = 0; i < mu.length; i++) mu[i] = Math.abs(rng.normal()) * 0.6;
  const x = matrix(n, d);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const y = i < c ? i : rng.int(c);
    labels[i] = y;
    for (let j = 0; j < d; j++) {
      x.data[i * d + j] = Math.max(0, mu[y * d + j] + 0.4 * rng.normal()) + offset;
    }
  }
  return { x, labels };
}

/** Within-class scatter in float64 with per-class centring: the obviously-correct reference. */
function naiveScatter(x: Matrix, labels: Int32Array, c: number) {
  const d = x.cols;
  const sums = new Float64Array(c * d);
  const counts = new Float64Array(c);
  for (let i = 0; i < x.rows; i++) {
    counts[labels[i]]++;
    for (let j = 0; j < d; j++) sums[labels[i] * d + j] += x.data[i * d + j];
  }
  for (let k = 0; k < c; k++) for (let j = 0; j < d; j++) sums[k * d + j] /= counts[k];
  const s = new Float64Array(d * d);
  const z = new Float64Array(d);
  for (let i = 0; i < x.rows; i++) {
    for (let j = 0; j < d; j++) z[j] = x.data[i * d + j] - sums[labels[i] * d + j];
    for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) s[a * d + b] += z[a] * z[b];
  }
  return { means: sums, counts, scatter: s };
}

function asyncSource(m: Matrix): RowSource {
  return {
    rows: m.rows,
    cols: m.cols,
    async readRows(start, count, out) {
      await Promise.resolve();
      out.set(m.data.subarray(start * m.cols, (start + count) * m.cols));
    },
  };
}

function relErr(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    num = Math.max(num, Math.abs(got[i] - ref[i]));
    den = Math.max(den, Math.abs(ref[i]));
  }
  return num / den;
}

for (const d of [64, 600, 1100]) {
  Deno.test(`withinClassScatter matches a float64 reference (D = ${d}, odd chunks)`, async () => {
    const n = d > 100 ? 150 : 300;
    const c = 7;
    const { x, labels } = reluFeatures(10 + d, n, d, c);
    const ref = naiveScatter(x, labels, c);
    const stats = await classStats(asyncSource(x), labels, c, { chunkRows: 53 });
    assert.equal(stats.total, n);
    assert.deepEqual(stats.counts, ref.counts);
    assertClose(stats.means, ref.means, {
      atol: 1e-12,
      rtol: 1e-12,
      reason: "float64 sums of float32 values in a different order",
    });
    const s = await withinClassScatter(asyncSource(x), labels, stats, { chunkRows: 53 });
    const worstRel = relErr(s, ref.scatter);
    assertClose(s, ref.scatter, {
      atol: 1e-4 * (n / 100),
      rtol: 1e-5,
      reason: `float32 products of 53-row chunks, float64 accumulation; worst rel ${worstRel}`,
    });
    for (let a = 0; a < d; a++) {
      for (let b = 0; b < a; b++) assert.equal(s[a * d + b], s[b * d + a], "symmetric");
    }
  });
}

Deno.test("withinClassScatter: chunked equals unchunked", async () => {
  const { x, labels } = reluFeatures(5, 200, 64, 4);
  const stats = await classStats(matrixSource(x), labels, 4);
  const a = await withinClassScatter(matrixSource(x), labels, stats, { chunkRows: 31 });
  const b = await withinClassScatter(matrixSource(x), labels, stats, { chunkRows: 1000 });
  assertClose(a, b, {
    atol: 1e-5,
    rtol: 1e-5,
    reason: "float32 chunk products summed in a different grouping",
  });
});

Deno.test("two-pass scatter survives a large common offset (no X^T X - N mu mu^T cancellation)", async () => {
  // Features ~1000 with spread ~0.4: a one-pass float32 X^T X would lose every digit.
  const { x, labels } = reluFeatures(6, 300, 32, 3, 1000);
  const ref = naiveScatter(x, labels, 3);
  const stats = await classStats(matrixSource(x), labels, 3, { chunkRows: 64 });
  const s = await withinClassScatter(matrixSource(x), labels, stats, { chunkRows: 64 });
  const rel = relErr(s, ref.scatter);
  assert.ok(rel < 1e-4, `worst error relative to the largest entry ${rel}`);
});

Deno.test("classStats rejects bad labels and counts empty classes as NaN means", async () => {
  const x = matrix(3, 2, Float32Array.from([1, 2, 3, 4, 5, 6]));
  await assert.rejects(
    () => classStats(matrixSource(x), Int32Array.from([0, 1, 2]), 2),
    DataError,
  );
  await assert.rejects(() => classStats(matrixSource(x), Int32Array.from([0, 1]), 2), DataError);
  const stats = await classStats(matrixSource(x), Int32Array.from([0, 0, 2]), 3);
  // Hand-worked: class 0 = mean of rows 0, 1; class 1 empty; class 2 = row 2.
  assert.deepEqual(Array.from(stats.counts), [2, 0, 1]);
  assert.deepEqual(Array.from(stats.means.subarray(0, 2)), [2, 3]);
  assert.ok(Number.isNaN(stats.means[2]) && Number.isNaN(stats.means[3]));
  assert.deepEqual(Array.from(stats.means.subarray(4)), [5, 6]);
  const s = await withinClassScatter(matrixSource(x), Int32Array.from([0, 0, 2]), stats);
  // Rows 0, 1 deviate by -+[1, 1]: scatter [[2, 2], [2, 2]].
  assert.deepEqual(Array.from(s), [2, 2, 2, 2]);
});
