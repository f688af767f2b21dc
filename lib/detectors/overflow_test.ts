/**
 * Detectors on finite features that overflow float32 (issue 11, item 6): each either computes the
 * right value (KNN's normalisation is scale-free, so features x 1e30 must score exactly like the
 * originals) or stops with a DataError, never returns a finite score built from an overflow.
 */
import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import type { Matrix } from "../matrix.ts";
import { matrixSource } from "../ort/linear.ts";
import { fitKnn, knn, knnScoresForKs, l2NormalizeRows } from "./knn.ts";
import { fitNnGuide } from "./nnguide.ts";
import { detectorByKey } from "./registry.ts";
import { fitShe } from "./she.ts";
import { randomHead, randomMatrix } from "./test_util.ts";

const D = 12;
const C = 5;

function scaled(m: Matrix, s: number): Matrix {
  return { ...m, data: m.data.map((v) => v * s) };
}

/** |a - b| <= tol elementwise, with the first failing index in the message. */
function assertAllClose(a: Float32Array, b: Float32Array, tol: number, what: string): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i] - b[i]) <= tol, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
  }
}

Deno.test("knn: features x 1e30 or up to 3.4e38 score like the originals (normalising is scale-free)", async () => {
  const train = randomMatrix(1, 200, D, { relu: true, scale: 2 });
  const test = randomMatrix(2, 40, D, { relu: true, scale: 2 });
  const base = await knn(fitKnn(matrixSource(train), 5), test);
  // (Tiny rows are another matter: below |x| = 1e-12 the normaliser divides by 1e-12, as torch's
  // F.normalize does.)
  for (const s of [1e20, 1e30, 3.4e38 / 20]) {
    // Rescaling only the test rows, only the training rows, or both leaves every distance
    // between the normalised rows unchanged; float32 rounding of the scaled division is the
    // only difference (distances are at most 2).
    const t = scaled(test, s);
    const tr = scaled(train, s);
    assertAllClose(await knn(fitKnn(matrixSource(train), 5), t), base, 2e-6, `test x ${s}`);
    assertAllClose(await knn(fitKnn(matrixSource(tr), 5), test), base, 2e-6, `train x ${s}`);
    const both = await knnScoresForKs(matrixSource(tr), t, [1, 5], { chunkRows: 16 });
    assertAllClose(both[1], base, 2e-6, `both x ${s}`);
  }
  // The normalised rows themselves: unit length, and equal to the unscaled rows' up to a few
  // float32 ulps (the rescaled branch divides by max |x| first).
  const huge = scaled(test, 1e30);
  const { normalized, squaredNorms } = await l2NormalizeRows(huge);
  const plain = await l2NormalizeRows(test);
  for (let i = 0; i < test.rows; i++) assert.ok(Math.abs(squaredNorms[i] - 1) < 1e-6);
  assertAllClose(normalized.data, plain.normalized.data, 4e-7, "normalised rows");
});

Deno.test("knn: a training row holding NaN is a DataError, not a row that never matches", async () => {
  const train = randomMatrix(3, 50, D);
  train.data[17 * D + 4] = NaN;
  await assert.rejects(
    () => knn(fitKnn(matrixSource(train), 3), randomMatrix(4, 5, D)),
    (e: unknown) => e instanceof DataError && e.message.includes("training row 17"),
  );
});

Deno.test("registry: detectors that read logits refuse NaN / infinite logits", async () => {
  const head = randomHead(5, C, D);
  const x = randomMatrix(6, 4, D);
  const logits: Matrix = { data: new Float32Array(4 * C).fill(1), rows: 4, cols: C };
  logits.data[2 * C + 3] = Infinity;
  for (const key of ["mls", "gen", "scale", "gradnorm"]) {
    const det = detectorByKey(key);
    const model = await det.fit({ head });
    await assert.rejects(
      () => det.score(model, x, logits),
      (e: unknown) =>
        e instanceof DataError && e.message.includes("row 2") &&
        e.message.includes("overflow float32"),
      key,
    );
  }
  // Temperature scaling fits T on the ID validation logits: an infinite one is refused there.
  const labels = Int32Array.from({ length: 4 }, (_, i) => i % C);
  await assert.rejects(
    () => detectorByKey("temperature").fit({ head, idVal: { features: x, labels, logits } }),
    (e: unknown) => e instanceof DataError && e.message.includes("ID validation rows"),
  );
});

Deno.test("fits on training rows whose logits overflow float32 stop with the row", async () => {
  const head = randomHead(7, C, D);
  const train = randomMatrix(8, 60, D, { relu: true });
  // Row 23 is 3.4e38 on every dimension: its logits are +-Infinity in float32.
  train.data.fill(3.4e38, 23 * D, 24 * D);
  const labels = Int32Array.from({ length: 60 }, (_, i) => i % C);
  await assert.rejects(
    () => fitShe(matrixSource(train), labels, head, "inner_product", { chunkRows: 16 }),
    (e: unknown) => e instanceof DataError && e.message.includes("row 23"),
  );
  // NNGuide's bank: every row drawn (alpha 1), so row 23's infinite energy is in it.
  await assert.rejects(
    () => fitNnGuide(matrixSource(train), head, { k: 3, alpha: 1, seed: 0 }),
    (e: unknown) => e instanceof DataError && e.message.includes("energy of bank row 23"),
  );
});
