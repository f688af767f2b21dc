import assert from "node:assert/strict";
import { DataError, UsageError } from "../errors.ts";
import { createRng } from "../random.ts";
import { auprIn, auprOut } from "./aupr.ts";
import { auroc } from "./auroc.ts";
import { evaluate } from "./evaluate.ts";
import { fpr95 } from "./fpr95.ts";
import { naiveAveragePrecision, naiveTrapezoidAupr } from "./test_util.ts";
import { assertClose } from "../../tests/assert_close.ts";

function scores(seed: number, n: number, shift: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => Math.round((rng.normal() + shift) * 8) / 8);
}

Deno.test("evaluate equals the four metric functions called one by one", () => {
  for (let seed = 0; seed < 10; seed++) {
    const id = scores(seed, 200 + seed * 13, 1);
    const ood = scores(seed + 100, 150 + seed * 7, 0);
    for (const conv of ["paper", "openood"] as const) {
      const m = evaluate(id, ood, { fprConvention: conv });
      assert.equal(m.auroc, auroc(id, ood));
      assert.equal(m.fpr95, fpr95(id, ood, conv));
      assert.equal(m.auprIn, auprIn(id, ood, conv));
      assert.equal(m.auprOut, auprOut(id, ood, conv));
    }
  }
});

Deno.test("evaluate perfect separation gives AUROC 1, FPR95 0, AUPR 1 / 1", () => {
  const m = evaluate(new Float32Array([0.9, 0.8, 0.7]), new Float32Array([0.1, 0.2]));
  assert.deepEqual(m, { auroc: 1, fpr95: 0, auprIn: 1, auprOut: 1 });
  const m2 = evaluate(new Float32Array([0.9]), new Float32Array([0.1]), {
    fprConvention: "openood",
  });
  assert.deepEqual(m2, { auroc: 1, fpr95: 0, auprIn: 1, auprOut: 1 });
});

Deno.test("evaluate rejects empty sets, NaN scores and unknown conventions", () => {
  const ok = new Float32Array([1]);
  assert.throws(() => evaluate(new Float32Array(0), ok), DataError);
  assert.throws(() => evaluate(ok, new Float32Array(0)), DataError);
  assert.throws(() => evaluate(ok, new Float32Array([NaN])), DataError);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => evaluate(ok, ok, { fprConvention: "x" as any }), UsageError);
});

Deno.test("evaluate: a NaN or infinite score names the label, the side and the row", () => {
  const label = `mahalanobis (ID "id" vs OOD "sun")`;
  for (
    const [id, ood, side] of [
      [new Float32Array([1, NaN]), new Float32Array([0]), "ID score 1 is NaN"],
      [new Float32Array([1]), new Float32Array([0, 2, -Infinity]), "OOD score 2 is -Infinity"],
    ] as const
  ) {
    assert.throws(
      () => evaluate(id, ood, { label }),
      (e: unknown) =>
        e instanceof DataError && e.message.startsWith(`${label}: ${side};`) &&
        e.message.includes("overflow float32"),
    );
  }
  // The float32 extremes are scores like any other.
  const m = evaluate(new Float32Array([3.4e38]), new Float32Array([-3.4e38]), { label });
  assert.equal(m.auroc, 1);
});

Deno.test("evaluate: each convention's AUPR against a float64 reference; AUROC the same in both", () => {
  const tol = { atol: 1e-12, reason: "float64 sums in a different order" };
  const cases: [Float32Array, Float32Array][] = [
    [new Float32Array([1]), new Float32Array([0])],
    [new Float32Array([0]), new Float32Array([1])],
    [new Float32Array([2, 2, 2]), new Float32Array([2, 2])],
    [new Float32Array([3, 2, 2, 1]), new Float32Array([2, 1, 1, 0])],
  ];
  for (let seed = 0; seed < 12; seed++) {
    cases.push([scores(seed + 500, 1 + seed * 17, 1), scores(seed + 600, 1 + seed * 11, 0)]);
  }
  for (const [id, ood] of cases) {
    const p = evaluate(id, ood);
    const o = evaluate(id, ood, { fprConvention: "openood" });
    const negId = [...id].map((v) => -v);
    const negOod = [...ood].map((v) => -v);
    assertClose(p.auprIn, naiveAveragePrecision([...id], [...ood]), tol);
    assertClose(p.auprOut, naiveAveragePrecision(negOod, negId), tol);
    assertClose(o.auprIn, naiveTrapezoidAupr([...id], [...ood]), tol);
    assertClose(o.auprOut, naiveTrapezoidAupr(negOod, negId), tol);
    // OpenOOD's auc(fpr, tpr) of roc_curve(ood, -conf) is the same area as the tie-half AUROC.
    assert.equal(o.auroc, p.auroc);
  }
});

Deno.test("evaluate: OpenOOD's FPR95 is a different quantity (ID rejected at 95% OOD recall)", () => {
  // ID: 1,000 evenly spread scores in (0, 1). OOD: 900 far below, 100 at ID-like scores.
  const id = Float64Array.from({ length: 1000 }, (_, i) => (i + 0.5) / 1000);
  const ood = Float64Array.from(
    { length: 1000 },
    (_, i) => (i < 900 ? -100 : (i - 900 + 0.25) / 100),
  );
  const p = evaluate(id, ood);
  const o = evaluate(id, ood, { fprConvention: "openood" });
  // Paper: the threshold keeping 95% of ID is 0.05; OOD accepted = ID-like OOD at or above it,
  // (i - 900 + 0.25) / 100 >= 0.0505 for i >= 905: 95 of 1,000.
  assert.equal(p.fpr95, 95 / 1000);
  // OpenOOD: flagging 95% of OOD (950 = the 900 far ones + the 50 lowest ID-like, the highest of
  // them at 0.4925) rejects every ID score <= 0.4925: 493 of 1,000.
  assert.equal(o.fpr95, 493 / 1000);
});
