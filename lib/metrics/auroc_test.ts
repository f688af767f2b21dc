import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import { createRng } from "../random.ts";
import { assertClose } from "../../tests/assert_close.ts";
import { auroc, scoreCurve } from "./auroc.ts";

/** O(n^2) pair counting: ID above OOD counts 1, ties 1/2. */
function naiveAuroc(id: Float32Array, ood: Float32Array): number {
  let s = 0;
  for (const a of id) for (const b of ood) s += a > b ? 1 : a === b ? 0.5 : 0;
  return s / (id.length * ood.length);
}

function scores(seed: number, n: number, shift: number, quant: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => {
    const v = rng.normal() + shift;
    return quant > 0 ? Math.round(v * quant) / quant : v;
  });
}

Deno.test("auroc equals O(n^2) pair counting (ties 1/2) on seeded sets", () => {
  let worst = 0;
  for (let seed = 0; seed < 40; seed++) {
    const rng = createRng(seed + 77);
    const id = scores(seed * 2, 1 + rng.int(400), rng.float() * 3 - 1, [0, 1, 3, 10][seed % 4]);
    const ood = scores(seed * 2 + 1, 1 + rng.int(400), 0, [0, 1, 3, 10][seed % 4]);
    worst = Math.max(
      worst,
      assertClose(auroc(id, ood), naiveAuroc(id, ood), {
        atol: 1e-12,
        reason: "same count, different float64 summation order",
      }),
    );
  }
  assert.ok(worst <= 1e-12, `worst abs error ${worst}`);
});

Deno.test("auroc hand cases: ties, all equal, N = 1, perfect and reversed", () => {
  // Pairs (id, ood): (2,1) 1, (2,2) 0.5, (3,1) 1, (3,2) 1 -> 3.5 / 4.
  assert.equal(auroc(new Float32Array([2, 3]), new Float32Array([1, 2])), 0.875);
  assert.equal(auroc(new Float32Array([4, 4, 4]), new Float32Array([4, 4])), 0.5);
  assert.equal(auroc(new Float32Array([1]), new Float32Array([0])), 1);
  assert.equal(auroc(new Float32Array([0]), new Float32Array([1])), 0);
  assert.equal(auroc(new Float32Array([0]), new Float32Array([0])), 0.5);
  // +0 and -0 are one value.
  assert.equal(auroc(new Float32Array([0]), new Float32Array([-0])), 0.5);
  const id = Float32Array.from({ length: 50 }, (_, i) => i + 10);
  const ood = Float32Array.from({ length: 30 }, (_, i) => i - 40);
  assert.equal(auroc(id, ood), 1);
  assert.equal(auroc(ood, id), 0);
});

Deno.test("scoreCurve groups ties and counts both sets in descending order", () => {
  const c = scoreCurve(new Float32Array([1, 3, 3, 2]), new Float64Array([3, 0, 2, 2]));
  assert.deepEqual([...c.values], [3, 2, 1, 0]);
  assert.deepEqual([...c.idCount], [2, 1, 1, 0]);
  assert.deepEqual([...c.oodCount], [1, 2, 0, 1]);
  assert.equal(c.numId, 4);
  assert.equal(c.numOod, 4);
});

Deno.test("auroc rejects empty and non-finite scores", () => {
  assert.throws(() => auroc(new Float32Array(0), new Float32Array([1])), DataError);
  assert.throws(() => auroc(new Float32Array([NaN]), new Float32Array([1])), DataError);
  assert.throws(() => auroc(new Float32Array([1]), new Float32Array([-Infinity])), DataError);
});
