import assert from "node:assert/strict";
import { assertClose } from "../../tests/assert_close.ts";
import { DataError } from "../errors.ts";
import { type Matrix, matrix } from "../matrix.ts";
import { naiveLogits, randomMatrix } from "../detectors/test_util.ts";
import { KL_TEMPLATE_FLOOR, klMatching, klTemplates } from "../scores/kl_matching.ts";
import { softmaxRows } from "../softmax.ts";
import { EMPTY_TEMPLATE_LOG, klMatchingFromFeatures, logKlTemplates } from "./kl_stream.ts";
import { matrixSource } from "./linear.ts";

const N = 150, D = 16, K = 40;

const w = randomMatrix(2, K, D, { scale: 1.5 }); // peaked: some probabilities underflow
const b = randomMatrix(3, 1, K, { scale: 0.5 }).data;
const idX = randomMatrix(4, N, D);
const idProbs = softmaxRows(naiveLogits(idX, { weight: w, bias: b }));
// Class 9 never appears: its template row is NaN and must be skipped.
const labels = Int32Array.from({ length: N }, (_, i) => (i % K === 9 ? 10 : i % K));
function makeTemplates(): Matrix {
  const t = klTemplates(idProbs, labels, K);
  t.data[3 * K + 5] = 0; // the floor
  t.data[4 * K + 6] = 3e-45; // a float32 denormal above the floor
  return t;
}

Deno.test("logKlTemplates: log of max(t, floor) in float32, denormals included, in place or not", async () => {
  const t = makeTemplates();
  const original = t.data.slice();
  const copy = await logKlTemplates(t, { inPlace: false });
  assert.deepEqual(t.data, original, "inPlace: false leaves the templates alone");
  for (let i = 0; i < original.length; i++) {
    // Class 9's template is empty (NaN): its log row is the never-winning constant.
    const want = Math.floor(i / K) === 9
      ? EMPTY_TEMPLATE_LOG
      : Math.fround(Math.log(Math.max(original[i], KL_TEMPLATE_FLOOR)));
    assertClose(copy.log.data[i], want, {
      atol: 8e-6,
      rtol: 2e-7,
      reason: `entry ${i}: float32 log(t 2^64), values near 44 to 103 (a float32 step <= 7.6e-6)`,
    });
  }
  assert.deepEqual(
    Array.from(copy.valid),
    Array.from({ length: K }, (_, c) => (c === 9 ? 0 : 1)),
  );
  const inPlace = await logKlTemplates(t);
  assert.equal(inPlace.log.data, t.data, "default: the templates' own buffer");
  assert.deepEqual(inPlace.log.data, copy.log.data);
});

Deno.test("klMatchingFromFeatures matches klMatching on the head's float64 probabilities, any block and chunk", async () => {
  const x = randomMatrix(5, N, D);
  x.data[7 * D + 3] = NaN; // a NaN feature row scores NaN
  const ref = klMatching(softmaxRows(naiveLogits(x, { weight: w, bias: b })), makeTemplates());
  const scores: Float32Array[] = [];
  // 40 x 40 templates: one block of 40 rows, or blocks of 7 rows (the last one 5).
  const log = await logKlTemplates(makeTemplates());
  for (const blockMb of [1, (7 * K * 4) / 2 ** 20]) {
    const got = await klMatchingFromFeatures(matrixSource(x), w, b, log, {
      blockMb,
      chunkRows: 33,
      threads: 1,
    });
    assert.ok(Number.isNaN(got[7]));
    assertClose(got, ref, {
      atol: 2e-5,
      rtol: 2e-5,
      reason: `float32 logits, softmax and GEMM vs float64 (blockMb ${blockMb})`,
    });
    scores.push(got);
  }
  assertClose(scores[0], scores[1], { atol: 1e-6, rtol: 1e-6, reason: "blocked vs whole" });
});

Deno.test("klMatchingFromFeatures / logKlTemplates: mismatched shapes and all-empty templates are DataErrors", async () => {
  const log = await logKlTemplates(makeTemplates());
  const wrongHead = randomMatrix(6, K + 1, D);
  await assert.rejects(
    () => klMatchingFromFeatures(matrixSource(idX), wrongHead, new Float32Array(K + 1), log),
    (e) => e instanceof DataError && /40 columns but the head has 41 outputs/.test(e.message),
  );
  await assert.rejects(
    () => logKlTemplates(matrix(2, 3, new Float32Array(6).fill(NaN))),
    (e) => e instanceof DataError && /All 2 KL templates are empty/.test(e.message),
  );
  const none = await klMatchingFromFeatures(matrixSource(matrix(0, D)), w, b, log);
  assert.equal(none.length, 0);
});
