import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import { createRng } from "../random.ts";
import { assertClose } from "../../tests/assert_close.ts";
import {
  defaultCs,
  fitLogistic,
  fitLogisticCV,
  logisticDecision,
  stratifiedFolds,
} from "./logistic.ts";

function randomProblem(seed: number, n: number, p: number) {
  const rng = createRng(seed);
  const x = new Float64Array(n * p);
  const y = new Float64Array(n);
  const scales = Array.from({ length: p }, (_, j) => 10 ** (j - 1));
  for (let i = 0; i < n; i++) {
    let t = 0.3;
    for (let j = 0; j < p; j++) {
      const v = rng.normal();
      x[i * p + j] = 50 + scales[j] * v;
      t += (j % 2 ? -1 : 1) * 0.8 * v;
    }
    y[i] = rng.float() < 1 / (1 + Math.exp(-t)) ? 1 : 0;
  }
  return { x, y };
}

/** Gradient of 0.5 |w|^2 + C sum logloss at the fitted raw-space model, in standardised space. */
function kktResidual(
  x: Float64Array,
  y: Float64Array,
  p: number,
  c: number,
  standardize: boolean,
  w: Float64Array,
  b: number,
): number {
  const n = y.length;
  const mean = new Array(p).fill(0);
  const sd = new Array(p).fill(1);
  if (standardize) {
    for (let j = 0; j < p; j++) {
      for (let i = 0; i < n; i++) mean[j] += x[i * p + j] / n;
      let v = 0;
      for (let i = 0; i < n; i++) v += (x[i * p + j] - mean[j]) ** 2 / n;
      sd[j] = Math.sqrt(v);
    }
  }
  const g = new Array(p + 1).fill(0);
  for (let i = 0; i < n; i++) {
    let t = b;
    for (let j = 0; j < p; j++) t += w[j] * x[i * p + j];
    const r = 1 / (1 + Math.exp(-t)) - y[i];
    for (let j = 0; j < p; j++) g[j] += c * r * (x[i * p + j] - mean[j]) / sd[j];
    g[p] += c * r;
  }
  // The penalty acts on the standardised weights w_j sd_j.
  for (let j = 0; j < p; j++) g[j] += w[j] * sd[j];
  return Math.max(...g.map(Math.abs));
}

Deno.test("fitLogistic hand case: nearly unpenalised MLE of two points is logit of the rates", () => {
  // x = +1: 3 of 4 positive; x = -1: 1 of 4. MLE: b + w = ln 3, b - w = -ln 3.
  const x = Float64Array.from([1, 1, 1, 1, -1, -1, -1, -1]);
  const y = [1, 1, 1, 0, 1, 0, 0, 0];
  for (const standardize of [true, false]) {
    const m = fitLogistic(x, 1, y, { c: 1e12, standardize });
    const tol = { atol: 1e-9, reason: "C = 1e12 leaves a penalty bias of ~1e-12" };
    assertClose(m.weights[0], Math.log(3), tol);
    assertClose(m.intercept, 0, tol);
    assert.ok(m.converged);
  }
});

Deno.test("fitLogistic satisfies the optimality conditions on seeded data (raw and standardised)", () => {
  for (let seed = 0; seed < 6; seed++) {
    const p = 5;
    const { x, y } = randomProblem(seed, 400, p);
    for (const standardize of [true, false]) {
      const c = [0.01, 1, 100][seed % 3];
      const m = fitLogistic(x, p, y, { c, standardize });
      assert.ok(m.converged, `seed ${seed} did not converge`);
      const res = kktResidual(x, y, p, c, standardize, m.weights, m.intercept);
      assert.ok(res <= 1e-6 * Math.max(1, c), `seed ${seed}: gradient ${res}`);
    }
  }
});

Deno.test("fitLogistic converges on separable data and ranks it perfectly", () => {
  const x = Float64Array.from([0, 1, 2, 3, 10, 11, 12, 13]);
  const y = [0, 0, 0, 0, 1, 1, 1, 1];
  const m = fitLogistic(x, 1, y);
  assert.ok(m.converged && Number.isFinite(m.weights[0]) && m.weights[0] > 0);
  const d = logisticDecision(m, x, 1);
  for (let i = 0; i < 4; i++) assert.ok(d[i] < 0 && d[i + 4] > 0);
});

Deno.test("stratifiedFolds cuts each class into contiguous, balanced blocks", () => {
  const y = [1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0];
  // class 0 rows 1,4,5,7,9,10 -> folds 0,0,1,1,2,2; class 1 rows 0,2,3,6,8 -> 0,0,1,1,2.
  assert.deepEqual([...stratifiedFolds(y, 3)], [0, 0, 0, 1, 0, 1, 1, 1, 2, 2, 2]);
  assert.throws(() => stratifiedFolds([0, 1, 1], 2), DataError);
});

Deno.test("fitLogisticCV picks the first C of best fold accuracy and refits on all rows", () => {
  const { x, y } = randomProblem(42, 300, 3);
  const cv = fitLogisticCV(x, 3, y);
  assert.equal(cv.cvAccuracy.length, 10);
  assertClose(cv.cvAccuracy.map((r) => r.c), defaultCs(), { rtol: 1e-15, reason: "same formula" });
  const best = Math.max(...cv.cvAccuracy.map((r) => r.accuracy));
  const first = cv.cvAccuracy.find((r) => r.accuracy === best)!;
  assert.equal(cv.c, first.c);
  const refit = fitLogistic(x, 3, y, { c: first.c });
  assert.deepEqual([...cv.weights], [...refit.weights]);
  assert.equal(cv.intercept, refit.intercept);
  // Fold accuracy recomputed by hand for the chosen C.
  const folds = stratifiedFolds(y, 5);
  let sum = 0;
  for (let f = 0; f < 5; f++) {
    const tr = [...y.keys()].filter((i) => folds[i] !== f);
    const te = [...y.keys()].filter((i) => folds[i] === f);
    const pick = (idx: number[]) =>
      Float64Array.from(idx.flatMap((i) => [...x.slice(i * 3, i * 3 + 3)]));
    const m = fitLogistic(pick(tr), 3, tr.map((i) => y[i]), { c: first.c });
    const d = logisticDecision(m, pick(te), 3);
    sum += te.filter((i, k) => (d[k] > 0 ? 1 : 0) === y[i]).length / te.length;
  }
  assertClose(first.accuracy, sum / 5, { atol: 1e-15, reason: "same sums" });
});

Deno.test("fitLogistic rejects one-class labels, bad labels and non-finite rows", () => {
  assert.throws(() => fitLogistic(Float64Array.from([1, 2]), 1, [1, 1]), DataError);
  assert.throws(() => fitLogistic(Float64Array.from([1, NaN]), 1, [0, 1]), DataError);
  assert.throws(() => fitLogistic(Float64Array.from([1, 2]), 1, [0, 2]), RangeError);
});
