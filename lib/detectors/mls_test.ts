import assert from "node:assert/strict";
import { matrix } from "../matrix.ts";
import { assertClose } from "../../tests/assert_close.ts";
import { maxLogit } from "./mls.ts";
import { randomMatrix, row } from "./test_util.ts";

Deno.test("maxLogit equals a plain max over seeded logits", () => {
  const z = randomMatrix(1, 60, 17, { scale: 3 });
  const want = Array.from({ length: z.rows }, (_, i) => Math.max(...row(z, i)));
  const worst = assertClose(maxLogit(z), want, { atol: 0, rtol: 0, reason: "a max is exact" });
  console.log(`mls: worst abs error ${worst}`);
});

Deno.test("maxLogit hand-worked: [1, 3, 2] -> 3, NaN row -> NaN, single class", () => {
  const got = maxLogit(matrix(2, 3, new Float32Array([1, 3, 2, 0, NaN, 1])));
  assert.equal(got[0], 3);
  assert.ok(Number.isNaN(got[1]));
  assert.equal(maxLogit(matrix(1, 1, new Float32Array([-7])))[0], -7);
});
