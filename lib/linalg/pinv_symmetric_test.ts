import assert from "node:assert/strict";
import { createRng } from "../random.ts";
import { assertClose } from "../../tests/assert_close.ts";
import { pinvSymmetric } from "./pinv_symmetric.ts";

function mul(x: Float64Array, y: Float64Array, n: number): Float64Array {
  const o = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += x[i * n + k] * y[k * n + j];
      o[i * n + j] = s;
    }
  }
  return o;
}

/** B B^T for an n x r Gaussian B: symmetric, rank r. */
function lowRank(seed: number, n: number, r: number): Float64Array {
  const rng = createRng(seed);
  const b = Array.from({ length: n }, () => Array.from({ length: r }, () => rng.normal()));
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < r; k++) s += b[i][k] * b[j][k];
      a[i * n + j] = s;
    }
  }
  return a;
}

Deno.test("pinvSymmetric satisfies the four Moore-Penrose conditions on a rank-deficient matrix", () => {
  const n = 8;
  const a = lowRank(9, n, 5);
  const p = pinvSymmetric(a, n);
  const tol = { atol: 1e-10, rtol: 1e-9, reason: "float64 eigendecomposition round-off" };
  const transpose = (m: Float64Array) =>
    Float64Array.from(m, (_, k) => m[(k % n) * n + Math.floor(k / n)]);
  const ap = mul(a, p, n);
  const pa = mul(p, a, n);
  const w1 = assertClose(mul(ap, a, n), a, tol);
  const w2 = assertClose(mul(pa, p, n), p, tol);
  const w3 = assertClose(ap, transpose(ap), tol);
  const w4 = assertClose(pa, transpose(pa), tol);
  assert.ok(Math.max(w1, w2, w3, w4) < 1e-9, `worst errors ${w1} ${w2} ${w3} ${w4}`);
});

Deno.test("pinvSymmetric: hand-worked cases (diagonal with a zero, 2 x 2 inverse, all zeros)", () => {
  assertClose(pinvSymmetric(new Float64Array([2, 0, 0, 0]), 2), [0.5, 0, 0, 0], {
    atol: 1e-15,
    reason: "float64",
  });
  // [[2, 1], [1, 2]]^-1 = [[2, -1], [-1, 2]] / 3.
  assertClose(pinvSymmetric(new Float64Array([2, 1, 1, 2]), 2), [2 / 3, -1 / 3, -1 / 3, 2 / 3], {
    atol: 1e-15,
    reason: "float64",
  });
  assert.deepEqual([...pinvSymmetric(new Float64Array(4), 2)], [0, 0, 0, 0]);
});

Deno.test("pinvSymmetric: rtol drops eigenvalues at or below rtol * max |lambda|", () => {
  // Eigenvalues 1 and 1e-8 on the diagonal: kept by the default cutoff, dropped by rtol = 1e-7.
  const a = new Float64Array([1, 0, 0, 1e-8]);
  assertClose(pinvSymmetric(a, 2), [1, 0, 0, 1e8], { atol: 0, rtol: 1e-12, reason: "float64" });
  assertClose(pinvSymmetric(a, 2, 1e-7), [1, 0, 0, 0], { atol: 0, reason: "exact" });
});
