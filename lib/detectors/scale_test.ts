import { matrix } from "../matrix.ts";
import { assertClose } from "../../tests/assert_close.ts";
import { scale } from "./scale.ts";
import {
  naiveLogits,
  naiveLogitsRow,
  naiveLse,
  randomHead,
  randomMatrix,
  row,
} from "./test_util.ts";

Deno.test("scale equals scaling the whole feature by exp(s1 / s2) then energy", () => {
  const x = randomMatrix(13, 31, 20, { relu: true });
  const head = randomHead(14, 8, 20);
  const z = naiveLogits(x, head);
  let worst = 0;
  for (const p of [65, 85, 95]) {
    const want = Array.from({ length: x.rows }, (_, i) => {
      const r = row(x, i);
      const k = r.length - Math.round((r.length * p) / 100);
      const top = [...r].sort((a, b) => b - a).slice(0, k);
      const f = Math.exp(r.reduce((a, b) => a + b, 0) / top.reduce((a, b) => a + b, 0));
      return naiveLse(naiveLogitsRow(r.map((v) => v * f), head));
    });
    worst = Math.max(
      worst,
      assertClose(scale(x, z, head.bias, p), want, {
        atol: 1e-4,
        rtol: 1e-5,
        reason: "float32 logits rescaled by up to e^4",
      }),
    );
  }
  console.log(`scale: worst abs error ${worst}`);
});

Deno.test("scale hand-worked: x = [3, 1, 2, 0], p = 50, identity head with bias", () => {
  const x = matrix(1, 4, new Float32Array([3, 1, 2, 0]));
  const bias = new Float32Array([1, 0, 0, 0]);
  const z = matrix(1, 4, new Float32Array([4, 1, 2, 0]));
  const e = Math.exp(6 / 5);
  assertClose(scale(x, z, bias, 50)[0], naiveLse([3 * e + 1, e, 2 * e, 0]), {
    atol: 1e-5,
    reason: "float32",
  });
});
