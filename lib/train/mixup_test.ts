import assert from "node:assert/strict";
import { assertClose } from "../../tests/assert_close.ts";
import { groupLayout } from "../groups.ts";
import { mixRows, mixupDraw, softTargets } from "./mixup.ts";

Deno.test("mixupDraw: deterministic per (seed, step), lam in [0, 1], a permutation", () => {
  const a = mixupDraw(1, 5, 16, 0.1);
  const b = mixupDraw(1, 5, 16, 0.1);
  assert.deepEqual(a, b);
  assert.notDeepEqual(mixupDraw(1, 6, 16, 0.1), a);
  assert.ok(a.lam >= 0 && a.lam <= 1);
  assert.equal(a.lamc, Math.fround(1 - a.lam));
  assert.deepEqual([...a.perm!].sort((x, y) => x - y), [...Array(16).keys()]);
  assert.deepEqual(mixupDraw(1, 5, 16, 0), { lam: 1, lamc: 0, perm: null });
  // Beta(a, a) is symmetric: the mean of many draws is near 1/2.
  let sum = 0;
  for (let t = 0; t < 4000; t++) sum += mixupDraw(2, t, 2, 0.1).lam;
  assertClose(sum / 4000, 0.5, { atol: 0.03, reason: "Monte Carlo, sd of mean ~ 0.007" });
});

Deno.test("mixRows: lam x + (1 - lam) x[perm], hand-computed", () => {
  const x = new Float32Array([1, 2, 10, 20, 100, 200]);
  const draw = { lam: 0.75, lamc: 0.25, perm: new Int32Array([2, 0, 1]) };
  const out = mixRows(new Float32Array(6), x, 2, draw);
  assert.deepEqual([...out], [25.75, 51.5, 7.75, 15.5, 77.5, 155]);
  assert.deepEqual([...mixRows(new Float32Array(6), x, 2, { lam: 1, lamc: 0, perm: null })], [
    ...x,
  ]);
});

Deno.test("softTargets: flat and group targets with mixup, hand-computed", () => {
  const draw = { lam: 0.75, lamc: 0.25, perm: new Int32Array([1, 0]) };
  const flat = softTargets(new Float32Array(8), new Int32Array([2, 0]), 4, null, draw);
  assert.deepEqual([...flat], [0.25, 0, 0.75, 0, 0.75, 0, 0.25, 0]);
  // Groups {0, 1} -> [o0, c0, c1], {2} -> [o1, c2]; labels 1 and 2, paired with each other.
  const layout = groupLayout([[0, 1], [2]], 3);
  const t = softTargets(new Float32Array(10), new Int32Array([1, 2]), 5, layout, draw);
  assert.deepEqual([...t], [
    // sample 0 (class 1, mixed with class 2): group 0 slot 2 = 0.75, others 0.25; group 1 others 0.75, c2 0.25
    0.25,
    0,
    0.75,
    0.75,
    0.25,
    // sample 1 (class 2, mixed with class 1)
    0.75,
    0,
    0.25,
    0.25,
    0.75,
  ]);
  const plain = softTargets(new Float32Array(10), new Int32Array([1, 2]), 5, layout, {
    lam: 1,
    lamc: 0,
    perm: null,
  });
  assert.deepEqual([...plain], [0, 0, 1, 1, 0, 1, 0, 0, 0, 1]);
});
