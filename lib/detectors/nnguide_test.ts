import assert from "node:assert/strict";
import { matrix } from "../matrix.ts";
import { matrixSource } from "../ort/linear.ts";
import { assertClose } from "../../tests/assert_close.ts";
import type { DetectorHead } from "./common.ts";
import { fitNnGuide, nnGuide, sampleRows } from "./nnguide.ts";
import { naiveLogits, naiveLse, randomHead, randomMatrix, row } from "./test_util.ts";

Deno.test("nnguide equals energy x mean top-K inner product with the guide bank, float64", async () => {
  const head = randomHead(61, 6, 10);
  const train = randomMatrix(62, 300, 10, { relu: true });
  const x = randomMatrix(63, 27, 10, { relu: true });
  const z = naiveLogits(x, head);
  const model = await fitNnGuide(matrixSource(train), head, { k: 5, alpha: 0.1, seed: 3 });
  assert.equal(model.rows.length, 30);
  const zt = naiveLogits(train, head);
  const unit = (r: number[]) => r.map((v) => v / Math.hypot(...r));
  const bank = Array.from(
    model.rows,
    (i) => unit(row(train, i)).map((v) => v * naiveLse(row(zt, i))),
  );
  const want = Array.from({ length: x.rows }, (_, i) => {
    const q = unit(row(x, i));
    const ips = bank.map((g) => g.reduce((s, v, j) => s + v * q[j], 0)).sort((a, b) => b - a);
    return (naiveLse(row(z, i)) * ips.slice(0, 5).reduce((a, b) => a + b, 0)) / 5;
  });
  const worst = assertClose(await nnGuide(model, x, z, { chunkRows: 7, queryBlockRows: 4 }), want, {
    atol: 1e-5,
    rtol: 1e-5,
    reason: "float32 GEMM",
  });
  console.log(`nnguide: worst abs error ${worst}`);
});

Deno.test("nnguide hand-worked: bank (1,0), (0,2) with identity head; x = (3, 0), K = 1", async () => {
  const head: DetectorHead = {
    weight: matrix(2, 2, new Float32Array([1, 0, 0, 1])),
    bias: new Float32Array(2),
    kind: "flat",
  };
  const model = await fitNnGuide(matrixSource(matrix(2, 2, new Float32Array([1, 0, 0, 2]))), head, {
    k: 1,
    alpha: 1,
  });
  // Guides: (1,0) * ln(1 + e) and (0,1) * ln(1 + e^2); best inner product with (1,0) is ln(1 + e).
  const got = await nnGuide(
    model,
    matrix(1, 2, new Float32Array([3, 0])),
    matrix(1, 2, new Float32Array([3, 0])),
  );
  assertClose(got, [Math.log(1 + Math.E) * Math.log(1 + Math.exp(3))], {
    atol: 1e-5,
    reason: "float32",
  });
  const s = sampleRows(50, 10, 1);
  assert.equal(new Set(s).size, 10);
  assert.deepEqual(Array.from(s), Array.from(s).sort((a, b) => a - b));
});
