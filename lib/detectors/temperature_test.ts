import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import { type Matrix, matrix } from "../matrix.ts";
import { createRng } from "../random.ts";
import { assertClose } from "../../tests/assert_close.ts";
import { fitTemperature, temperatureScore } from "./temperature.ts";
import { naiveLse, naiveSoftmax, randomMatrix, row } from "./test_util.ts";

function nll(z: Matrix, y: Int32Array, t: number): number {
  let s = 0;
  for (let i = 0; i < z.rows; i++) {
    const r = row(z, i).map((v) => v / t);
    s += naiveLse(r) - r[y[i]];
  }
  return s / z.rows;
}

/** Golden-section search over log T, plain and slow. */
function naiveFit(z: Matrix, y: Int32Array): number {
  let a = Math.log(0.01);
  let b = Math.log(100);
  const g = (Math.sqrt(5) - 1) / 2;
  for (let it = 0; it < 200; it++) {
    const c = b - g * (b - a);
    const d = a + g * (b - a);
    if (nll(z, y, Math.exp(c)) < nll(z, y, Math.exp(d))) b = d;
    else a = c;
  }
  return Math.exp((a + b) / 2);
}

Deno.test("temperature fit matches a golden-section NLL minimiser; score is max softmax(z/T)", () => {
  const z = randomMatrix(2, 200, 10, { scale: 4 });
  const rng = createRng(3);
  // Labels that agree with the argmax 60% of the time: a miscalibrated (over-confident) model.
  const y = Int32Array.from({ length: z.rows }, (_, i) => {
    const r = row(z, i);
    return rng.float() < 0.6 ? r.indexOf(Math.max(...r)) : rng.int(10);
  });
  const { temperature } = fitTemperature(z, y);
  const ref = naiveFit(z, y);
  assertClose(temperature, ref, { rtol: 1e-6, atol: 0, reason: "both minimise a convex NLL" });
  assert.ok(temperature > 1, `over-confident logits need T > 1, got ${temperature}`);
  const want = Array.from(
    { length: z.rows },
    (_, i) => Math.max(...naiveSoftmax(row(z, i).map((v) => v / temperature))),
  );
  const worst = assertClose(temperatureScore({ temperature }, z), want, {
    atol: 1e-7,
    reason: "float32 output",
  });
  console.log(`temperature: T ${temperature} vs ${ref}; worst score error ${worst}`);
});

Deno.test("temperature hand-worked: logits [1, 0], labels 0,0,0,1 -> T = 1 / ln 3", () => {
  // NLL(beta) = log(1 + e^beta) - 3 beta / 4, minimised where sigmoid(beta) = 3/4.
  const z = matrix(4, 2, new Float32Array([1, 0, 1, 0, 1, 0, 1, 0]));
  const { temperature } = fitTemperature(z, Int32Array.from([0, 0, 0, 1]));
  assertClose(temperature, 1 / Math.log(3), { rtol: 1e-9, reason: "Newton converged" });
  assertClose(temperatureScore({ temperature }, z)[0], 0.75, { atol: 1e-7, reason: "float32" });
  assert.throws(() => fitTemperature(z, Int32Array.from([0, 0, 2, 1])), DataError);
});
