import assert from "node:assert/strict";
import type { Matrix } from "../matrix.ts";
import { auroc } from "../metrics/auroc.ts";
import { createRng } from "../random.ts";
import { fitMahalanobis, mahalanobis } from "../scores/mahalanobis.ts";
import { assertClose } from "../../tests/assert_close.ts";
import {
  combineLayerScores,
  fitLayerCombiner,
  fitLayerStatistics,
  type LayerScores,
  layerScores,
  selectLayerScores,
} from "./multilayer_mahalanobis.ts";

const C = 3;

/** n rows of a layer of width d: class c shifted by `sep` on dimension c, plus `oodShift` for OOD. */
function layer(seed: number, n: number, d: number, labels: Int32Array, sep: number, oodShift = 0) {
  const rng = createRng(seed);
  const data = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) data[i * d + j] = rng.normal();
    if (labels[i] >= 0) data[i * d + (labels[i] % d)] += sep;
    else data[i * d + (d - 1)] += oodShift;
  }
  return { data, rows: n, cols: d } as Matrix;
}

Deno.test("layer scores equal the plain float64 Mahalanobis reference, layer by layer", async () => {
  const n = 240;
  const labels = Int32Array.from({ length: n }, (_, i) => i % C);
  const dims = { root: 3, block1: 5, block2: 8 };
  const train: Record<string, Matrix> = {};
  const test: Record<string, Matrix> = {};
  const testLabels = new Int32Array(40).fill(-1);
  Object.entries(dims).forEach(([name, d], k) => {
    train[name] = layer(10 + k, n, d, labels, 3);
    test[name] = layer(20 + k, 40, d, testLabels, 3, 2);
  });
  const layers = Object.keys(dims);
  const stats = await fitLayerStatistics(train, layers, labels, C);
  const s = await layerScores(stats, test);
  assert.deepEqual(s.layers, layers);
  assert.equal(s.rows, 40);
  layers.forEach((name, l) => {
    const ref = mahalanobis(fitMahalanobis(train[name], labels, C), test[name]);
    const got = Array.from({ length: 40 }, (_, i) => s.data[i * layers.length + l]);
    assertClose(got, ref, {
      rtol: 1e-4,
      atol: 1e-4,
      reason: "onnxruntime float32 products (centred) vs the float64 reference",
    });
  });
});

Deno.test("the combiner weights the informative layer and scores w . s + b", () => {
  const rng = createRng(5);
  const make = (n: number, shift: number): LayerScores => {
    const data = new Float64Array(n * 3);
    for (let i = 0; i < n; i++) {
      data[i * 3] = 100 * rng.normal(); // noise, large scale
      data[i * 3 + 1] = -50 + rng.normal() + shift; // the informative layer
      data[i * 3 + 2] = 0.01 * rng.normal(); // noise, small scale
    }
    return { layers: ["a", "b", "c"], rows: n, data };
  };
  const id = make(300, 2);
  const ood = make(300, 0);
  const comb = fitLayerCombiner(id, ood);
  const w = comb.regression.weights;
  // Standardised importance |w_j| * sd_j: layer b dominates.
  assert.ok(Math.abs(w[1]) * 1 > 5 * Math.abs(w[0]) * 100, `weights ${w}`);
  assert.ok(Math.abs(w[1]) * 1 > 5 * Math.abs(w[2]) * 0.01, `weights ${w}`);
  const sId = combineLayerScores(comb, id);
  const by = Array.from(
    { length: id.rows },
    (_, i) =>
      comb.regression.intercept + w[0] * id.data[i * 3] + w[1] * id.data[i * 3 + 1] +
      w[2] * id.data[i * 3 + 2],
  );
  assertClose(sId, by, { rtol: 1e-6, atol: 1e-5, reason: "float32 output of a float64 sum" });
  const sOod = combineLayerScores(comb, ood);
  const bOnlyId = Float32Array.from({ length: id.rows }, (_, i) => id.data[i * 3 + 1]);
  const bOnlyOod = Float32Array.from({ length: ood.rows }, (_, i) => ood.data[i * 3 + 1]);
  // The combination is about as good as the informative layer alone (fitted in-sample).
  assert.ok(auroc(sId, sOod) >= auroc(bOnlyId, bOnlyOod) - 0.01);
  const sub = selectLayerScores(id, Int32Array.from([4, 0]));
  assert.deepEqual([...sub.data], [...id.data.slice(12, 15), ...id.data.slice(0, 3)]);
});

Deno.test("layer scores that overflow float32 are one DataError naming the layer's file", async () => {
  const n = 60;
  const labels = Int32Array.from({ length: n }, (_, i) => i % C);
  const stats = await fitLayerStatistics(
    { root: layer(31, n, 4, labels, 5), block1: layer(32, n, 6, labels, 5) },
    ["root", "block1"],
    labels,
    C,
  );
  // block1 of the scored set: row 3 at 1e30, whose squared distance overflows float32. An opened
  // .npy carries its path; a matrix with a `path` stands in for one here.
  const big = layer(33, 10, 6, new Int32Array(10).fill(-1), 0);
  big.data.fill(1e30, 3 * 6, 4 * 6);
  const set = { root: layer(34, 10, 4, new Int32Array(10).fill(-1), 0), block1: big };
  (big as Matrix & { path: string }).path = "/sets/sun/block1.npy";
  await assert.rejects(
    () => layerScores(stats, set, { set: "sun" }),
    (e: unknown) =>
      e instanceof Error && e.name === "DataError" && e.message.includes("layer block1") &&
      e.message.includes(`"sun"`) && e.message.includes("/sets/sun/block1.npy") &&
      e.message.includes("row 3"),
  );
});
