import assert from "node:assert/strict";
import { assertClose } from "../../tests/assert_close.ts";
import { DataError } from "../errors.ts";
import { type Matrix, matrix } from "../matrix.ts";
import { createRng } from "../random.ts";
import { pinvSymmetric } from "../linalg/pinv_symmetric.ts";
import { fitMahalanobis, mahalanobis } from "../scores/mahalanobis.ts";
import { matrixSource } from "./linear.ts";
import {
  fitMahalanobisFast,
  invertCovariance,
  mahalanobisBlockRows,
  mahalanobisFast,
  mahalanobisMinDistanceFast,
} from "./mahalanobis_kernel.ts";

/** Post-ReLU-like rows relu(mu_y + noise) with row norms ~10-30, every class present. */
function reluFeatures(seed: number, n: number, d: number, c: number) {
  const rng = createRng(seed);
  const mu = new Float64Array(c * d);
  for (let i = 0; i < mu.length; i++) mu[i] = Math.abs(rng.normal()) * 2;
  const x = matrix(n, d);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const y = i < c ? i : rng.int(c);
    labels[i] = y;
    for (let j = 0; j < d; j++) x.data[i * d + j] = Math.max(0, mu[y * d + j] + rng.normal());
  }
  return { x, labels };
}

/** Worst |a - e| / max(|e|, 1), the error measure reported below. */
function worstRel(a: ArrayLike<number>, e: ArrayLike<number>): number {
  let w = 0;
  for (let i = 0; i < e.length; i++) {
    w = Math.max(w, Math.abs(a[i] - e[i]) / Math.max(Math.abs(e[i]), 1));
  }
  return w;
}

function spd(seed: number, n: number): Float64Array {
  const rng = createRng(seed);
  const g = new Float64Array(n * 2 * n).map(() => rng.normal());
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < 2 * n; k++) s += g[i * 2 * n + k] * g[j * 2 * n + k];
      a[i * n + j] = s / (2 * n);
    }
  }
  return a;
}

const N = 300, D = 64, C = 50;
const train = reluFeatures(1, N, D, C);
const test = reluFeatures(2, N, D, C);

Deno.test("invertCovariance equals the reference pseudo-inverse on an SPD matrix", () => {
  const a = spd(3, 40);
  const { inverse, method } = invertCovariance(a, 40);
  assert.equal(method, "cholesky");
  const ref = pinvSymmetric(a, 40);
  const w = worstRel(inverse, ref);
  assertClose(inverse, ref, {
    atol: 1e-9,
    rtol: 1e-9,
    reason: `float64 Cholesky vs eigen; worst ${w}`,
  });
});

Deno.test("invertCovariance: dead channels get zero rows, singular falls back to pinv", () => {
  const n = 12;
  const a = spd(4, n);
  for (const dead of [2, 7]) {
    for (let k = 0; k < n; k++) a[dead * n + k] = a[k * n + dead] = 0;
  }
  const { inverse, method } = invertCovariance(a, n);
  assert.equal(method, "cholesky");
  assertClose(inverse, pinvSymmetric(a, n), {
    atol: 1e-10,
    rtol: 1e-9,
    reason: "zero-variance channels: the pseudo-inverse is the inverse of the rest",
  });
  // Rank 3 (outer products of 3 vectors): not invertible, the pseudo-inverse path must run.
  const rng = createRng(5);
  const v = new Float64Array(3 * n).map(() => rng.normal());
  const low = new Float64Array(n * n);
  for (let r = 0; r < 3; r++) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) low[i * n + j] += v[r * n + i] * v[r * n + j];
    }
  }
  const s = invertCovariance(low, n);
  assert.equal(s.method, "pseudo-inverse");
  assertClose(s.inverse, pinvSymmetric(low, n), { atol: 0, rtol: 0, reason: "same function" });
  // Positive definite but with an eigenvalue under pinvh's cutoff (3 * 2^-52 relative): Cholesky
  // would succeed, yet the pseudo-inverse drops that eigenvalue, so the fallback must run.
  const ill = Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1e-16]);
  const t = invertCovariance(ill, 3);
  assert.equal(t.method, "pseudo-inverse");
  assertClose(t.inverse, [1, 0, 0, 0, 1, 0, 0, 0, 0], {
    atol: 1e-12,
    reason: "hand-worked pseudo-inverse of diag(1, 1, ~0)",
  });
});

Deno.test("fitMahalanobisFast matches fitMahalanobis (odd chunks)", async () => {
  const ref = fitMahalanobis(train.x, train.labels, C);
  const got = await fitMahalanobisFast(matrixSource(train.x), train.labels, C, { chunkRows: 37 });
  assert.equal(got.inverseMethod, "cholesky");
  assertClose(got.means.data, ref.means.data, {
    atol: 1e-6,
    rtol: 1e-6,
    reason: "float64 class sums rounded to float32",
  });
  const wp = worstRel(got.precision.data, ref.precision.data);
  assertClose(got.precision.data, ref.precision.data, {
    atol: 2e-4,
    rtol: 2e-4,
    reason: `float32 chunk products in the scatter, amplified by cond(cov); worst rel ${wp}`,
  });
});

Deno.test("mahalanobisFast matches the float64 reference on post-ReLU features", async () => {
  const model = fitMahalanobis(train.x, train.labels, C);
  const ref = mahalanobis(model, test.x);
  const got = await mahalanobisFast(model, test.x, { chunkRows: 71 });
  const w = worstRel(got, ref);
  assertClose(got, ref, {
    atol: 1e-3,
    rtol: 2e-5,
    reason: `float32 x'Px' - 2x'Pmu' + mu'Pmu' after centring on the mean of means; worst rel ${w}`,
  });
  const whole = await mahalanobisFast(model, matrixSource(test.x), { chunkRows: 4096 });
  assertClose(got, whole, { atol: 1e-4, rtol: 1e-6, reason: "chunked vs one chunk, same graph" });
});

Deno.test("mahalanobisFast: NaN feature rows give NaN, hand-worked 1-d case at the -0.5 scale", async () => {
  // 1-d, P = [4], means 0 and 3: x = 1 -> min(4 * 1, 4 * 4) = 4 -> score -0.5 * 4 = -2 (the
  // released code's term_gau = -0.5 (x - mu) P (x - mu)).
  const model = {
    means: matrix(2, 1, Float32Array.from([0, 3])),
    precision: matrix(1, 1, Float32Array.from([4])),
  };
  const x = matrix(3, 1, Float32Array.from([1, NaN, 2.5]));
  const got = await mahalanobisFast(model, x);
  assertClose(got[0], -2, { atol: 1e-5, reason: "float32 arithmetic on small integers" });
  assert.ok(Number.isNaN(got[1]));
  assertClose(got[2], -0.5, { atol: 1e-5, reason: "float32 arithmetic; 4 * 0.5^2 = 1" });
  const dist = await mahalanobisMinDistanceFast(model, x);
  assertClose(dist[0], 4, { atol: 1e-5, reason: "float32 arithmetic on small integers" });
  assert.ok(Number.isNaN(dist[1]));
  assertClose(dist[2], 1, { atol: 1e-5, reason: "float32 arithmetic; 4 * 0.5^2 = 1" });
});

Deno.test("mahalanobisFast is -0.5 x the smallest squared distance, naive float64 reference", async () => {
  const model = fitMahalanobis(train.x, train.labels, C);
  const x = reluFeatures(9, 40, D, C).x;
  // Direct quadratic forms on the model's own float32 means and precision, in float64.
  const want = Array.from({ length: x.rows }, (_, i) => {
    let best = Infinity;
    for (let c = 0; c < C; c++) {
      const z = Array.from(
        { length: D },
        (_, j) => x.data[i * D + j] - model.means.data[c * D + j],
      );
      let q = 0;
      for (let a = 0; a < D; a++) {
        let s = 0;
        for (let b = 0; b < D; b++) s += model.precision.data[a * D + b] * z[b];
        q += z[a] * s;
      }
      best = Math.min(best, q);
    }
    return best;
  });
  const dist = await mahalanobisMinDistanceFast(model, x, { chunkRows: 13 });
  assertClose(dist, want, { atol: 1e-3, rtol: 2e-5, reason: "float32 graph vs float64" });
  const score = await mahalanobisFast(model, x, { chunkRows: 13 });
  // Halving is exact in float32: the score is bit for bit -0.5 x the distance.
  assert.deepEqual([...score], [...dist].map((d) => -0.5 * d));
  assertClose(score, want.map((d) => -0.5 * d), {
    atol: 5e-4,
    rtol: 2e-5,
    reason: "float32 graph vs float64",
  });
});

Deno.test("fitMahalanobisFast rejects empty classes and mismatched dims", async () => {
  const labels = Int32Array.from(train.labels, (y) => (y === 3 ? 4 : y));
  await assert.rejects(() => fitMahalanobisFast(matrixSource(train.x), labels, C), DataError);
  const model = fitMahalanobis(train.x, train.labels, C);
  const wrong: Matrix = matrix(2, D + 1);
  await assert.rejects(() => mahalanobisFast(model, wrong), DataError);
});

Deno.test("mahalanobisFast at D = 520 (block-symmetric quadratic form, 2 blocks)", async () => {
  const d = 520, c = 5, n = 20;
  const rng = createRng(11);
  const p = new Float32Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      const v = i === j ? 2 + rng.normal() ** 2 : 0.02 * rng.normal();
      p[i * d + j] = v;
      p[j * d + i] = v;
    }
  }
  const means = matrix(c, d, Float32Array.from({ length: c * d }, () => 3 * rng.normal()));
  const x = matrix(n, d, Float32Array.from({ length: n * d }, () => 3 * rng.normal()));
  const model = { means, precision: matrix(d, d, p) };
  const ref = mahalanobis(model, x);
  const got = await mahalanobisFast(model, x, { chunkRows: 7 });
  assertClose(got, ref, { atol: 1e-3, rtol: 2e-5, reason: "float32 blocks vs float64" });
});

Deno.test("mahalanobisBlockRows: one graph when it fits, else blocks of means", () => {
  const mb = (bytes: number) => bytes / 2 ** 20;
  assert.equal(mahalanobisBlockRows(50, 16, 8, mb(4 * 16 * 50)), 0);
  assert.equal(mahalanobisBlockRows(50, 16, 8, mb(4 * 16 * 7)), 7);
  assert.equal(mahalanobisBlockRows(50, 16, 32, mb(4 * 32 * 7)), 7);
  assert.equal(mahalanobisBlockRows(50, 16, 8, 1e-9), 1);
  // ImageNet-1k and ImageNet-21k (21,843 x 8 KiB = 171 MiB) fit the default; 4096-row chunks
  // put 21k in blocks of 256 MiB / 16 KiB = 16,384 means.
  assert.equal(mahalanobisBlockRows(1000, 2048, 2048), 0);
  assert.equal(mahalanobisBlockRows(21_843, 2048, 2048), 0);
  assert.equal(mahalanobisBlockRows(21_843, 2048, 4096), 16_384);
  assert.throws(() => mahalanobisBlockRows(5, 4, 4, -1), RangeError);
});

Deno.test("mahalanobisFast over blocks of class means equals the one-graph path", async () => {
  const model = fitMahalanobis(train.x, train.labels, C);
  const x = reluFeatures(12, 57, D, C).x;
  x.data[3 * D + 2] = NaN;
  const chunkRows = 16;
  const whole = await mahalanobisMinDistanceFast(model, x, { chunkRows });
  assert.ok(Number.isNaN(whole[3]));
  const ref = mahalanobis(model, x);
  for (const rows of [1, 3, C - 1]) {
    // Blocks of `rows` means: the bound is rows x max(D, chunkRows) x 4 bytes.
    const blockMb = (rows * Math.max(D, chunkRows) * 4) / 2 ** 20;
    assert.equal(mahalanobisBlockRows(C, D, chunkRows, blockMb), rows);
    const got = await mahalanobisMinDistanceFast(model, x, { chunkRows, blockMb });
    // Monotone float32 rounding: the same sums, up to the GEMM kernel (a one-row block runs as
    // a GEMV with another summation order).
    assert.ok(Number.isNaN(got[3]));
    assertClose(got, whole, { atol: 1e-4, rtol: 1e-6, reason: `blocks of ${rows} means` });
    const score = await mahalanobisFast(model, matrixSource(x), { chunkRows, blockMb });
    const finite = (a: Float32Array) => [...a].filter((_, i) => i !== 3);
    assertClose(finite(score), finite(ref), {
      atol: 1e-3,
      rtol: 2e-5,
      reason: `blocks of ${rows} means vs the float64 reference`,
    });
    assert.ok(Number.isNaN(score[3]));
  }
});
