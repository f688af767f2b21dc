/** rocPoints against a plain threshold sweep, and its thinning rule. */
import assert from "node:assert/strict";
import { assertClose } from "../../tests/assert_close.ts";
import { createRng } from "../random.ts";
import { rocPoints } from "./roc.ts";

/** Reference: for every distinct threshold t (descending), TPR = P(id >= t), FPR = P(ood >= t). */
function referenceRoc(id: number[], ood: number[]): { fpr: number[]; tpr: number[] } {
  const ts = [...new Set([...id, ...ood])].sort((a, b) => b - a);
  const fpr = [0];
  const tpr = [0];
  for (const t of ts) {
    tpr.push(id.filter((v) => v >= t).length / id.length);
    fpr.push(ood.filter((v) => v >= t).length / ood.length);
  }
  return { fpr, tpr };
}

Deno.test("rocPoints with no thinning equals the threshold sweep (ties included)", () => {
  const rng = createRng(11);
  // Rounded to tenths so many scores tie within and across the two sets.
  const id = Array.from({ length: 60 }, () => Math.round(10 * (rng.normal() + 1)) / 10);
  const ood = Array.from({ length: 40 }, () => Math.round(10 * rng.normal()) / 10);
  const got = rocPoints(Float64Array.from(id), Float64Array.from(ood), 1_000_000);
  const want = referenceRoc(id, ood);
  assert.equal(got.fpr.length, want.fpr.length);
  const worst = Math.max(
    assertClose(got.fpr, want.fpr, { atol: 1e-12, reason: "ratios of small integers" }),
    assertClose(got.tpr, want.tpr, { atol: 1e-12, reason: "ratios of small integers" }),
  );
  assert.ok(worst <= 1e-12);
});

Deno.test("rocPoints thinning: endpoints kept, monotone, steps >= 1/maxPoints between kept vertices", () => {
  const rng = createRng(12);
  const id = Float32Array.from({ length: 5000 }, () => rng.normal() + 1);
  const ood = Float32Array.from({ length: 4000 }, () => rng.normal());
  const c = rocPoints(id, ood, 50);
  assert.deepEqual([c.fpr[0], c.tpr[0]], [0, 0]);
  assert.deepEqual([c.fpr.at(-1), c.tpr.at(-1)], [1, 1]);
  assert.ok(c.fpr.length <= 2 * 50 + 2, `${c.fpr.length} vertices for maxPoints 50`);
  for (let i = 1; i < c.fpr.length; i++) {
    assert.ok(c.fpr[i] >= c.fpr[i - 1] && c.tpr[i] >= c.tpr[i - 1]);
    if (i < c.fpr.length - 1) {
      const moved = Math.max(c.fpr[i] - c.fpr[i - 1], c.tpr[i] - c.tpr[i - 1]);
      assert.ok(moved >= 1 / 50 - 1e-12, `vertex ${i} moved ${moved}`);
    }
  }
  // Every kept vertex lies on the exact curve.
  const exact = rocPoints(id, ood, 1_000_000);
  const key = (f: number, t: number) => `${f},${t}`;
  const onCurve = new Set(exact.fpr.map((f, i) => key(f, exact.tpr[i])));
  c.fpr.forEach((f, i) => assert.ok(onCurve.has(key(f, c.tpr[i]))));
});

Deno.test("rocPoints: one sample each, and bad maxPoints", () => {
  assert.deepEqual(rocPoints(new Float32Array([1]), new Float32Array([0])), {
    fpr: [0, 0, 1],
    tpr: [0, 1, 1],
  });
  assert.deepEqual(rocPoints(new Float32Array([1]), new Float32Array([1])), {
    fpr: [0, 1],
    tpr: [0, 1],
  });
  assert.throws(() => rocPoints(new Float32Array([1]), new Float32Array([0]), 1), RangeError);
});
