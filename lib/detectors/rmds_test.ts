import { matrix } from "../matrix.ts";
import { matrixSource } from "../ort/linear.ts";
import { createRng } from "../random.ts";
import { assertClose } from "../../tests/assert_close.ts";
import { fitRmds, rmds } from "./rmds.ts";
import { naiveInverse, randomMatrix, row } from "./test_util.ts";

function mean(rows: number[][]): number[] {
  return rows[0].map((_, j) => rows.reduce((s, r) => s + r[j], 0) / rows.length);
}

/** Biased covariance of centred rows, inverted. */
function precisionOf(centred: number[][]): number[][] {
  const d = centred[0].length;
  const cov = Array.from(
    { length: d },
    (_, a) =>
      Array.from(
        { length: d },
        (_, b) => centred.reduce((s, r) => s + r[a] * r[b], 0) / centred.length,
      ),
  );
  return naiveInverse(cov);
}

function md(x: number[], mu: number[], p: number[][]): number {
  const z = x.map((v, j) => v - mu[j]);
  return z.reduce((s, za, a) => s + za * p[a].reduce((t, pab, b) => t + pab * z[b], 0), 0);
}

Deno.test("rmds equals -min_c MD_c + MD_0 computed naively in float64", async () => {
  const C = 4;
  const train = randomMatrix(31, 160, 6, { scale: 1 });
  const rng = createRng(32);
  const labels = Int32Array.from({ length: 160 }, (_, i) => i % C);
  for (let i = 0; i < 160; i++) train.data[i * 6 + (labels[i] % 6)] += 3 + rng.float();
  const x = randomMatrix(33, 25, 6, { scale: 2 });
  const rows = Array.from({ length: 160 }, (_, i) => row(train, i));
  const mus = Array.from({ length: C }, (_, c) => mean(rows.filter((_, i) => labels[i] === c)));
  const p = precisionOf(rows.map((r, i) => r.map((v, j) => v - mus[labels[i]][j])));
  const mu0 = mean(rows);
  const p0 = precisionOf(rows.map((r) => r.map((v, j) => v - mu0[j])));
  const want = Array.from({ length: x.rows }, (_, i) => {
    const xi = row(x, i);
    return -Math.min(...mus.map((m) => md(xi, m, p))) + md(xi, mu0, p0);
  });
  const model = await fitRmds(matrixSource(train), labels, C, { chunkRows: 37 });
  const worst = assertClose(await rmds(model, x, { chunkRows: 11 }), want, {
    atol: 1e-3,
    rtol: 1e-4,
    reason: "float32 quadratic forms of size ~100",
  });
  console.log(`rmds: worst abs error ${worst}`);
});

Deno.test("rmds hand-worked 1-d: classes {0, 2} and {10, 12}; x = 1 -> 25/26", async () => {
  // Within-class variance 1, whole variance 26 around 6: -min(0, 100) + 25/26.
  const train = matrixSource(matrix(4, 1, new Float32Array([0, 2, 10, 12])));
  const model = await fitRmds(train, Int32Array.from([0, 0, 1, 1]), 2);
  assertClose(await rmds(model, matrix(1, 1, new Float32Array([1]))), [25 / 26], {
    atol: 1e-5,
    reason: "float32",
  });
});
