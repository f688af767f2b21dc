/**
 * The report's curves against plain threshold sweeps written out here, its histograms against
 * brute-force counting, and hand-computed small cases (ties, a perfect ranking, all-equal scores).
 */
import assert from "node:assert/strict";
import { assertClose } from "../../tests/assert_close.ts";
import { rocPoints } from "../metrics/roc.ts";
import { createRng } from "../random.ts";
import {
  curvesOf,
  histogram,
  histogramRange,
  keepCorners,
  prPoints,
  quantileSorted,
} from "./curves.ts";

/** Reference: for every distinct threshold t (descending), recall and precision of `score >= t`. */
function referencePr(id: number[], ood: number[]): { recall: number[]; precision: number[] } {
  const ts = [...new Set([...id, ...ood])].sort((a, b) => b - a);
  const recall: number[] = [];
  const precision: number[] = [];
  for (const t of ts) {
    const tp = id.filter((v) => v >= t).length;
    const fp = ood.filter((v) => v >= t).length;
    recall.push(tp / id.length);
    precision.push(tp / (tp + fp));
  }
  return { recall, precision };
}

/** Reference AUROC: pairs, ties half. */
function referenceAuroc(id: number[], ood: number[]): number {
  let wins = 0;
  for (const a of id) for (const b of ood) wins += a > b ? 1 : a === b ? 0.5 : 0;
  return wins / (id.length * ood.length);
}

function tiedScores(seed: number, n: number, shift: number): number[] {
  const rng = createRng(seed);
  // Rounded to tenths so many scores tie within and across the two sets.
  return Array.from({ length: n }, () => Math.round(10 * (rng.normal() + shift)) / 10);
}

Deno.test("prPoints with no thinning equals the threshold sweep (ties one threshold)", () => {
  const id = tiedScores(1, 70, 1);
  const ood = tiedScores(2, 40, 0);
  const got = prPoints(Float64Array.from(id), Float64Array.from(ood), 1_000_000);
  const want = referencePr(id, ood);
  assert.equal(got.recall.length, want.recall.length);
  assertClose(got.recall, want.recall, { atol: 1e-12, reason: "ratios of small integers" });
  assertClose(got.precision, want.precision, { atol: 1e-12, reason: "ratios of small integers" });
});

Deno.test("prPoints: hand case with a tie across the sets", () => {
  // Thresholds 3, 2, 1: at 3 one ID (P 1, R 1/2); at 2 the second ID ties one OOD (P 2/3, R 1);
  // at 1 the other OOD (P 2/4).
  const got = prPoints(new Float32Array([3, 2]), new Float32Array([2, 1]), 1000);
  assert.deepEqual(got.recall, [0.5, 1, 1]);
  assertClose(got.precision, [1, 2 / 3, 0.5], { atol: 1e-15, reason: "exact ratios" });
});

Deno.test("prPoints: thinning keeps first and last vertex and moves at least 1/maxPoints", () => {
  const rng = createRng(4);
  const id = Float32Array.from({ length: 5000 }, () => rng.normal() + 1);
  const ood = Float32Array.from({ length: 3000 }, () => rng.normal());
  const full = prPoints(id, ood, 1_000_000);
  const thin = prPoints(id, ood, 100);
  assert.ok(thin.recall.length < full.recall.length / 5, `${thin.recall.length} vertices`);
  assert.equal(thin.recall[0], full.recall[0]);
  assert.equal(thin.precision.at(-1), full.precision.at(-1));
  assert.equal(thin.recall.at(-1), 1);
  for (let i = 1; i < thin.recall.length - 1; i++) {
    const moved = Math.max(
      thin.recall[i] - thin.recall[i - 1],
      Math.abs(thin.precision[i] - thin.precision[i - 1]),
    );
    assert.ok(moved >= 1 / 100 - 1e-12, `vertex ${i} moved ${moved}`);
  }
});

Deno.test("curvesOf: the ROC of rocPoints, the PR of prPoints and the pairwise AUROC, from one sort", () => {
  for (const seed of [5, 6, 7]) {
    const id = tiedScores(seed, 300, 0.8);
    const ood = tiedScores(seed + 100, 200, 0);
    const [a, b] = [Float32Array.from(id), Float32Array.from(ood)];
    const c = curvesOf(a, b, 50);
    assert.deepEqual(c.roc, rocPoints(a, b, 50));
    assert.deepEqual(c.pr, prPoints(a, b, 50));
    assertClose(c.auroc, referenceAuroc(id, ood), { atol: 1e-12, reason: "sum of halves" });
  }
});

Deno.test("curvesOf: a perfect ranking and all-equal scores", () => {
  const perfect = curvesOf(new Float32Array([5, 4]), new Float32Array([1, 0]), 1000);
  assert.equal(perfect.auroc, 1);
  assert.deepEqual(perfect.pr.precision, [1, 1, 2 / 3, 0.5]);
  const flat = curvesOf(new Float32Array([1, 1, 1]), new Float32Array([1]), 1000);
  assert.equal(flat.auroc, 0.5);
  // One threshold: everything accepted at once.
  assert.deepEqual(flat.roc, { fpr: [0, 1], tpr: [0, 1] });
  assert.deepEqual(flat.pr, { recall: [1], precision: [0.75] });
});

Deno.test("quantileSorted interpolates like numpy's default", () => {
  const v = Float64Array.from([1, 2, 4, 8]);
  assert.equal(quantileSorted(v, 0), 1);
  assert.equal(quantileSorted(v, 1), 8);
  // position 0.5 * 3 = 1.5: halfway between 2 and 4.
  assert.equal(quantileSorted(v, 0.5), 3);
  assertClose(quantileSorted(v, 0.1), 1.3, { atol: 1e-12, reason: "1 + 0.3 * (2 - 1)" });
});

Deno.test("histogram: fractions equal brute-force counts over the bins, end bins take the rest", () => {
  const rng = createRng(9);
  const a = Float32Array.from({ length: 997 }, () => rng.normal());
  const range = { lo: -1.5, hi: 2, clipped: 0 };
  const h = histogram(a, range, 7);
  assert.equal(h.edges.length, 8);
  assert.equal(h.edges[0], -1.5);
  assert.equal(h.edges[7], 2);
  const w = 3.5 / 7;
  for (let b = 0; b < 7; b++) {
    const lo = b === 0 ? -Infinity : -1.5 + b * w;
    const hi = b === 6 ? Infinity : -1.5 + (b + 1) * w;
    const n = Array.from(a).filter((v) => v >= lo && v < hi).length;
    assertClose(h.fraction[b], n / a.length, { atol: 1e-15, reason: "count / n both ways" });
  }
  assertClose(h.fraction.reduce((s, x) => s + x, 0), 1, { atol: 1e-12, reason: "sum of 7" });
});

Deno.test("histogramRange: the full range for compact scores, percentiles for a long tail", () => {
  const compact = Float32Array.from({ length: 1001 }, (_, i) => i / 1000);
  const r = histogramRange([compact]);
  assert.deepEqual([r.lo, r.hi, r.clipped], [0, 1, 0]);
  // 1000 scores in [0, 1) and one at 1e6: the pooled 0.5 / 99.5 percentiles, 10 + 1 clipped.
  const tail = Float32Array.from({ length: 1000 }, (_, i) => i / 1000);
  const r2 = histogramRange([tail, new Float32Array([1e6])]);
  const sorted = Float64Array.from([...tail, 1e6]).sort();
  assert.equal(r2.lo, quantileSorted(sorted, 0.005));
  assert.equal(r2.hi, quantileSorted(sorted, 0.995));
  const outside = Array.from(sorted).filter((v) => v < r2.lo || v > r2.hi).length;
  assert.equal(r2.clipped, outside);
  assert.ok(r2.clipped >= 2 && r2.clipped <= 12, `${r2.clipped} clipped`);
  // All equal: widened to a unit range around the value.
  const same = histogramRange([new Float32Array([3, 3, 3])]);
  assert.deepEqual([same.lo, same.hi, same.clipped], [2.5, 3.5, 0]);
  const h = histogram(new Float32Array([3, 3, 3]), same, 4);
  assert.deepEqual(h.fraction, [0, 0, 1, 0]);
});

Deno.test("keepCorners drops inner points of straight horizontal and vertical runs only", () => {
  const xs = [0, 0, 0, 0.5, 1, 1, 1];
  const ys = [0, 0.2, 0.4, 0.4, 0.4, 0.7, 1];
  // Index 1 (vertical run) and 3 (horizontal run) and 5 (vertical run) are inner points.
  assert.deepEqual(keepCorners(xs, ys), [0, 2, 4, 6]);
  assert.deepEqual(keepCorners([0, 1, 2], [0, 1, 0]), [0, 1, 2]);
  assert.deepEqual(keepCorners([], []), []);
});
