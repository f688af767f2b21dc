import { matrix } from "../matrix.ts";
import { assertClose } from "../../tests/assert_close.ts";
import { ash, type AshVariant } from "./ash.ts";
import { naiveLogitsRow, naiveLse, randomHead, randomMatrix, row } from "./test_util.ts";

/** ASH by a full sort of the row (torch.topk style), float64. */
function naiveAsh(v: AshVariant, x: number[], p: number): number[] {
  const n = x.length;
  const k = n - Math.round((n * p) / 100); // no .5 cases at these sizes
  const order = x.map((_, j) => j).sort((a, b) => x[b] - x[a] || a - b).slice(0, k);
  const kept = new Set(order);
  const s1 = x.reduce((a, b) => a + b, 0);
  const s2 = order.reduce((a, j) => a + x[j], 0);
  return x.map((val, j) =>
    !kept.has(j) ? 0 : v === "p" ? val : v === "b" ? s1 / k : val * Math.exp(s1 / s2)
  );
}

Deno.test("ash p/b/s equal a sort-based float64 reference", async () => {
  const x = randomMatrix(11, 29, 24, { relu: true });
  const head = randomHead(12, 6, 24, 0.2);
  let worst = 0;
  for (const v of ["p", "b", "s"] as const) {
    for (const p of [65, 90]) {
      const want = Array.from(
        { length: x.rows },
        (_, i) => naiveLse(naiveLogitsRow(naiveAsh(v, row(x, i), p), head)),
      );
      const got = await ash(v, head, x, { percentile: p, chunkRows: 8 });
      worst = Math.max(
        worst,
        assertClose(got, want, {
          atol: 1e-4,
          rtol: 1e-5,
          reason: "float32 GEMM of exp-scaled features",
        }),
      );
    }
  }
  console.log(`ash: worst abs error ${worst}`);
});

Deno.test("ash hand-worked: x = [3, 1, 2, 0], p = 50, identity head", async () => {
  const head = {
    weight: matrix(4, 4, new Float32Array([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1])),
    bias: new Float32Array(4),
    kind: "flat" as const,
  };
  const x = matrix(1, 4, new Float32Array([3, 1, 2, 0]));
  // k = 2 keeps {3, 2}; s1 = 6, s2 = 5.
  const lse = (z: number[]) => naiveLse(z);
  assertClose((await ash("p", head, x, { percentile: 50 }))[0], lse([3, 0, 2, 0]), {
    atol: 1e-6,
    reason: "float32",
  });
  assertClose((await ash("b", head, x, { percentile: 50 }))[0], lse([3, 0, 3, 0]), {
    atol: 1e-6,
    reason: "float32",
  });
  const e = Math.exp(6 / 5);
  assertClose((await ash("s", head, x, { percentile: 50 }))[0], lse([3 * e, 0, 2 * e, 0]), {
    atol: 1e-5,
    reason: "float32",
  });
});
