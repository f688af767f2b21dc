/**
 * Every method of the registry through scoreSets on one small case, each fast path against its
 * reference path: the registry's `reference` (plain float64 TypeScript) where the entry has one,
 * else the entry's own score fed float64 logits (its score is plain TypeScript already).
 */
import assert from "node:assert/strict";
import { assertClose, type Tolerance } from "../../tests/assert_close.ts";
import { naiveLogits } from "../detectors/test_util.ts";
import { detectorHead } from "../detectors/common.ts";
import { REGISTRY } from "../detectors/registry.ts";
import type { FeatureSet } from "../io/feature_set.ts";
import type { Head } from "../io/head.ts";
import { type Matrix, matrix } from "../matrix.ts";
import { linearLogits, matrixSource } from "../ort/linear.ts";
import { createRng } from "../random.ts";
import { fitContext, type NamedSet, type ScoreInputs, scoreSets } from "./score_sets.ts";

const C = 4;
const D = 12;
const LAYER_DIMS: Record<string, number> = { root: 3, block1: 4, block2: 5, block3: 6, block4: 8 };

function randomHead(seed: number, kind: "flat" | "group"): Head {
  const rng = createRng(seed);
  const groups = kind === "group" ? [[0, 2], [1, 3]] : [];
  const O = C + groups.length;
  return {
    info: { kind, num_classes: C, groups },
    weight: matrix(O, D, Float32Array.from({ length: O * D }, () => 0.7 * rng.normal())),
    bias: Float32Array.from({ length: O }, () => 0.1 * rng.normal()),
  };
}

/** Seeded ReLU features around one class direction per row, and its pooled "layers". */
function namedSet(name: string, seed: number, n: number, shift: number): NamedSet {
  const rng = createRng(seed);
  const x = matrix(n, D);
  const y = Int32Array.from({ length: n }, (_, i) => i % C);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < D; j++) {
      x.data[i * D + j] = Math.max(0, rng.normal() + (j % C === y[i] ? 2 : 0) + shift);
    }
  }
  const layers: Record<string, Matrix> = {};
  for (const [l, d] of Object.entries(LAYER_DIMS)) {
    // A fixed random ReLU projection per layer (the same for every set).
    const p = createRng(900 + d);
    const w = Float32Array.from({ length: D * d }, () => p.normal());
    const m = matrix(n, d);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < d; k++) {
        let s = 0;
        for (let j = 0; j < D; j++) s += x.data[i * D + j] * w[j * d + k];
        m.data[i * d + k] = Math.max(0, s / Math.sqrt(D)) + 0.01 * rng.normal();
      }
    }
    layers[l] = m;
  }
  const meta = { dataset: name, backbone: "t", dim: D, count: n, dtype: "float32", complete: true };
  return {
    name,
    set: { dir: `/virtual/${name}`, meta, features: x, labels: y } as FeatureSet,
    layers,
  };
}

/** Small-case values where an OpenOOD default cannot apply (dim < D, k <= the bank). */
const SMALL: Record<string, Record<string, number>> = {
  vim: { dim: 4 },
  residual: { dim: 4 },
  nnguide: { k: 2, alpha: 0.05 },
  knn: { k: 5 },
};

/** Tolerances of each fast path against its reference (float32 kernels vs float64). */
function toleranceOf(key: string): Tolerance {
  if (key === "mahalanobis" || key === "mahalanobis-multilayer") {
    return { atol: 1e-3, rtol: 1e-4, reason: "float32 quadratic forms of the fitted precision" };
  }
  return { atol: 2e-4, rtol: 1e-4, reason: "float32 logits and kernels vs float64" };
}

Deno.test("scoreSets: every registry method, fast path vs reference path on one case", async () => {
  const sets = {
    id: namedSet("id", 11, 40, 0),
    far: namedSet("far", 12, 30, 0.8),
    idVal: namedSet("id-val", 13, 30, 0),
    oodVal: namedSet("ood-val", 14, 25, 0.8),
    train: namedSet("train", 15, 160, 0),
  };
  const heads = { flat: randomHead(21, "flat"), group: randomHead(22, "group") };
  const withReference: string[] = [];
  for (const det of REGISTRY) {
    const head = det.needs.head === "group" ? heads.group : heads.flat;
    const inputs: ScoreInputs = {
      head,
      id: sets.id,
      ood: [sets.far],
      methods: [det.key],
      train: {
        dir: "/virtual/train",
        source: matrixSource(sets.train.set.features),
        labels: sets.train.set.labels,
        layers: sets.train.layers,
      },
      idVal: sets.idVal,
      oodVal: sets.oodVal,
      hyperparameters: SMALL[det.key] ? { [det.key]: SMALL[det.key] } : undefined,
      threads: 1,
    };
    const result = await scoreSets(inputs);
    assert.deepEqual([...result.scores.keys()], [det.key]);
    assert.equal(result.metrics.length, 1, det.key);
    // The same fit as scoreSets's, then the reference path on float64 logits.
    const logits = new Map<string, Matrix>();
    for (const s of [sets.id, sets.far, sets.idVal, sets.oodVal]) {
      logits.set(s.name, await linearLogits(s.set.features, head.weight, head.bias));
    }
    const model = await det.fit(fitContext(inputs, logits, SMALL[det.key] ?? {}));
    const dHead = detectorHead(head);
    for (const s of [sets.id, sets.far]) {
      const fast = result.scores.get(det.key)!.get(s.name)!;
      const z = naiveLogits(s.set.features, dHead);
      const ref = det.reference
        ? await det.reference(model, s.set.features, z, s.layers)
        : await det.score(model, s.set.features, z, s.layers);
      assert.equal(fast.length, s.set.features.rows, det.key);
      assert.ok(fast.every(Number.isFinite), `${det.key} on ${s.name}: non-finite score`);
      assertClose(fast, ref, { ...toleranceOf(det.key), reason: `${det.key} on ${s.name}` });
    }
    if (det.reference) withReference.push(det.key);
  }
  // Every method whose fast path runs in onnxruntime has a separate float64 path; the others
  // (logit arithmetic in TypeScript: MaxLogit, GEN, SCALE, ...) are their own reference.
  const plainTs = [
    "mls",
    "temperature",
    "gen",
    "scale",
    "she",
    "fdbd",
    "gradnorm",
    "openmax",
    "mos-temperature",
  ];
  assert.deepEqual(
    REGISTRY.map((d) => d.key).filter((k) => !withReference.includes(k)),
    plainTs,
  );
});

Deno.test("scoreSets: blockMb streams KL templates and Mahalanobis means, same scores", async () => {
  const sets = { id: namedSet("id", 31, 40, 0), far: namedSet("far", 32, 30, 0.8) };
  const train = namedSet("train", 33, 160, 0);
  const head = randomHead(34, "flat");
  const inputs = (blockMb?: number): ScoreInputs => ({
    head,
    id: sets.id,
    ood: [sets.far],
    methods: ["kl", "mahalanobis"],
    klVariant: "clean",
    train: {
      dir: "/virtual/train",
      source: matrixSource(train.set.features),
      labels: train.set.labels,
    },
    threads: 1,
    blockMb,
  });
  // 16 bytes: both kernels fall to one template row / one class mean per block.
  const tiny = 16 / 2 ** 20;
  const whole = await scoreSets(inputs());
  const blocked = await scoreSets(inputs(tiny));
  for (const key of ["kl", "mahalanobis"]) {
    for (const name of ["id", "far"]) {
      const a = whole.scores.get(key)!.get(name)!;
      const b = blocked.scores.get(key)!.get(name)!;
      assertClose(b, a, { atol: 1e-4, rtol: 1e-5, reason: `${key} ${name}: blocks vs one graph` });
    }
  }
  assert.deepEqual(blocked.metrics.map((m) => m.method), whole.metrics.map((m) => m.method));
  // The bound reaches both kernels: a bad one is refused by each.
  for (const method of ["kl", "mahalanobis"]) {
    await assert.rejects(
      scoreSets({ ...inputs(-1), methods: [method] }),
      /blockMb must be a positive number of MiB, got -1/,
      method,
    );
  }
});
