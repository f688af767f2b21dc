import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import { createRng } from "../random.ts";
import { assertClose } from "../../tests/assert_close.ts";
import { auprIn, auprOut } from "./aupr.ts";

/**
 * Average precision by explicit threshold enumeration: for every distinct value t of the
 * positive-class-is-high scores, descending, count TP(t) and FP(t) directly, then
 * sum (R_n - R_{n-1}) P_n.
 */
function naiveAp(pos: number[], neg: number[]): number {
  const ts = [...new Set([...pos, ...neg])].sort((a, b) => b - a);
  let prevRecall = 0;
  let ap = 0;
  for (const t of ts) {
    const tp = pos.filter((v) => v >= t).length;
    const fp = neg.filter((v) => v >= t).length;
    const recall = tp / pos.length;
    ap += (recall - prevRecall) * (tp / (tp + fp));
    prevRecall = recall;
  }
  return ap;
}

function scores(seed: number, n: number, shift: number, quant: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => {
    const v = rng.normal() + shift;
    return quant > 0 ? Math.round(v * quant) / quant : v;
  });
}

Deno.test("auprIn / auprOut equal explicit threshold enumeration on seeded sets with ties", () => {
  let worst = 0;
  for (let seed = 0; seed < 40; seed++) {
    const rng = createRng(seed + 300);
    const quant = [0, 1, 3, 10][seed % 4];
    const id = scores(seed * 2, 1 + rng.int(250), rng.float() * 3 - 1, quant);
    const ood = scores(seed * 2 + 1, 1 + rng.int(250), 0, quant);
    const tol = { atol: 1e-12, reason: "float64 sums in a different order" };
    worst = Math.max(worst, assertClose(auprIn(id, ood), naiveAp([...id], [...ood]), tol));
    worst = Math.max(
      worst,
      assertClose(auprOut(id, ood), naiveAp([...ood].map((v) => -v), [...id].map((v) => -v)), tol),
    );
  }
  assert.ok(worst <= 1e-12, `worst abs error ${worst}`);
});

Deno.test("aupr hand cases: sklearn doc example, all equal, N = 1, perfect, reversed", () => {
  // sklearn's docstring: y_true [0, 0, 1, 1], scores [0.1, 0.4, 0.35, 0.8] -> 0.8333...
  assertClose(auprIn(new Float32Array([0.35, 0.8]), new Float32Array([0.1, 0.4])), 5 / 6, {
    atol: 1e-7,
    reason: "float32 inputs, exact rational result",
  });
  // All equal: one threshold, precision = class share.
  assertClose(auprIn(new Float32Array([1, 1, 1]), new Float32Array([1, 1])), 3 / 5, {
    atol: 1e-15,
    reason: "exact rational",
  });
  assertClose(auprOut(new Float32Array([1, 1, 1]), new Float32Array([1, 1])), 2 / 5, {
    atol: 1e-15,
    reason: "exact rational",
  });
  assert.equal(auprIn(new Float32Array([1]), new Float32Array([0])), 1);
  assert.equal(auprOut(new Float32Array([1]), new Float32Array([0])), 1);
  assert.equal(auprIn(new Float32Array([0]), new Float32Array([1])), 0.5);
  assert.equal(auprOut(new Float32Array([0]), new Float32Array([1])), 0.5);
  // Reversed: 10 OOD above 20 ID. ID at rank 10 + j has precision j / (10 + j).
  const id = Float32Array.from({ length: 20 }, (_, i) => -(i + 1));
  const ood = Float32Array.from({ length: 10 }, (_, i) => i + 1);
  let want = 0;
  for (let j = 1; j <= 20; j++) want += j / (10 + j) / 20;
  assertClose(auprIn(id, ood), want, { atol: 1e-14, reason: "sum order" });
  let wantOut = 0;
  for (let k = 1; k <= 10; k++) wantOut += k / (20 + k) / 10;
  assertClose(auprOut(id, ood), wantOut, { atol: 1e-14, reason: "sum order" });
  assert.equal(auprIn(ood, id), 1);
  assert.equal(auprOut(ood, id), 1);
});

Deno.test("aupr rejects empty and NaN scores", () => {
  assert.throws(() => auprIn(new Float32Array([1]), new Float32Array(0)), DataError);
  assert.throws(() => auprOut(new Float32Array([NaN]), new Float32Array([1])), DataError);
});
