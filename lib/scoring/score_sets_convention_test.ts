import assert from "node:assert/strict";
import type { FeatureSet } from "../io/feature_set.ts";
import type { Head } from "../io/head.ts";
import { type Matrix, matrix } from "../matrix.ts";
import { fpr95 } from "../metrics/fpr95.ts";
import { naiveAveragePrecision, naiveTrapezoidAupr } from "../metrics/test_util.ts";
import { matrixSource } from "../ort/linear.ts";
import { createRng } from "../random.ts";
import { fitMahalanobis, mahalanobis } from "../scores/mahalanobis.ts";
import { assertClose } from "../../tests/assert_close.ts";
import { scoreSets } from "./score_sets.ts";

const C = 3;
const D = 5;

function randomRows(seed: number, n: number, shift: number): { x: Matrix; y: Int32Array } {
  const rng = createRng(seed);
  const x = matrix(n, D);
  const y = Int32Array.from({ length: n }, (_, i) => i % C);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < D; j++) x.data[i * D + j] = rng.normal() + (j === y[i] ? 2 : 0) + shift;
  }
  return { x, y };
}

function set(
  name: string,
  seed: number,
  n: number,
  shift: number,
): { name: string; set: FeatureSet } {
  const { x, y } = randomRows(seed, n, shift);
  const meta = { dataset: name, backbone: "t", dim: D, count: n, dtype: "float32", complete: true };
  return { name, set: { dir: `/virtual/${name}`, meta, features: x, labels: y } as FeatureSet };
}

Deno.test("scoreSets: the metrics convention reaches FPR95 and AUPR; scores and AUROC unchanged", async () => {
  const rng = createRng(40);
  const head: Head = {
    info: { kind: "flat", num_classes: C, groups: [] },
    weight: matrix(C, D, Float32Array.from({ length: C * D }, () => rng.normal())),
    bias: Float32Array.from({ length: C }, () => 0.1 * rng.normal()),
  };
  const id = set("id", 41, 60, 0);
  const ood = [set("far", 42, 45, 1.5)];
  const train = randomRows(43, 90, 0);
  const inputs = {
    head,
    id,
    ood,
    methods: ["msp", "energy", "mahalanobis"] as const,
    train: { dir: "/virtual/train", source: matrixSource(train.x), labels: train.y },
    threads: 1,
  };
  const paper = await scoreSets({ ...inputs, methods: [...inputs.methods] });
  const openood = await scoreSets({
    ...inputs,
    methods: [...inputs.methods],
    fprConvention: "openood",
  });
  const tol = { atol: 1e-10, reason: "percent of float64 sums in another order" };
  for (const method of inputs.methods) {
    const idS = openood.scores.get(method)!.get("id")!;
    const oodS = openood.scores.get(method)!.get("far")!;
    assert.deepEqual(idS, paper.scores.get(method)!.get("id"), method);
    const p = paper.metrics.find((r) => r.method === method)!;
    const o = openood.metrics.find((r) => r.method === method)!;
    assert.equal(o.auroc, p.auroc, method);
    const a = [...idS];
    const b = [...oodS];
    const na = a.map((v) => -v);
    const nb = b.map((v) => -v);
    assertClose(p.aupr_in, 100 * naiveAveragePrecision(a, b), tol);
    assertClose(p.aupr_out, 100 * naiveAveragePrecision(nb, na), tol);
    assertClose(o.aupr_in, 100 * naiveTrapezoidAupr(a, b), tol);
    assertClose(o.aupr_out, 100 * naiveTrapezoidAupr(nb, na), tol);
    assert.equal(p.fpr95, 100 * fpr95(idS, oodS, "paper"));
    assert.equal(o.fpr95, 100 * fpr95(idS, oodS, "openood"));
  }
  // The Mahalanobis score files hold the released code's values, -0.5 x the squared distance.
  const ref = mahalanobis(fitMahalanobis(train.x, train.y, C), id.set.features);
  assertClose(paper.scores.get("mahalanobis")!.get("id")!, ref, {
    atol: 1e-3,
    rtol: 1e-4,
    reason: "streamed float32 fit and kernel vs the float64 reference",
  });
  assert.ok(openood.notes.some((n) => n.includes("OpenOOD v1.5 convention")));
  assert.ok(!paper.notes.some((n) => n.includes("convention")));
});
