import assert from "node:assert/strict";
import type { FeatureSet } from "../io/feature_set.ts";
import type { Head } from "../io/head.ts";
import { matrix } from "../matrix.ts";
import { createRng } from "../random.ts";
import { logitsMb, methodsFromFeatures, scoreSets } from "./score_sets.ts";

const D = 6;

function set(name: string, seed: number, n: number, shift: number) {
  const rng = createRng(seed);
  const x = matrix(n, D);
  for (let i = 0; i < x.data.length; i++) x.data[i] = rng.normal() + shift;
  const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
  const meta = { dataset: name, backbone: "t", dim: D, count: n, dtype: "float32", complete: true };
  return { name, set: { dir: `/virtual/${name}`, meta, features: x, labels } as FeatureSet };
}

function head(kind: "flat" | "group", seed: number): Head {
  const groups = kind === "group" ? [[0, 1], [2]] : [];
  const O = kind === "group" ? 5 : 3;
  const rng = createRng(seed);
  return {
    info: { kind, num_classes: 3, groups },
    weight: matrix(O, D, Float32Array.from({ length: O * D }, () => rng.normal())),
    bias: Float32Array.from({ length: O }, () => 0.1 * rng.normal()),
  };
}

const id = set("id", 1, 60, 0);
const ood = [set("far", 2, 45, 1.5), set("near", 3, 30, 0.3)];
// 135 rows x 3 outputs of float32: 0.0015 MiB of logits.
const TINY = 0.001;

Deno.test("scoreSets past maxLogitsMb: msp / odin / energy from features, same scores; kl still on logits", async () => {
  const inputs = {
    head: head("flat", 4),
    id,
    ood,
    methods: ["msp", "odin", "energy", "kl"],
    threads: 1,
  };
  const held = await scoreSets(inputs);
  const steps: string[] = [];
  const streamed = await scoreSets({ ...inputs, maxLogitsMb: TINY }, (s) => steps.push(s));
  assert.deepEqual(held.streamed, []);
  assert.deepEqual(streamed.streamed, ["msp", "odin", "energy"]);
  // Only KL reads the logits now, and its step comes after them.
  assert.ok(steps.includes("logits of 3 sets"));
  assert.ok(steps.includes("msp (from features: the logits would take 0 MiB)"), steps.join("; "));
  for (const m of inputs.methods) {
    for (const s of ["id", "far", "near"]) {
      assert.deepEqual(streamed.scores.get(m)!.get(s), held.scores.get(m)!.get(s), `${m} ${s}`);
    }
  }
  assert.deepEqual(streamed.metrics, held.metrics);
});

Deno.test("scoreSets past maxLogitsMb: MOS from features with no logits computed at all", async () => {
  const inputs = { head: head("group", 5), id, ood, methods: ["mos"], threads: 1 };
  const held = await scoreSets(inputs);
  const steps: string[] = [];
  const streamed = await scoreSets({ ...inputs, maxLogitsMb: TINY }, (s) => steps.push(s));
  assert.deepEqual(streamed.streamed, ["mos"]);
  assert.ok(!steps.some((s) => s.startsWith("logits of")), steps.join("; "));
  for (const s of ["id", "far", "near"]) {
    assert.deepEqual(streamed.scores.get("mos")!.get(s), held.scores.get("mos")!.get(s));
  }
});

Deno.test("methodsFromFeatures: only past the bound, only methods with a streamed path", () => {
  // 100,000 rows on BiT-M's 21,843-way head: 8,332 MiB of logits.
  assert.equal(Math.round(logitsMb(100_000, 21_843)), 8332);
  const methods = ["msp", "kl", "mahalanobis", "energy", "mos"];
  assert.deepEqual(methodsFromFeatures(methods, 100_000, 21_843), ["msp", "energy", "mos"]);
  assert.deepEqual(methodsFromFeatures(methods, 100_000, 21_843, 8333), []);
  assert.deepEqual(methodsFromFeatures(methods, 85_640, 1000), []);
  assert.throws(() => methodsFromFeatures(methods, 10, 10, 0), RangeError);
});
