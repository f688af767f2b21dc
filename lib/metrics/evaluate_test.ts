import assert from "node:assert/strict";
import { DataError, UsageError } from "../errors.ts";
import { createRng } from "../random.ts";
import { auprIn, auprOut } from "./aupr.ts";
import { auroc } from "./auroc.ts";
import { evaluate } from "./evaluate.ts";
import { fpr95 } from "./fpr95.ts";

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
      assert.equal(m.auprIn, auprIn(id, ood));
      assert.equal(m.auprOut, auprOut(id, ood));
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
