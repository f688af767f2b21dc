import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import { type Matrix, matrix } from "../matrix.ts";
import { createRng } from "../random.ts";
import { assertClose } from "../../tests/assert_close.ts";
import { KL_TEMPLATE_FLOOR, klMatching, klTemplates, klTemplatesClean } from "./kl_matching.ts";

function randomProbs(seed: number, N: number, K: number, scale: number): Matrix {
  const rng = createRng(seed);
  const out = new Float32Array(N * K);
  for (let i = 0; i < N; i++) {
    const e = Array.from({ length: K }, () => Math.exp(rng.normal() * scale));
    const s = e.reduce((a, b) => a + b);
    for (let j = 0; j < K; j++) out[i * K + j] = e[j] / s;
  }
  return matrix(N, K, out);
}

function rowOf(m: Matrix, i: number): number[] {
  return Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols));
}

/** KL(p || q) = sum p log(p / q) with 0 log 0 = 0, directly in float64. */
function naiveKl(p: number[], q: number[]): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) if (p[i] !== 0) s += p[i] * Math.log(p[i] / q[i]);
  return s;
}

Deno.test("klTemplates are per-class means; empty classes are NaN rows", () => {
  const probs = randomProbs(1, 40, 6, 2);
  const rng = createRng(2);
  // Class 3 of 6 never appears.
  const labels = Int32Array.from({ length: 40 }, () => [0, 1, 2, 4, 5][rng.int(5)]);
  const t = klTemplates(probs, labels, 6);
  assert.equal(t.rows, 6);
  assert.equal(t.cols, 6);
  let worst = 0;
  for (let c = 0; c < 6; c++) {
    const rows = [...labels.keys()].filter((i) => labels[i] === c).map((i) => rowOf(probs, i));
    if (rows.length === 0) {
      assert.ok(rowOf(t, c).every(Number.isNaN), `class ${c} should be NaN`);
      continue;
    }
    const mean = rows[0].map((_, j) => rows.reduce((a, r) => a + r[j], 0) / rows.length);
    worst = Math.max(worst, assertClose(rowOf(t, c), mean, { atol: 1e-7, reason: "float32" }));
  }
  assert.ok(worst < 1e-7, `worst abs error ${worst}`);
});

Deno.test("klMatching equals -min_c KL(p || t_c) by direct float64 sums, skipping empty classes", () => {
  const K = 10;
  const train = randomProbs(3, 200, K, 3);
  const rng = createRng(4);
  const labels = Int32Array.from({ length: 200 }, () => rng.int(K - 1)); // class 9 empty
  const t = klTemplates(train, labels, K);
  const test = randomProbs(5, 60, K, 3);
  // Exact zeros in some rows exercise 0 log 0 = 0.
  test.data.fill(0, 0, 3);
  test.data[3] = 1 - test.data.subarray(4, K).reduce((a, b) => a + b, 0);
  const got = klMatching(test, t);
  const want: number[] = [];
  for (let i = 0; i < test.rows; i++) {
    let best = Infinity;
    for (let c = 0; c < K - 1; c++) best = Math.min(best, naiveKl(rowOf(test, i), rowOf(t, c)));
    want.push(-best);
  }
  const worst = assertClose(got, want, {
    atol: 1e-6,
    rtol: 1e-6,
    reason: "float32 output; p log p - p log q split vs direct log(p / q)",
  });
  assert.ok(worst < 1e-6, `worst abs error ${worst}`);
});

Deno.test("klMatching hand values: matching template 0, KL direction p first, zero entries", () => {
  const t = matrix(2, 2, new Float32Array([0.5, 0.5, 0.9, 0.1]));
  // p equals template 0: KL 0, score -0.
  assertClose(klMatching(matrix(1, 2, new Float32Array([0.5, 0.5])), t)[0], 0, {
    atol: 1e-7,
    reason: "float32",
  });
  // Only template 1 kept: KL(p || t1) = 0.5 ln(0.5 / 0.9) + 0.5 ln(0.5 / 0.1) = 0.5 ln(25 / 9).
  const only1 = matrix(2, 2, new Float32Array([NaN, NaN, 0.9, 0.1]));
  assertClose(
    klMatching(matrix(1, 2, new Float32Array([0.5, 0.5])), only1)[0],
    -0.5 * Math.log(25 / 9),
    { atol: 1e-7, reason: "float32" },
  );
  // KL(p || q) with p = [1, 0], q = [0.5, 0.5] is ln 2 (the reverse direction would be ln 2 too,
  // so use q = [0.9, 0.1]: KL(p || q) = ln(1 / 0.9); KL(q || p) would be infinite).
  const t2 = matrix(1, 2, new Float32Array([0.9, 0.1]));
  assertClose(klMatching(matrix(1, 2, new Float32Array([1, 0])), t2)[0], -Math.log(1 / 0.9), {
    atol: 1e-7,
    reason: "float32 0.9",
  });
  // Zero template entry with p > 0: floored, large but finite.
  const t3 = matrix(1, 2, new Float32Array([1, 0]));
  const s = klMatching(matrix(1, 2, new Float32Array([0.5, 0.5])), t3)[0];
  assertClose(s, -(0.5 * Math.log(0.5) + 0.5 * Math.log(0.5 / KL_TEMPLATE_FLOOR)), {
    atol: 1e-4,
    reason: "float32 of a value near -51",
  });
  assert.ok(Number.isFinite(s));
});

Deno.test("klTemplatesClean groups a held-out split by predicted class", () => {
  const probs = randomProbs(7, 80, 5, 2);
  const t = klTemplatesClean(probs);
  const pred = Int32Array.from({ length: 80 }, (_, i) => {
    const r = rowOf(probs, i);
    return r.indexOf(Math.max(...r));
  });
  assert.deepEqual(t.data, klTemplates(probs, pred, 5).data);
  const given = Int32Array.from({ length: 80 }, (_, i) => i % 5);
  assert.deepEqual(klTemplatesClean(probs, given).data, klTemplates(probs, given, 5).data);
});

Deno.test("kl matching errors: bad labels, length and column mismatch, no templates", () => {
  const probs = randomProbs(9, 4, 3, 1);
  assert.throws(() => klTemplates(probs, new Int32Array([0, 1, -1, 2]), 3), DataError);
  assert.throws(() => klTemplates(probs, new Int32Array([0, 1, 3, 2]), 3), DataError);
  assert.throws(() => klTemplates(probs, new Int32Array([0, 1]), 3), DataError);
  assert.throws(() => klMatching(probs, matrix(3, 2)), DataError);
  assert.throws(() => klMatching(probs, matrix(1, 3, new Float32Array(3).fill(NaN))), DataError);
});

Deno.test("klTemplates: a NaN probability row is a DataError, not a silently empty class", () => {
  // Before: the NaN summed into class 1's template, which klMatching then skipped as empty, so
  // every score was computed without class 1.
  const probs = randomProbs(41, 6, 3, 1);
  probs.data[4 * 3 + 1] = NaN;
  const labels = Int32Array.from([0, 1, 2, 0, 1, 2]);
  assert.throws(
    () => klTemplates(probs, labels, 3),
    (e: unknown) => e instanceof DataError && /row 4 \(class 1\) are NaN/.test(e.message),
  );
  assert.throws(() => klTemplatesClean(probs), DataError);
});

Deno.test("klTemplates dropEmpty: only the classes seen, in class order; the same scores", () => {
  // 3 rows over K = 4 outputs, labels of classes 3 and 1 only (of numClasses 5).
  const probs = matrix(
    3,
    4,
    new Float32Array([0.7, 0.1, 0.1, 0.1, 0.1, 0.6, 0.2, 0.1, 0.5, 0.3, 0.1, 0.1]),
  );
  const labels = Int32Array.from([3, 1, 3]);
  const full = klTemplates(probs, labels, 5);
  const kept = klTemplates(probs, labels, 5, { dropEmpty: true });
  assert.equal(full.rows, 5);
  assert.equal(kept.rows, 2);
  // Class 1 = row 1 of probs; class 3 = the mean of rows 0 and 2, by hand.
  assertClose(kept.data.subarray(0, 4), [0.1, 0.6, 0.2, 0.1], { atol: 1e-7 });
  assertClose(kept.data.subarray(4, 8), [0.6, 0.2, 0.1, 0.1], { atol: 1e-7 });
  assert.ok([0, 2, 4].every((c) => Number.isNaN(full.data[c * 4])));
  assert.deepEqual(Array.from(klMatching(probs, kept)), Array.from(klMatching(probs, full)));
});
