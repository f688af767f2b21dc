import assert from "node:assert/strict";
import { matrix } from "../matrix.ts";
import { createRng } from "../random.ts";
import { assertClose } from "../../tests/assert_close.ts";
import { energy } from "./energy.ts";

Deno.test("energy hand values: [0, ln 3] -> ln 4; T = 2 on [2 ln 3, 0] -> 2 ln 4; huge logits", () => {
  assertClose(energy(matrix(1, 2, new Float32Array([0, Math.log(3)])))[0], Math.log(4), {
    atol: 1e-6,
    reason: "float32 ln 3 input",
  });
  assertClose(
    energy(matrix(1, 2, new Float32Array([2 * Math.log(3), 0])), { temperature: 2 })[0],
    2 * Math.log(4),
    { atol: 1e-6, reason: "float32 input" },
  );
  assertClose(energy(matrix(1, 2, new Float32Array([1e4, 1e4])))[0], 1e4 + Math.LN2, {
    atol: 1e-3,
    reason: "float32 spacing near 1e4 is 1e-3",
  });
});

Deno.test("energy equals T * log(sum exp(x / T)) computed directly on seeded logits", () => {
  const rng = createRng(8);
  const N = 40;
  const C = 25;
  const m = matrix(N, C, Float32Array.from({ length: N * C }, () => rng.normal() * 5));
  let worst = 0;
  for (const T of [1, 3]) {
    const got = energy(m, { temperature: T });
    const want: number[] = [];
    for (let i = 0; i < N; i++) {
      let s = 0;
      for (let j = 0; j < C; j++) s += Math.exp(m.data[i * C + j] / T);
      want.push(T * Math.log(s));
    }
    worst = Math.max(worst, assertClose(got, want, { atol: 1e-5, rtol: 1e-6, reason: "float32" }));
  }
  assert.ok(worst < 1e-5, `worst abs error ${worst}`);
});
