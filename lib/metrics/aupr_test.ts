import assert from "node:assert/strict";
import { DataError, UsageError } from "../errors.ts";
import { createRng } from "../random.ts";
import { assertClose } from "../../tests/assert_close.ts";
import { auprIn, auprOut } from "./aupr.ts";
import { naiveAveragePrecision as naiveAp, naiveTrapezoidAupr } from "./test_util.ts";

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

Deno.test("openood AUPR equals sklearn auc(recall, precision) on seeded sets with ties, N >= 1", () => {
  let worst = 0;
  let differs = 0;
  for (let seed = 0; seed < 60; seed++) {
    const rng = createRng(seed + 700);
    const quant = [0, 1, 3, 10][seed % 4];
    // Sizes from 1 up: a one-sample side is a curve with a single recall step.
    const nId = seed < 8 ? 1 + (seed % 2) : 1 + rng.int(250);
    const nOod = seed < 8 ? 1 + (seed >> 2) : 1 + rng.int(250);
    const id = scores(seed * 2 + 1000, nId, rng.float() * 3 - 1, quant);
    const ood = scores(seed * 2 + 1001, nOod, 0, quant);
    const tol = { atol: 1e-12, reason: "float64 sums in a different order" };
    const inWant = naiveTrapezoidAupr([...id], [...ood]);
    const outWant = naiveTrapezoidAupr([...ood].map((v) => -v), [...id].map((v) => -v));
    worst = Math.max(worst, assertClose(auprIn(id, ood, "openood"), inWant, tol));
    worst = Math.max(worst, assertClose(auprOut(id, ood, "openood"), outWant, tol));
    if (Math.abs(inWant - naiveAp([...id], [...ood])) > 1e-6) differs++;
  }
  assert.ok(worst <= 1e-12, `worst abs error ${worst}`);
  // The two conventions are different numbers on almost every set, not a rounding effect.
  assert.ok(differs >= 50, `trapezoid and average precision differ on only ${differs} of 60`);
});

Deno.test("openood AUPR hand cases: ties, all equal, N = 1, perfect, reversed", () => {
  const f = (a: number[]) => Float32Array.from(a);
  const exact = (got: number, want: number) =>
    assertClose(got, want, { atol: 1e-15, reason: "exact rational, float64 sum" });
  // id [3, 1], ood [2]. In: points (R, P) = (0.5, 1), (0.5, 0.5), (1, 2/3) after (0, 1):
  // 0.5 * (1 + 1) / 2 + 0 + 0.5 * (0.5 + 2/3) / 2 = 1/2 + 7/24 = 19/24 (average precision: 5/6).
  exact(auprIn(f([3, 1]), f([2]), "openood"), 19 / 24);
  exact(auprIn(f([3, 1]), f([2])), 5 / 6);
  // Out (OOD positive on -score): -1 (ID) gives (0, 0), -2 (OOD) gives (1, 1/2), -3 (1, 1/3):
  // 0 + 1 * (0 + 1/2) / 2 + 0 = 1/4 (average precision: 1/2).
  exact(auprOut(f([3, 1]), f([2]), "openood"), 1 / 4);
  exact(auprOut(f([3, 1]), f([2])), 1 / 2);
  // Ties across the classes: id [2, 2, 1], ood [2, 0]. In: threshold 2 has tp 2, fp 1 ->
  // (2/3, 2/3); threshold 1 -> (1, 3/4); threshold 0 -> (1, 3/5).
  // 2/3 * (1 + 2/3) / 2 + 1/3 * (2/3 + 3/4) / 2 + 0 = 5/9 + 17/72 = 57/72.
  assertClose(auprIn(f([2, 2, 1]), f([2, 0]), "openood"), 57 / 72, {
    atol: 1e-15,
    reason: "exact rational, float64 sum",
  });
  // All equal: one threshold at recall 1 and precision = class share, closed to (0, 1).
  assertClose(auprIn(f([1, 1, 1]), f([1, 1]), "openood"), (3 / 5 + 1) / 2, {
    atol: 1e-15,
    reason: "exact rational",
  });
  assertClose(auprOut(f([1, 1, 1]), f([1, 1]), "openood"), (2 / 5 + 1) / 2, {
    atol: 1e-15,
    reason: "exact rational",
  });
  // N = 1 on each side.
  assert.equal(auprIn(f([1]), f([0]), "openood"), 1);
  assert.equal(auprOut(f([1]), f([0]), "openood"), 1);
  // The OOD sample on top: (0, 0) then (1, 1/2): 1 * (0 + 1/2) / 2 = 1/4.
  assert.equal(auprIn(f([0]), f([1]), "openood"), 0.25);
  assert.equal(auprOut(f([0]), f([1]), "openood"), 0.25);
  // Perfect separation: 1 in both conventions.
  const id = Float32Array.from({ length: 20 }, (_, i) => -(i + 1));
  const ood = Float32Array.from({ length: 10 }, (_, i) => i + 1);
  assert.equal(auprIn(ood, id, "openood"), 1);
  assert.equal(auprOut(ood, id, "openood"), 1);
  // Reversed: 10 OOD above 20 ID. In: (0, 0) at recall 0 for the 10 OOD groups, then ID j at
  // (j / 20, j / (10 + j)); the first segment starts from precision 0.
  let want = 0;
  let prevP = 0;
  for (let j = 1; j <= 20; j++) {
    const p = j / (10 + j);
    want += (1 / 20) * (p + prevP) / 2;
    prevP = p;
  }
  assertClose(auprIn(id, ood, "openood"), want, { atol: 1e-14, reason: "sum order" });
});

Deno.test("aupr: an unknown convention is a UsageError", () => {
  const ok = new Float32Array([1]);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => auprIn(ok, ok, "sklearn" as any), UsageError);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => auprOut(ok, ok, "" as any), UsageError);
});
