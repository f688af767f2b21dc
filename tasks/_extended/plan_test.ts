import assert from "node:assert/strict";
import { detectorByKey } from "../../lib/detectors/registry.ts";
import { adaptedHyperparameters, candidatesFor, headKindOf } from "./plan.ts";

Deno.test("candidatesFor: defaults under the paper protocol, the grid (first key fastest) held out", () => {
  const hyper = {
    a: { default: 2, grid: [1, 2] },
    b: { default: "x", grid: ["x", "y"] },
  };
  assert.deepEqual(candidatesFor(hyper, "paper"), [{ a: 2, b: "x" }]);
  assert.deepEqual(candidatesFor(hyper, "heldout"), [
    { a: 1, b: "x" },
    { a: 2, b: "x" },
    { a: 1, b: "y" },
    { a: 2, b: "y" },
  ]);
  assert.deepEqual(candidatesFor({}, "paper"), [{}]);
  assert.deepEqual(candidatesFor({}, "heldout"), [{}]);
});

Deno.test("adaptedHyperparameters: dim scaled by D / 2048 below 2048-d, config defaults applied", () => {
  const det = {
    label: "ViM",
    hyperparameters: { dim: { default: 256, grid: [256, 1000] }, t: { default: 1, grid: [1, 2] } },
  };
  // 256 * 64 / 2048 = 8; 1000 * 64 / 2048 = 31.25 -> 31.
  const small = adaptedHyperparameters(det, 64, { t: 2 });
  assert.deepEqual(small.hyper.dim, { default: 8, grid: [8, 31] });
  assert.deepEqual(small.hyper.t, { default: 2, grid: [1, 2] });
  assert.equal(
    small.note,
    "ViM: principal dimension scaled by D / 2048 for 64-d features (default 8, grid 8, 31).",
  );
  // Never the whole space: at D = 4, 1000 * 4 / 2048 rounds to 2, 256 to 1 (at least 1, at most D - 1).
  assert.deepEqual(adaptedHyperparameters(det, 4).hyper.dim, { default: 1, grid: [1, 2] });
  const full = adaptedHyperparameters(det, 2048);
  assert.deepEqual(full.hyper, det.hyperparameters);
  assert.equal(full.note, undefined);
  // A default for a parameter the entry lacks is ignored.
  assert.deepEqual(adaptedHyperparameters(det, 2048, { nope: 3 }).hyper, det.hyperparameters);
});

Deno.test("headKindOf: a group head only for entries that need one", () => {
  assert.equal(headKindOf(detectorByKey("mos")), "group");
  assert.equal(headKindOf(detectorByKey("msp")), "flat");
  assert.equal(headKindOf(detectorByKey("knn")), "flat", "any head: the flat one");
});
