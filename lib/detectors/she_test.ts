import assert from "node:assert/strict";
import { matrix } from "../matrix.ts";
import { matrixSource } from "../ort/linear.ts";
import { assertClose } from "../../tests/assert_close.ts";
import type { DetectorHead } from "./common.ts";
import { fitShe, she } from "./she.ts";
import { naiveLogits, randomHead, randomMatrix, row } from "./test_util.ts";

Deno.test("she equals class means of correctly classified rows + similarity, all metrics", async () => {
  const head = randomHead(41, 5, 12, 1);
  const train = randomMatrix(42, 200, 12, { relu: true });
  const zt = naiveLogits(train, head);
  const argmax = (r: number[]) => r.indexOf(Math.max(...r));
  // Labels = predictions for 70% of rows so most classes have correct rows.
  const labels = Int32Array.from(
    { length: 200 },
    (_, i) => (i % 10 < 7 ? argmax(row(zt, i)) : i % 5),
  );
  const x = randomMatrix(43, 30, 12, { relu: true });
  const z = naiveLogits(x, head);
  let worst = 0;
  for (const metric of ["inner_product", "euclidean", "cosine"] as const) {
    const model = await fitShe(matrixSource(train), labels, head, metric, { chunkRows: 64 });
    const pats = Array.from({ length: 5 }, (_, c) => {
      const rs = [...Array(200).keys()].filter((i) => labels[i] === c && argmax(row(zt, i)) === c);
      return row(train, 0).map((_, j) =>
        rs.reduce((s, i) => s + train.data[i * 12 + j], 0) / rs.length
      );
    });
    const want = Array.from({ length: x.rows }, (_, i) => {
      const xi = row(x, i);
      const p = pats[argmax(row(z, i))];
      const dot = xi.reduce((s, v, j) => s + v * p[j], 0);
      const nx = Math.hypot(...xi);
      const np = Math.hypot(...p);
      return metric === "inner_product"
        ? dot
        : metric === "euclidean"
        ? -Math.hypot(...xi.map((v, j) => v - p[j]))
        : dot / (nx * np);
    });
    worst = Math.max(
      worst,
      assertClose(she(model, x, z), want, { atol: 1e-5, rtol: 1e-6, reason: "float32 patterns" }),
    );
  }
  console.log(`she: worst abs error ${worst}`);
});

Deno.test("she hand-worked: patterns (2, 0) and (0, 3); x = (1, 2) -> 6", async () => {
  const head: DetectorHead = {
    weight: matrix(2, 2, new Float32Array([1, 0, 0, 1])),
    bias: new Float32Array(2),
    kind: "flat",
  };
  // Row 3 is labelled 1 but predicted 0: left out of both patterns.
  const train = matrixSource(matrix(3, 2, new Float32Array([2, 0, 0, 3, 1, 0])));
  const model = await fitShe(train, Int32Array.from([0, 1, 1]), head);
  assert.deepEqual(Array.from(model.patterns.data), [2, 0, 0, 3]);
  const x = matrix(1, 2, new Float32Array([1, 2]));
  assertClose(she(model, x, x), [6], { atol: 0, reason: "exact" });
});
