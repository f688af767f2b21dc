import assert from "node:assert/strict";
import { matrix } from "../matrix.ts";
import { createRng } from "../random.ts";
import { assertClose } from "../../tests/assert_close.ts";
import { msp } from "./msp.ts";
import { odin } from "./odin.ts";

Deno.test("odin T = 1000 hand value: logits [1000, 0] -> e / (1 + e)", () => {
  const got = odin(matrix(1, 2, new Float32Array([1000, 0])))[0];
  assertClose(got, Math.E / (1 + Math.E), { atol: 1e-7, reason: "float32 output" });
  // Three classes, logits [2000, 1000, 0] / 1000 = [2, 1, 0].
  const got3 = odin(matrix(1, 3, new Float32Array([2000, 1000, 0])))[0];
  const e2 = Math.exp(2);
  assertClose(got3, e2 / (e2 + Math.E + 1), { atol: 1e-7, reason: "float32 output" });
});

Deno.test("odin equals textbook max softmax(x / T) on seeded logits; T = 1 is MSP", () => {
  const rng = createRng(5);
  const N = 30;
  const C = 12;
  const m = matrix(N, C, Float32Array.from({ length: N * C }, () => rng.normal() * 10));
  for (const T of [1000, 7]) {
    const got = odin(m, { temperature: T });
    const want: number[] = [];
    for (let i = 0; i < N; i++) {
      const e = Array.from(m.data.subarray(i * C, (i + 1) * C), (v) => Math.exp(v / T));
      want.push(Math.max(...e) / e.reduce((a, b) => a + b));
    }
    const worst = assertClose(got, want, { atol: 1e-8, rtol: 1e-6, reason: "float32 output" });
    assert.ok(worst < 1e-7, `T = ${T}: worst abs error ${worst}`);
  }
  assert.deepEqual(odin(m, { temperature: 1 }), msp(m));
});
