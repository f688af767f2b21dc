import { matrix } from "../matrix.ts";
import { assertClose } from "../../tests/assert_close.ts";
import { gen } from "./gen.ts";
import { naiveSoftmax, randomMatrix, row } from "./test_util.ts";

Deno.test("gen equals a sort-and-sum reference for several gamma, M (M > C too)", () => {
  const z = randomMatrix(4, 40, 30, { scale: 3 });
  let worst = 0;
  for (const [gamma, m] of [[0.1, 10], [0.5, 30], [2, 100], [0.01, 1]]) {
    const want = Array.from({ length: z.rows }, (_, i) => {
      const p = naiveSoftmax(row(z, i)).sort((a, b) => b - a).slice(0, m);
      return -p.reduce((a, v) => a + v ** gamma * (1 - v) ** gamma, 0);
    });
    worst = Math.max(
      worst,
      assertClose(gen(z, { gamma, m }), want, { atol: 1e-6, rtol: 1e-6, reason: "float32 output" }),
    );
  }
  console.log(`gen: worst abs error ${worst}`);
});

Deno.test("gen hand-worked: two equal logits, gamma 1 -> -(1/4 + 1/4); M = 1 -> -1/4", () => {
  const z = matrix(1, 2, new Float32Array([0, 0]));
  assertClose(gen(z, { gamma: 1, m: 2 })[0], -0.5, { atol: 0, reason: "exact" });
  assertClose(gen(z, { gamma: 1, m: 1 })[0], -0.25, { atol: 0, reason: "exact" });
});
