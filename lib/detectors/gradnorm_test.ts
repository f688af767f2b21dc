import { matrix } from "../matrix.ts";
import { assertClose } from "../../tests/assert_close.ts";
import { gradNorm } from "./gradnorm.ts";
import { naiveLogits, naiveSoftmax, randomHead, randomMatrix, row } from "./test_util.ts";

/** The weight gradient of sum_c -log softmax(z/T)_c written out entry by entry, then its L1 norm. */
function naiveGradNorm(x: number[], z: number[], t: number): number {
  const p = naiveSoftmax(z.map((v) => v / t));
  const C = z.length;
  let s = 0;
  for (let j = 0; j < C; j++) {
    // dL/dz_j = sum_c d(-log p_c)/dz_j = sum_c (p_j - [c == j]) / T.
    let dz = 0;
    for (let c = 0; c < C; c++) dz += (p[j] - (c === j ? 1 : 0)) / t;
    for (let k = 0; k < x.length; k++) s += Math.abs(dz * x[k]);
  }
  return s;
}

Deno.test("gradNorm closed form equals the entry-wise weight gradient", () => {
  const x = randomMatrix(5, 30, 12, { relu: true });
  const head = randomHead(6, 9, 12);
  const z = naiveLogits(x, head);
  let worst = 0;
  for (const t of [1, 2.5]) {
    const want = Array.from({ length: x.rows }, (_, i) => naiveGradNorm(row(x, i), row(z, i), t));
    worst = Math.max(
      worst,
      assertClose(gradNorm(x, z, { temperature: t }), want, { rtol: 1e-6, reason: "float32" }),
    );
  }
  console.log(`gradnorm: worst abs error ${worst}`);
});

Deno.test("gradNorm hand-worked: z = [ln 3, 0], x = [1, -2] -> (|1.5-1| + |0.5-1|) * 3 = 3", () => {
  const got = gradNorm(
    matrix(2, 2, new Float32Array([1, -2, 4, 4])),
    matrix(2, 2, new Float32Array([Math.log(3), 0, 0, 0])),
  );
  assertClose(got[0], 3, { atol: 1e-6, reason: "float32 ln 3" });
  // Uniform softmax: every C p_j - 1 is 0.
  assertClose(got[1], 0, { atol: 0, reason: "exact" });
});
