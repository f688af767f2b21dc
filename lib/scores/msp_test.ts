import assert from "node:assert/strict";
import { matrix } from "../matrix.ts";
import { createRng } from "../random.ts";
import { assertClose } from "../../tests/assert_close.ts";
import { msp } from "./msp.ts";

Deno.test("msp equals a textbook max softmax on seeded logits", () => {
  const rng = createRng(11);
  const N = 50;
  const C = 20;
  const m = matrix(N, C, Float32Array.from({ length: N * C }, () => rng.normal() * 4));
  const got = msp(m);
  const want: number[] = [];
  for (let i = 0; i < N; i++) {
    const e = Array.from(m.data.subarray(i * C, (i + 1) * C), Math.exp);
    want.push(Math.max(...e) / e.reduce((a, b) => a + b));
  }
  const worst = assertClose(got, want, { atol: 1e-7, reason: "float32 output" });
  assert.ok(worst < 1e-7, `worst abs error ${worst}`);
});

Deno.test("msp hand values: [0, ln 3] -> 3/4, single class -> 1, huge logits", () => {
  assertClose(msp(matrix(1, 2, new Float32Array([0, Math.log(3)])))[0], 0.75, {
    atol: 1e-7,
    reason: "float32 ln 3",
  });
  assert.equal(msp(matrix(2, 1, new Float32Array([3, -1e4])))[0], 1);
  assertClose(msp(matrix(1, 2, new Float32Array([1e4, 1e4])))[0], 0.5, {
    atol: 0,
    reason: "exact",
  });
});
