import assert from "node:assert/strict";
import { createRng } from "../random.ts";
import { assertClose } from "../../tests/assert_close.ts";
import { symmetricEigen } from "./symmetric_eigen.ts";

function randomSymmetric(seed: number, n: number): Float64Array {
  const rng = createRng(seed);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const v = rng.normal();
      a[i * n + j] = v;
      a[j * n + i] = v;
    }
  }
  return a;
}

Deno.test("symmetricEigen: A v = lambda v and orthonormal eigenvectors for n = 1..33", () => {
  for (const n of [1, 2, 3, 10, 33]) {
    const a = randomSymmetric(12 + n, n);
    const { values, vectors } = symmetricEigen(a, n);
    let worst = 0;
    for (let k = 0; k < n; k++) {
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let j = 0; j < n; j++) s += a[i * n + j] * vectors[k * n + j];
        worst = Math.max(worst, Math.abs(s - values[k] * vectors[k * n + i]));
      }
      for (let l = 0; l < n; l++) {
        let dot = 0;
        for (let j = 0; j < n; j++) dot += vectors[k * n + j] * vectors[l * n + j];
        worst = Math.max(worst, Math.abs(dot - (k === l ? 1 : 0)));
      }
    }
    assert.ok(worst < 1e-12, `n = ${n}: worst residual ${worst}`);
  }
});

Deno.test("symmetricEigen: reconstruction A = V^T diag(w) V, including a zero row and column", () => {
  const n = 12;
  const a = randomSymmetric(3, n);
  // A zero row / column exercises the scale === 0 branch of the Householder reduction.
  for (let i = 0; i < n; i++) a[i * n + 4] = a[4 * n + i] = 0;
  const { values, vectors } = symmetricEigen(a, n);
  const back = new Float64Array(n * n);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += vectors[k * n + r] * values[k] * vectors[k * n + c];
      back[r * n + c] = s;
    }
  }
  assertClose(back, a, { atol: 1e-12, rtol: 0, reason: "float64 round-off over 12 terms" });
  assert.equal(values.filter((v) => Math.abs(v) < 1e-12).length, 1);
});

Deno.test("symmetricEigen: hand-worked 2 x 2, diagonal input, n = 0", () => {
  // [[2, 1], [1, 2]]: eigenvalues 1 and 3, eigenvectors (1, -1) / sqrt 2 and (1, 1) / sqrt 2.
  const { values, vectors } = symmetricEigen(new Float64Array([2, 1, 1, 2]), 2);
  const order = values[0] < values[1] ? [0, 1] : [1, 0];
  assertClose(order.map((j) => values[j]), [1, 3], { atol: 1e-14, reason: "float64" });
  const lo = order[0];
  const hi = order[1];
  const s = Math.SQRT1_2;
  assertClose([Math.abs(vectors[lo * 2]), vectors[lo * 2] * vectors[lo * 2 + 1]], [s, -0.5], {
    atol: 1e-14,
    reason: "float64, sign of an eigenvector is arbitrary",
  });
  assertClose([Math.abs(vectors[hi * 2]), vectors[hi * 2] * vectors[hi * 2 + 1]], [s, 0.5], {
    atol: 1e-14,
    reason: "float64, sign of an eigenvector is arbitrary",
  });
  const diag = symmetricEigen(new Float64Array([5, 0, 0, 0, -1, 0, 0, 0, 2]), 3);
  assertClose([...diag.values].sort((x, y) => x - y), [-1, 2, 5], { atol: 0, reason: "exact" });
  const empty = symmetricEigen(new Float64Array(0), 0);
  assert.equal(empty.values.length, 0);
  assert.equal(empty.vectors.length, 0);
});

Deno.test("symmetricEigen: wrong length is a RangeError; NaN input ends with NaN, not a hang", () => {
  assert.throws(() => symmetricEigen(new Float64Array(3), 2), RangeError);
  // NaN fails every convergence comparison, so the iteration stops at once and NaN propagates
  // (callers check their inputs for finiteness first).
  const { values } = symmetricEigen(new Float64Array([1, NaN, NaN, 1]), 2);
  assert.ok(values.some(Number.isNaN));
});
