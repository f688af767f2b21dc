import assert from "node:assert/strict";
import { assertClose } from "../../tests/assert_close.ts";
import { DataError } from "../errors.ts";
import { type Matrix, matrix } from "../matrix.ts";
import { createRng } from "../random.ts";
import { klMatching, klTemplates } from "../scores/kl_matching.ts";
import { softmaxRows } from "../softmax.ts";
import { klBlockRows, klMatchingFast, klMatchingFromLogits } from "./kl_kernel.ts";

const N = 300, K = 64, C = 50;

/** Peaked logits (scale 6) so some probabilities underflow towards 0, as real heads do. */
function logits(seed: number, n: number): Matrix {
  const rng = createRng(seed);
  const m = matrix(n, K);
  for (let i = 0; i < m.data.length; i++) m.data[i] = rng.normal() * 6;
  return m;
}

function worstRel(a: ArrayLike<number>, e: ArrayLike<number>): number {
  let w = 0;
  for (let i = 0; i < e.length; i++) {
    w = Math.max(w, Math.abs(a[i] - e[i]) / Math.max(Math.abs(e[i]), 1));
  }
  return w;
}

const idLogits = logits(1, N);
const idProbs = softmaxRows(idLogits);
// Class 7 never appears: its template row is NaN and must be skipped by both kernels.
const labels = Int32Array.from({ length: N }, (_, i) => (i % C === 7 ? 8 : i % C));
const templates = klTemplates(idProbs, labels, C);
// Exact zeros in p and in a template entry exercise 0 log 0 = 0 and the template floor.
const probs = matrix(N, K, idProbs.data.slice());
for (let i = 0; i < N; i += 5) probs.data[i * K + (i % K)] = 0;
templates.data[3 * K + 5] = 0;

Deno.test("klMatchingFast matches klMatching (NaN template, zeros, odd chunks)", async () => {
  const ref = klMatching(probs, templates);
  const got = await klMatchingFast(probs, templates, { chunkRows: 47 });
  const w = worstRel(got, ref);
  assertClose(got, ref, {
    atol: 2e-5,
    rtol: 2e-5,
    reason: `float32 GEMM and logs vs float64; worst rel ${w}`,
  });
  const whole = await klMatchingFast(probs, templates, { chunkRows: 100_000 });
  assertClose(got, whole, { atol: 1e-6, rtol: 1e-6, reason: "chunked vs one chunk" });
});

Deno.test("klMatchingFromLogits matches klMatching on softmax probabilities", async () => {
  const oodLogits = logits(2, N);
  const ref = klMatching(softmaxRows(oodLogits), templates);
  const got = await klMatchingFromLogits(oodLogits, templates, { chunkRows: 61 });
  const w = worstRel(got, ref);
  assertClose(got, ref, {
    atol: 2e-5,
    rtol: 2e-5,
    reason: `in-graph softmax, float32 GEMM vs float64; worst rel ${w}`,
  });
});

Deno.test("klMatchingFast: hand-worked value, NaN rows, bad shapes", async () => {
  // p = [0.5, 0.5], t = [[0.5, 0.5], [1, 0]]: KL to t0 = 0, to t1 = large -> score 0.
  const p = matrix(2, 2, Float32Array.from([0.5, 0.5, NaN, 1]));
  const t = matrix(2, 2, Float32Array.from([0.5, 0.5, 1, 0]));
  const got = await klMatchingFast(p, t);
  assertClose(got[0], 0, { atol: 1e-7, reason: "exact halves in float32" });
  assert.ok(Number.isNaN(got[1]));
  await assert.rejects(() => klMatchingFast(p, matrix(2, 3)), DataError);
  await assert.rejects(
    () => klMatchingFast(p, matrix(1, 2, Float32Array.from([NaN, NaN]))),
    DataError,
  );
});

/** blockMb giving template blocks of `rows` rows at K columns. */
const mbFor = (rows: number) => (rows * K * 4) / 2 ** 20;

Deno.test("klBlockRows: whole matrix when it fits, else rows per block", () => {
  assert.equal(klBlockRows(K, C, mbFor(C)), 0);
  assert.equal(klBlockRows(K, C, mbFor(7)), 7);
  assert.equal(klBlockRows(K, C, mbFor(7.9)), 7);
  assert.equal(klBlockRows(K, C, 1e-9), 1);
  // ImageNet-1k fits the default; ImageNet-21k's 21,843 x 21,843 log-templates (1.9 GB) come
  // in 256 MiB blocks of 3,072 rows.
  assert.equal(klBlockRows(1000, 1000), 0);
  assert.equal(klBlockRows(21_843, 21_843), Math.floor(2 ** 28 / (4 * 21_843)));
  assert.throws(() => klBlockRows(K, C, 0), RangeError);
});

Deno.test("KL streamed in template blocks smaller than C matches klMatching", async () => {
  // Template entries at the floor's scale: a denormal and an exact zero (scaled log path).
  const t = matrix(C, K, templates.data.slice());
  t.data[4 * K + 9] = 1e-42;
  const ref = klMatching(probs, t);
  for (const rows of [1, 7, C - 1]) {
    const got = await klMatchingFast(probs, t, { chunkRows: 47, blockMb: mbFor(rows) });
    assertClose(got, ref, {
      atol: 2e-5,
      rtol: 2e-5,
      reason: `probs, blocks of ${rows}; worst rel ${worstRel(got, ref)}`,
    });
  }
  const oodLogits = logits(3, N);
  const refL = klMatching(softmaxRows(oodLogits), t);
  const gotL = await klMatchingFromLogits(oodLogits, t, { chunkRows: 61, blockMb: mbFor(9) });
  assertClose(gotL, refL, {
    atol: 2e-5,
    rtol: 2e-5,
    reason: `logits, blocks of 9; worst rel ${worstRel(gotL, refL)}`,
  });
});

Deno.test("KL streamed: hand-worked value, NaN rows and templates, bad shapes", async () => {
  // As the whole-matrix hand case, with a NaN template row between the two and blocks of 1 row.
  const p = matrix(2, 2, Float32Array.from([0.5, 0.5, NaN, 1]));
  const t = matrix(3, 2, Float32Array.from([0.5, 0.5, NaN, 0, 1, 0]));
  const got = await klMatchingFast(p, t, { blockMb: 8 / 2 ** 20 });
  // log(0.5 * 2^64) = 43.7 rounded to float32 (an ulp there is 3.8e-6), less 64 log 2.
  assertClose(got[0], 0, { atol: 4e-6, reason: "KL(p || t0) = 0, scaled float32 log" });
  assert.ok(Number.isNaN(got[1]));
  const small = { blockMb: 1e-9 };
  await assert.rejects(() => klMatchingFast(p, matrix(2, 3), small), DataError);
  await assert.rejects(
    () => klMatchingFast(p, matrix(1, 2, Float32Array.from([NaN, NaN])), small),
    DataError,
  );
});
