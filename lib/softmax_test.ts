import assert from "node:assert/strict";
import { DataError } from "./errors.ts";
import { type Matrix, matrix } from "./matrix.ts";
import { createRng } from "./random.ts";
import { assertClose } from "../tests/assert_close.ts";
import { logSoftmaxRows, logsumexpRows, maxSoftmaxRows, softmaxRows } from "./softmax.ts";

function randomLogits(seed: number, rows: number, cols: number, scale: number): Matrix {
  const rng = createRng(seed);
  return matrix(rows, cols, Float32Array.from({ length: rows * cols }, () => rng.normal() * scale));
}

/** Textbook softmax without the max shift, in float64 (valid for |x / T| well below 700). */
function naiveSoftmaxRow(row: ArrayLike<number>, t: number): number[] {
  const e = Array.from(row, (v) => Math.exp(v / t));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

function row(m: Matrix, i: number): Float32Array {
  return m.data.subarray(i * m.cols, (i + 1) * m.cols);
}

const F32 = { atol: 1e-7, rtol: 1e-6, reason: "float32 output of a float64 computation" };

Deno.test("softmax family equals textbook float64 formulas on seeded logits", () => {
  let worst = 0;
  for (
    const [seed, rows, cols, scale, t] of [
      [1, 7, 5, 1, 1],
      [2, 13, 40, 5, 1],
      [3, 4, 1000, 3, 1],
      [4, 9, 17, 30, 1000],
      [5, 6, 11, 4, 2.5],
    ]
  ) {
    const m = randomLogits(seed, rows, cols, scale);
    const sm = softmaxRows(m, t);
    const lsm = logSoftmaxRows(m);
    const lse = logsumexpRows(m, t);
    const mx = maxSoftmaxRows(m, t);
    for (let i = 0; i < rows; i++) {
      const want = naiveSoftmaxRow(row(m, i), t);
      worst = Math.max(worst, assertClose(row(sm, i), want, F32));
      worst = Math.max(worst, assertClose(mx[i], Math.max(...want), F32));
      const wantLse = Math.log(
        Array.from(row(m, i), (v) => Math.exp(v / t)).reduce((a, b) => a + b),
      );
      worst = Math.max(worst, assertClose(lse[i], wantLse, F32));
      const wantLsm = naiveSoftmaxRow(row(m, i), 1).map(Math.log);
      worst = Math.max(
        worst,
        assertClose(row(lsm, i), wantLsm, { atol: 1e-5, rtol: 1e-6, reason: "float32 log-probs" }),
      );
    }
  }
  assert.ok(worst < 1e-4, `worst abs error ${worst}`);
});

Deno.test("softmax of huge logits (1e4) does not overflow", () => {
  const m = matrix(1, 3, new Float32Array([1e4, 1e4 - 1, -1e4]));
  const p = softmaxRows(m);
  const e = Math.exp(-1);
  assertClose(p.data, [1 / (1 + e), e / (1 + e), 0], { atol: 1e-7, reason: "float32 output" });
  assertClose(logsumexpRows(m)[0], 1e4 + Math.log(1 + e), {
    atol: 1e-3,
    reason: "float32 spacing near 1e4 is 1e-3",
  });
  assertClose(maxSoftmaxRows(m)[0], 1 / (1 + e), { atol: 1e-7, reason: "float32 output" });
  const lsm = logSoftmaxRows(m);
  assertClose(lsm.data, [-Math.log(1 + e), -1 - Math.log(1 + e), -2e4 - Math.log(1 + e)], {
    atol: 1e-3,
    reason: "float32 spacing near 2e4",
  });
  const neg = matrix(1, 2, new Float32Array([-1e4, -1e4]));
  assertClose(softmaxRows(neg).data, [0.5, 0.5], { atol: 0, reason: "exact halves" });
});

Deno.test("single class: softmax 1, max softmax 1, logsumexp = the logit", () => {
  const m = matrix(3, 1, new Float32Array([-5, 0, 1e4]));
  assert.deepEqual([...softmaxRows(m).data], [1, 1, 1]);
  assert.deepEqual([...maxSoftmaxRows(m, 1000)], [1, 1, 1]);
  assert.deepEqual([...logsumexpRows(m)], [-5, 0, 1e4]);
  assert.deepEqual([...logSoftmaxRows(m).data], [0, 0, 0]);
});

Deno.test("softmaxRows and logSoftmaxRows work in place", () => {
  const m = randomLogits(9, 5, 6, 2);
  const want = softmaxRows(m, 1.5);
  const copy = matrix(5, 6, m.data.slice());
  softmaxRows(copy, 1.5, copy);
  assert.deepEqual(copy.data, want.data);
  const wantL = logSoftmaxRows(m);
  const copy2 = matrix(5, 6, m.data.slice());
  logSoftmaxRows(copy2, copy2);
  assert.deepEqual(copy2.data, wantL.data);
});

Deno.test("logsumexp of an all -Infinity row is -Infinity; bad inputs throw", () => {
  assert.equal(logsumexpRows(matrix(1, 2, new Float32Array([-Infinity, -Infinity])))[0], -Infinity);
  assert.throws(() => softmaxRows(matrix(2, 0)), DataError);
  assert.throws(() => softmaxRows(matrix(1, 2), 0), RangeError);
  assert.throws(() => softmaxRows(matrix(1, 2), 1, matrix(2, 1)), RangeError);
});
