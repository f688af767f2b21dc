import assert from "node:assert/strict";
import { DataError, UsageError } from "../errors.ts";
import { groupLayout } from "../groups.ts";
import { matrixSource } from "../ort/linear.ts";
import { createRng } from "../random.ts";
import type { DetectorHead } from "./common.ts";
import { gen } from "./gen.ts";
import { fitKnn, knn } from "./knn.ts";
import {
  checkHeadKind,
  defaultMethods,
  detectorByKey,
  detectorNote,
  DETECTORS,
  methodKeys,
  methodLabel,
  needsOf,
  PAPER_METHODS,
  REGISTRY,
  resolveHyperparameters,
  runDetector,
} from "./registry.ts";
import { naiveLogits, randomHead, randomMatrix, row } from "./test_util.ts";

const D = 16;
const C = 6;
const flat = randomHead(81, C, D, 1);
const layout = groupLayout([[0, 2, 4], [1, 3], [5]], C);
const group: DetectorHead = { ...randomHead(82, C + 3, D, 1), kind: "group", layout };

function ctxFor(head: DetectorHead) {
  const train = randomMatrix(83, 240, D, { relu: true, scale: 2 });
  const labels = Int32Array.from({ length: 240 }, (_, i) => i % C);
  for (let i = 0; i < 240; i++) train.data[i * D + labels[i]] += 3;
  const idVal = randomMatrix(84, 60, D, { relu: true, scale: 2 });
  const valLabels = Int32Array.from({ length: 60 }, (_, i) => i % C);
  const rng = createRng(85);
  return {
    head,
    train: { features: matrixSource(train), labels },
    idVal: { features: idVal, labels: valLabels, logits: naiveLogits(idVal, head) },
    chunk: { chunkRows: 50 },
    seed: rng.int(1000),
    hyperparameters: {},
  };
}

Deno.test("registry: every detector fits and scores a small synthetic set (finite scores)", async () => {
  const x = randomMatrix(86, 20, D, { relu: true, scale: 2 });
  for (const det of DETECTORS) {
    const head = det.needs.head === "group" ? group : flat;
    const ctx = ctxFor(head);
    const hp: Record<string, number | boolean | string> = {};
    // Small-set values where the OpenOOD default cannot apply (dim < D, K <= bank, k <= N).
    if (det.key === "vim" || det.key === "residual") hp.dim = 4;
    if (det.key === "nnguide") Object.assign(hp, { k: 2, alpha: 0.05 });
    const s = await runDetector(det, { ...ctx, hyperparameters: hp }, x, naiveLogits(x, head));
    assert.equal(s.length, x.rows, det.key);
    assert.ok(s.every(Number.isFinite), `${det.key} gave non-finite scores`);
    for (const [name, spec] of Object.entries(det.hyperparameters)) {
      assert.ok(spec.grid.includes(spec.default), `${det.key}.${name}: default outside its grid`);
    }
  }
  assert.equal(new Set(DETECTORS.map((d) => d.key)).size, DETECTORS.length);
});

Deno.test("registry entries give the same scores as the direct functions", async () => {
  const x = randomMatrix(87, 15, D, { relu: true });
  const z = naiveLogits(x, flat);
  const ctx = ctxFor(flat);
  const g = detectorByKey("gen");
  const got = await g.score(await g.fit({ ...ctx, hyperparameters: { gamma: 0.5 } }), x, z);
  assert.deepEqual(got, gen(z, { gamma: 0.5, m: 100 }));
  const k = detectorByKey("knn");
  const kn = await k.score(await k.fit({ ...ctx, hyperparameters: { k: 3 } }), x, z);
  assert.deepEqual(kn, await knn(fitKnn(ctx.train.features, 3), x, ctx.chunk));
  assert.equal(row(z, 0).length, C);
});

Deno.test("registry: bad keys, hyperparameters, missing inputs and head kinds are clear errors", async () => {
  assert.throws(() => detectorByKey("nope"), UsageError);
  assert.throws(() => resolveHyperparameters(detectorByKey("knn"), { K: 5 }), UsageError);
  assert.throws(() => resolveHyperparameters(detectorByKey("knn"), { k: "5" }), UsageError);
  assert.deepEqual(resolveHyperparameters(detectorByKey("gen"), { m: 7 }), { gamma: 0.1, m: 7 });
  await assert.rejects(() => detectorByKey("react").fit({ head: flat }), DataError);
  await assert.rejects(() => detectorByKey("mos-react").fit(ctxFor(flat)), DataError);
  await assert.rejects(() => detectorByKey("mls").fit({ head: group }), DataError);
});

Deno.test("registry: one list for every method, paper six first in the paper's order", () => {
  assert.deepEqual(PAPER_METHODS, ["msp", "odin", "mahalanobis", "energy", "kl", "mos"]);
  assert.deepEqual(
    REGISTRY.slice(0, 7).map((d) => d.key),
    ["msp", "odin", "mahalanobis", "mahalanobis-multilayer", "energy", "kl", "mos"],
  );
  assert.equal(new Set(REGISTRY.map((d) => d.key)).size, REGISTRY.length);
  for (const k of ["openmax", "relation", "mls", "mos-react"]) assert.ok(methodKeys().includes(k));
  assert.equal(methodLabel("kl"), "KL Matching");
  assert.equal(methodLabel("not-a-method"), "not-a-method");
  for (const det of REGISTRY) {
    for (const [name, spec] of Object.entries(det.hyperparameters)) {
      assert.ok(spec.grid.includes(spec.default), `${det.key}.${name}: default outside its grid`);
    }
  }
  assert.deepEqual(defaultMethods("flat", true), ["msp", "odin", "mahalanobis", "energy", "kl"]);
  assert.deepEqual(defaultMethods("flat", false), ["msp", "odin", "energy", "kl"]);
  assert.deepEqual(defaultMethods("group", true), ["mos"]);
});

Deno.test("registry: notes are written once, in their entries", () => {
  const odin = detectorByKey("odin");
  assert.equal(
    detectorNote(odin, "paper", { temperature: 100 }),
    "odin: temperature 100, no input perturbation (eps = 0, as the released code ran it; " +
      "perturbation needs backbone gradients)",
  );
  const kl = detectorByKey("kl");
  assert.match(detectorNote(kl)!, /paper variant/);
  assert.match(detectorNote(kl, "paper", { variant: "clean" })!, /clean variant/);
  assert.match(detectorNote(kl, "heldout")!, /ID-val/);
  assert.deepEqual(needsOf(kl, { variant: "clean" }).train, true);
  assert.equal(needsOf(kl).train, undefined);
  assert.match(detectorNote(detectorByKey("residual"))!, /ID-val under the held-out protocol/);
  assert.match(
    detectorNote(detectorByKey("mahalanobis-multilayer"), "heldout")!,
    /fitted on ID-val/,
  );
  assert.equal(detectorNote(detectorByKey("msp")), undefined);
});

Deno.test("registry: one head-kind check and message for every method", async () => {
  assert.throws(
    () => checkHeadKind("msp", "flat", "group", "/heads/g"),
    (e: Error) =>
      e instanceof DataError &&
      e.message ===
        'Method "msp" needs a flat head but /heads/g is a group head; score it with a flat ' +
          'softmax head (trained with groups "flat") or drop "msp" from the methods.',
  );
  checkHeadKind("knn", "any", "group");
  for (const key of ["msp", "kl", "mahalanobis", "openmax"]) {
    await assert.rejects(() => detectorByKey(key).fit(ctxFor(group)), /needs a flat head/);
  }
  await assert.rejects(() => detectorByKey("mos").fit(ctxFor(flat)), /needs a group head/);
});
