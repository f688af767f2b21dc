import assert from "node:assert/strict";
import { assertClose } from "../../tests/assert_close.ts";
import { DataError } from "../errors.ts";
import { type Matrix, matrix } from "../matrix.ts";
import { createRng } from "../random.ts";
import { klMatching, klTemplates } from "../scores/kl_matching.ts";
import { softmaxRows } from "../softmax.ts";
import { klMatchingFast, klMatchingFromLogits } from "./kl_kernel.ts";

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
