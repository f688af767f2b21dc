import assert from "node:assert/strict";
import { createRng } from "../random.ts";
import { assertClose } from "../../tests/assert_close.ts";
import {
  averageDistributions,
  bootstrapDistribution,
  bootstrapMetrics,
  distributionIntervals,
  percentileInterval,
  quantile,
  scoreMapIntervals,
} from "./bootstrap.ts";
import { evaluate } from "./evaluate.ts";
import { naiveAveragePrecision, naiveTrapezoidAupr } from "./test_util.ts";

function normals(seed: number, n: number, shift: number, quant = 0): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => {
    const v = rng.normal() + shift;
    return quant > 0 ? Math.round(v * quant) / quant : v;
  });
}

/** Standard normal CDF (Abramowitz-Stegun 7.1.26 erf, |error| < 1.5e-7). */
function phi(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 +
            t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-z * z);
  return x >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

Deno.test("bootstrap resamples equal explicit resampled arrays scored by evaluate (ties, both FPR rules)", () => {
  for (let seed = 0; seed < 6; seed++) {
    const quant = [0, 2, 5][seed % 3];
    const id = normals(seed, 150 + 17 * seed, 1, quant);
    const ood = normals(seed + 50, 90 + 11 * seed, 0, quant);
    for (const fprConvention of ["paper", "openood"] as const) {
      const B = 40;
      const got = bootstrapDistribution(id, ood, { resamples: B, seed: 7 + seed, fprConvention });
      // The reference: draw sample indices from the two documented streams, then score the
      // resampled arrays from scratch.
      const idRng = createRng(7 + seed);
      const oodRng = createRng(8 + seed);
      for (let b = 0; b < B; b++) {
        const a = Float64Array.from({ length: id.length }, () => id[idRng.int(id.length)]);
        const o = Float64Array.from({ length: ood.length }, () => ood[oodRng.int(ood.length)]);
        const want = evaluate(a, o, { fprConvention });
        const tol = { atol: 1e-12, reason: "same counts, float64 sums in the same order" };
        assertClose(got.auroc[b], want.auroc, tol);
        assertClose(got.fpr95[b], want.fpr95, tol);
        assertClose(got.auprIn[b], want.auprIn, tol);
        assertClose(got.auprOut[b], want.auprOut, tol);
      }
    }
  }
});

Deno.test("bootstrap 95% interval covers a known AUROC, and covers it in ~95% of repeated samples", () => {
  // ID ~ N(1, 1), OOD ~ N(0, 1): AUROC = P(X > Y) = Phi(1 / sqrt(2)).
  const truth = phi(1 / Math.SQRT2);
  const r = bootstrapMetrics(normals(1, 2000, 1), normals(2, 2000, 0), { seed: 3 });
  assert.ok(
    r.ci.auroc.low <= truth && truth <= r.ci.auroc.high,
    `[${r.ci.auroc.low}, ${r.ci.auroc.high}] misses ${truth}`,
  );
  assert.ok(r.ci.auroc.low <= r.estimate.auroc && r.estimate.auroc <= r.ci.auroc.high);
  // Coverage over 80 independent data sets (200 resamples each): a 95% interval should miss a
  // few. Binomial(80, 0.95) is below 68 with probability < 1e-4.
  let covered = 0;
  for (let t = 0; t < 80; t++) {
    const c = bootstrapMetrics(normals(100 + t, 200, 1), normals(300 + t, 200, 0), {
      resamples: 200,
      seed: t,
    });
    if (c.ci.auroc.low <= truth && truth <= c.ci.auroc.high) covered++;
  }
  assert.ok(covered >= 68 && covered <= 80, `covered ${covered} of 80`);
});

Deno.test("bootstrap AUPR follows the convention: trapezoid (openood) vs average precision", () => {
  const id = normals(31, 60, 0.8, 2);
  const ood = normals(32, 45, 0, 2);
  const B = 12;
  const tol = { atol: 1e-12, reason: "float64 sums in a different order" };
  for (const fprConvention of ["paper", "openood"] as const) {
    const got = bootstrapDistribution(id, ood, { resamples: B, seed: 5, fprConvention });
    const naive = fprConvention === "openood" ? naiveTrapezoidAupr : naiveAveragePrecision;
    const idRng = createRng(5);
    const oodRng = createRng(6);
    for (let b = 0; b < B; b++) {
      const a = Array.from({ length: id.length }, () => id[idRng.int(id.length)]);
      const o = Array.from({ length: ood.length }, () => ood[oodRng.int(ood.length)]);
      assertClose(got.auprIn[b], naive(a, o), tol);
      assertClose(got.auprOut[b], naive(o.map((v) => -v), a.map((v) => -v)), tol);
    }
    const r = bootstrapMetrics(id, ood, { resamples: B, seed: 5, fprConvention });
    assertClose(r.estimate.auprIn, naive([...id], [...ood]), tol);
  }
});

Deno.test("bootstrap AUROC spread matches the DeLong standard error", () => {
  const id = normals(11, 600, 1.2);
  const ood = normals(12, 400, 0);
  // DeLong: structural components V10_i = mean_j psi(x_i, y_j), V01_j = mean_i psi(x_i, y_j).
  const v10 = Array.from(id, (x) => ood.reduce((s, y) => s + (x > y ? 1 : x === y ? 0.5 : 0), 0));
  const v01 = Array.from(ood, (y) => id.reduce((s, x) => s + (x > y ? 1 : x === y ? 0.5 : 0), 0));
  const a = v10.reduce((s, v) => s + v, 0) / (id.length * ood.length);
  const var10 = v10.map((v) => v / ood.length).reduce((s, v) => s + (v - a) ** 2, 0) /
    (id.length - 1);
  const var01 = v01.map((v) => v / id.length).reduce((s, v) => s + (v - a) ** 2, 0) /
    (ood.length - 1);
  const se = Math.sqrt(var10 / id.length + var01 / ood.length);
  const d = bootstrapDistribution(id, ood, { resamples: 2000, seed: 5 });
  const mean = d.auroc.reduce((s, v) => s + v, 0) / d.auroc.length;
  const sd = Math.sqrt(d.auroc.reduce((s, v) => s + (v - mean) ** 2, 0) / (d.auroc.length - 1));
  assertClose(sd, se, {
    rtol: 0.1,
    reason: "2000 resamples estimate an SD to ~1.6% (Monte Carlo); bootstrap and DeLong " +
      "variances differ by O(1/n)",
  });
});

Deno.test("bootstrap is reproducible for a seed and changes with it", () => {
  const id = normals(21, 300, 0.5, 4);
  const ood = normals(22, 200, 0, 4);
  const a = bootstrapMetrics(id, ood, { seed: 9, resamples: 300 });
  const b = bootstrapMetrics(id, ood, { seed: 9, resamples: 300 });
  const c = bootstrapMetrics(id, ood, { seed: 10, resamples: 300 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.ci, c.ci);
  assert.equal(a.resamples, 300);
  assert.equal(a.level, 0.95);
  assert.deepEqual(a.estimate, evaluate(id, ood));
});

Deno.test("bootstrap hand cases: perfect separation, all equal, N = 1", () => {
  const perfect = bootstrapMetrics(
    new Float32Array([5, 6, 7]),
    new Float32Array([1, 2]),
    { resamples: 50 },
  );
  assert.deepEqual(perfect.ci.auroc, { low: 1, high: 1 });
  assert.deepEqual(perfect.ci.fpr95, { low: 0, high: 0 });
  assert.deepEqual(perfect.ci.auprIn, { low: 1, high: 1 });
  // All scores equal: every resample is one tie group, AUROC 1/2, FPR 1, AUPR-In = ID share.
  const flat = bootstrapDistribution(new Float32Array([2, 2, 2]), new Float32Array([2]), {
    resamples: 20,
  });
  assert.ok(flat.auroc.every((v) => v === 0.5));
  assert.ok(flat.fpr95.every((v) => v === 1));
  assert.ok(flat.auprIn.every((v) => v === 0.75));
  const one = bootstrapMetrics(new Float32Array([1]), new Float32Array([0]), { resamples: 5 });
  assert.deepEqual(one.ci.auroc, { low: 1, high: 1 });
});

Deno.test("quantile and percentileInterval follow numpy's linear rule", () => {
  // np.quantile([1, 2, 3, 4], 0.25) = 1.75; np.quantile([3, 1, 2], 0.5) = 2.
  assert.equal(quantile([1, 2, 3, 4], 0.25), 1.75);
  assert.equal(quantile([3, 1, 2], 0.5), 2);
  assert.equal(quantile([4], 0.9), 4);
  const v = Array.from({ length: 101 }, (_, i) => 100 - i);
  const iv = percentileInterval(v, 0.9);
  const tol = { atol: 1e-12, reason: "(1 - 0.9) / 2 is 0.04999... in binary" };
  assertClose([iv.low, iv.high], [5, 95], tol);
  assert.throws(() => quantile([], 0.5), RangeError);
  assert.throws(() =>
    bootstrapMetrics(new Float32Array([1]), new Float32Array([0]), {
      resamples: 0,
    }), RangeError);
});

Deno.test("ID resamples are shared across OOD sets, so averaged resamples bootstrap the average", () => {
  const id = normals(31, 120, 1);
  const oods = [normals(32, 80, 0), normals(33, 50, 0.5, 3)];
  const B = 25;
  const dists = oods.map((o, k) =>
    bootstrapDistribution(id, o, { resamples: B, seed: 4, oodSeed: 100 + k })
  );
  const avg = averageDistributions(dists);
  const idRng = createRng(4);
  const oodRngs = oods.map((_, k) => createRng(100 + k));
  for (let b = 0; b < B; b++) {
    // One ID resample, then each OOD set's own resample, scored and averaged by hand.
    const a = Float64Array.from({ length: id.length }, () => id[idRng.int(id.length)]);
    let want = 0;
    oods.forEach((o, k) => {
      const r = Float64Array.from({ length: o.length }, () => o[oodRngs[k].int(o.length)]);
      want += evaluate(a, r).auroc / oods.length;
    });
    assertClose(avg.auroc[b], want, { atol: 1e-12, reason: "float64 sums in another order" });
  }
  const iv = distributionIntervals(avg);
  assert.ok(iv.auroc.low <= iv.auroc.high);
});

Deno.test("scoreMapIntervals: one row per method, set and metric, equal to bootstrapMetrics", () => {
  const id = normals(41, 80, 1);
  const a = normals(42, 60, 0);
  const b = normals(43, 40, 0.3);
  const scores = new Map([
    ["m1", new Map([["id", id], ["a", a], ["b", b]])],
    ["m2", new Map([["id", id.map((v) => -v)], ["a", a], ["b", b]])],
  ]);
  const rows = scoreMapIntervals(scores, "id", ["a", "b"], { resamples: 30, seed: 2 });
  assert.equal(rows.length, 2 * 2 * 4);
  const want = bootstrapMetrics(id, b, { resamples: 30, seed: 2, oodSeed: 4 });
  const r = rows.find((x) => x.method === "m1" && x.dataset === "b" && x.metric === "auroc")!;
  assert.deepEqual(
    [r.estimate, r.low, r.high],
    [100 * want.estimate.auroc, 100 * want.ci.auroc.low, 100 * want.ci.auroc.high],
  );
});
