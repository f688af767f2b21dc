import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import { matrix } from "../matrix.ts";
import { matrixSource } from "../ort/linear.ts";
import { assertClose } from "../../tests/assert_close.ts";
import type { DetectorHead } from "./common.ts";
import { detectorByKey, DETECTORS, fitDataOf } from "./registry.ts";

// W = [[1, 0]], b = [-1]: the origin is u = -pinv(W) b = (1, 0).
const head: DetectorHead = {
  weight: matrix(1, 2, new Float32Array([1, 0])),
  bias: new Float32Array([-1]),
  kind: "flat",
};
// Training rows centred on u: (+-2, +-0.5), second moment diag(4, 0.25): the principal axis is
// e1, so with dim = 1 the residual is the e2 component, |x_2|.
const train = matrix(4, 2, new Float32Array([3, 0.5, -1, -0.5, 3, -0.5, -1, 0.5]));
// ID-val rows centred on u: (+-0.5, +-2), second moment diag(0.25, 4): the principal axis is
// e2, so the residual is the e1 component, |x_1 - 1|.
const idVal = matrix(4, 2, new Float32Array([1.5, 2, 0.5, -2, 1.5, -2, 0.5, 2]));
const x = matrix(2, 2, new Float32Array([5, 2, 1, -3]));

function ctx(protocol?: "paper" | "heldout") {
  return {
    head,
    protocol,
    hyperparameters: { dim: 1 },
    train: { features: matrixSource(train), labels: new Int32Array(4) },
    idVal: { features: idVal, labels: new Int32Array(4), logits: matrix(4, 1) },
  };
}

Deno.test("residual fits on ID-val under the held-out protocol, on train under the paper's", async () => {
  const det = detectorByKey("residual");
  const tol = { atol: 1e-6, reason: "float32 kernels on small integers" };
  // Held out (OpenOOD: residual_postprocessor.py reads id_loader_dict['val']): -|x_1 - 1|.
  const heldout = await det.score(await det.fit(ctx("heldout")), x, matrix(2, 1));
  assertClose(heldout, [-4, 0], tol);
  // Paper protocol, given or by default: the training set, -|x_2|.
  for (const protocol of ["paper", undefined] as const) {
    const paper = await det.score(await det.fit(ctx(protocol)), x, matrix(2, 1));
    assertClose(paper, [-2, -3], tol);
  }
  // Held out without an ID-val split is a DataError naming the detector.
  await assert.rejects(
    () => det.fit({ ...ctx("heldout"), idVal: undefined }),
    (e: unknown) => e instanceof DataError && e.message.includes('"residual"'),
  );
  assert.match(det.note ?? "", /ID-val under the held-out protocol/);
});

Deno.test("fitDataOf: Residual by protocol, the others from their needs", () => {
  const residual = detectorByKey("residual");
  assert.equal(fitDataOf(residual, "heldout"), "idVal");
  assert.equal(fitDataOf(residual, "paper"), "train");
  for (const det of DETECTORS) {
    if (det.key === "residual") continue;
    // Only Residual's fit data depends on the protocol.
    assert.equal(fitDataOf(det, "paper"), fitDataOf(det, "heldout"), det.key);
  }
  assert.equal(fitDataOf(detectorByKey("vim"), "heldout"), "train");
  assert.equal(fitDataOf(detectorByKey("react"), "paper"), "idVal");
  assert.equal(fitDataOf(detectorByKey("mls"), "heldout"), null);
});
