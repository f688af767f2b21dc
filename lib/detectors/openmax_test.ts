import assert from "node:assert/strict";
import { assertClose } from "../../tests/assert_close.ts";
import type { Matrix } from "../matrix.ts";
import { matrixSource } from "../ort/linear.ts";
import {
  fitOpenMax,
  fitWeibullTail,
  openMax,
  type OpenMaxModel,
  weibullMle,
  weibullScore,
  type WeibullTail,
} from "./openmax.ts";
import { naiveLogits, randomHead, randomMatrix } from "./test_util.ts";

Deno.test("weibullMle: the hand-worked two-point case solves its likelihood equation", () => {
  // x = {1, 2}: d/dk of the profile log-likelihood is 2^k ln 2 / (1 + 2^k) - 1/k - ln(2) / 2,
  // zero at k = 3.461540849920495 (scipy.optimize.brentq on that equation, xtol 1e-15); the
  // scale is ((1 + 2^k) / 2)^(1/k) = 1.678677413815532. (scipy.stats.weibull_min.fit(floc=0)
  // stops its optimiser 6e-6 short: 3.46156.)
  const { shape, scale } = weibullMle([1, 2]);
  const residual = (2 ** shape * Math.LN2) / (1 + 2 ** shape) - 1 / shape - Math.LN2 / 2;
  assertClose(residual, 0, { atol: 1e-12, reason: "bisection to machine precision" });
  assertClose(shape, 3.461540849920495, { rtol: 1e-12, reason: "the same root, float64" });
  assertClose(scale, ((1 + 2 ** shape) / 2) ** (1 / shape), { rtol: 1e-14 });
  assertClose(scale, 1.678677413815532, { rtol: 1e-12, reason: "the same root, float64" });
});

Deno.test("weibullMle: eight values as brentq finds them; equal values give the step limit", () => {
  // brentq on the likelihood equation of [3.1, 4.2, 5.0, 5.5, 6.3, 7.7, 2.2, 9.1].
  const { shape, scale } = weibullMle([3.1, 4.2, 5.0, 5.5, 6.3, 7.7, 2.2, 9.1]);
  assertClose(shape, 2.7510277014991567, { rtol: 1e-12, reason: "one root, float64 sums" });
  assertClose(scale, 6.07241852647081, { rtol: 1e-12, reason: "one root, float64 sums" });
  assert.deepEqual(weibullMle([4, 4, 4]), { shape: Infinity, scale: 4 });
  const step: WeibullTail = { shape: Infinity, scale: 10000, shift: 9999 };
  assert.equal(weibullScore(step, 0.5), 0);
  assert.equal(weibullScore(step, 1), 1 - Math.exp(-1));
  assert.equal(weibullScore(step, 1.5), 1);
});

Deno.test("fitWeibullTail: libMR's translated tail fit, as scipy's exponweib fit of it", () => {
  // Tail of 5 of the values above: [5, 5.5, 6.3, 7.7, 9.1], shifted by 10000 - 5. scipy's
  // exponweib.fit(shifted, floc=0, f0=1) (a Nelder-Mead search) gives c = 6786.775 and scale
  // 10002.497; its CDF at 6.0 and 8.0 is 0.3037858 and 0.7550484.
  const t = fitWeibullTail([3.1, 4.2, 5.0, 5.5, 6.3, 7.7, 2.2, 9.1], 5);
  assert.equal(t.shift, 10000 - 5);
  assertClose(t.shape, 6786.775322568695, { rtol: 1e-3, reason: "scipy's simplex search" });
  assertClose(t.scale, 10002.49705620832, { rtol: 1e-7, reason: "scipy's simplex search" });
  assertClose([weibullScore(t, 6), weibullScore(t, 8)], [0.30378576192594775, 0.7550484465879554], {
    atol: 2e-3,
    reason: "scipy's shape is a simplex optimum, ours the exact root",
  });
});

Deno.test("openMax: the hand-worked two-class case", () => {
  // Step tails: w = 1 when the distance to the class mean exceeds 1, else 0. alpha = 2: the top
  // class has omega 1, the second 1/2.
  const step: WeibullTail = { shape: Infinity, scale: 10000, shift: 9999 };
  const model: OpenMaxModel = {
    mavs: Float64Array.from([2, 0, 0, 2]),
    classes: 2,
    tails: [step, step],
    alpha: 2,
  };
  const z: Matrix = { data: Float32Array.from([2, 0, 4, 1]), rows: 2, cols: 2 };
  // Row 0: d0 = 0 (kept), d1 = 2.83 (w = 1, but z1 = 0): logits [2, 0], unknown 0:
  //   e^2 / (e^2 + 2) = 0.7869860.
  // Row 1: d0 = sqrt 5 -> 4 (1 - 1) = 0; d1 = sqrt 17 -> 1 (1 - 1/2) = 0.5; unknown 4.5:
  //   e^4.5 / (1 + e^0.5 + e^4.5) = 0.9714176.
  const want = [
    Math.exp(2) / (Math.exp(2) + 2),
    Math.exp(4.5) / (1 + Math.exp(0.5) + Math.exp(4.5)),
  ];
  assertClose(openMax(model, z), want, { rtol: 1e-6, reason: "float32 output" });
  assertClose(want, [0.786986, 0.971418], { atol: 1e-6, reason: "the hand values above" });
});

/**
 * Naive float64 OpenMax: class means and every distance computed directly, ranks by a full
 * sort, the recalibration applied to every class with its omega (0 outside the top alpha).
 */
function naiveOpenMax(
  trainLogits: Matrix,
  labels: Int32Array,
  z: Matrix,
  alpha: number,
  tailSize: number,
): number[] {
  const C = z.cols;
  const argmax = (m: Matrix, i: number) => {
    let b = 0;
    for (let j = 1; j < C; j++) if (m.data[i * C + j] > m.data[i * C + b]) b = j;
    return b;
  };
  const dist = (a: ArrayLike<number>, ao: number, b: number[]) =>
    Math.sqrt(b.reduce((s, v, j) => s + (a[ao + j] - v) ** 2, 0));
  const means: (number[] | null)[] = [];
  const tails: (WeibullTail | null)[] = [];
  for (let c = 0; c < C; c++) {
    const rows = [...labels.keys()].filter((i) => labels[i] === c && argmax(trainLogits, i) === c);
    if (rows.length === 0) {
      means.push(null);
      tails.push(null);
      continue;
    }
    const mean = Array.from(
      { length: C },
      (_, j) => rows.reduce((s, i) => s + trainLogits.data[i * C + j], 0) / rows.length,
    );
    means.push(mean);
    const d = rows.map((i) => dist(trainLogits.data, i * C, mean)).sort((a, b) => a - b);
    tails.push(fitWeibullTail(d, tailSize));
  }
  const out: number[] = [];
  for (let i = 0; i < z.rows; i++) {
    const order = [...Array(C).keys()].sort((a, b) =>
      z.data[i * C + b] - z.data[i * C + a] || a - b
    );
    const omega = new Array(C).fill(0);
    order.slice(0, alpha).forEach((c, r) => omega[c] = (alpha - r) / alpha);
    const v: number[] = [];
    let u = 0;
    for (let c = 0; c < C; c++) {
      const zc = z.data[i * C + c];
      const w = tails[c] ? weibullScore(tails[c]!, dist(z.data, i * C, means[c]!)) : 0;
      v.push(zc * (1 - w * omega[c]));
      u += zc - v[c];
    }
    v.push(u);
    const e = v.map(Math.exp);
    out.push(Math.max(...e) / e.reduce((a, b) => a + b, 0));
  }
  return out;
}

Deno.test("fitOpenMax + openMax match the naive float64 reference on seeded data", async () => {
  const C = 5;
  const D = 12;
  const head = randomHead(301, C, D, 1);
  const train = randomMatrix(302, 300, D, { relu: true, scale: 2 });
  const labels = Int32Array.from({ length: 300 }, (_, i) => i % C);
  // Make most training rows correctly classified: push each row along its class's weights.
  for (let i = 0; i < 300; i++) {
    for (let j = 0; j < D; j++) train.data[i * D + j] += 0.8 * head.weight.data[labels[i] * D + j];
  }
  const test = randomMatrix(303, 40, D, { relu: true, scale: 2 });
  const model = await fitOpenMax(matrixSource(train), labels, head, {
    alpha: 3,
    tailSize: 20,
    chunkRows: 64,
  });
  const z = naiveLogits(test, head);
  const want = naiveOpenMax(naiveLogits(train, head), labels, z, 3, 20);
  assertClose(openMax(model, z), want, {
    atol: 1e-5,
    rtol: 1e-4,
    reason: "training logits from the float32 GEMM vs float64: distances, then a steep CDF",
  });
});
