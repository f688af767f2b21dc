/** Backbone selection and the Figure 7 table of the backbones ablation. */
import assert from "node:assert/strict";
import type { BackbonesConfig } from "../../lib/config/ablation_experiment.ts";
import { UsageError } from "../../lib/errors.ts";
import { demoBackbones, fig7Views, realBackbones, slug } from "./fig7.ts";
import { fakeHead } from "./test_heads.ts";

Deno.test("slug and demoBackbones: directory names and checked dimensions", () => {
  assert.equal(slug("BiT-S R101x3 (ours)"), "BiT-S-R101x3-ours");
  assert.equal(slug("***"), "backbone");
  assert.deepEqual(demoBackbones([8, 16]), [
    { name: "D=8", dir: "d8", dim: 8 },
    { name: "D=16", dir: "d16", dim: 16 },
  ]);
  assert.throws(() => demoBackbones([8, 1]), (e: unknown) => {
    assert.ok(e instanceof UsageError);
    assert.equal(e.message, "--dims: 1 must be from 2 to 65536");
    return true;
  });
});

Deno.test("realBackbones: an empty or unknown --backbones names the config's backbones", async () => {
  // Names are checked in the order given, each before its sets are read.
  const cfg = {
    backbones: [{ name: "r50", dataRoot: "/nowhere/r50" }, { name: "r101", dataRoot: "/x" }],
  } as Pick<BackbonesConfig, "backbones"> as BackbonesConfig;
  await assert.rejects(realBackbones(cfg, " , ", "b.yaml"), (e: unknown) => {
    assert.ok(e instanceof UsageError);
    assert.equal(e.message, "--backbones is empty; give names from b.yaml: r50, r101");
    return true;
  });
  await assert.rejects(realBackbones(cfg, "r152,r50", "b.yaml"), (e: unknown) => {
    assert.ok(e instanceof UsageError);
    assert.equal(e.message, '--backbones: "r152" is not in b.yaml; choose from r50, r101');
    return true;
  });
});

Deno.test("fig7Views: flat and group rows per backbone, accuracy in percent", () => {
  const far = { auroc: 90, fpr95: 30 };
  const near = { auroc: 70, fpr95: 60 };
  const results = [
    { name: "D=8", flat: fakeHead("a", 0.5, { far, near }), mos: fakeHead("b", 0.6, { far }, 8) },
  ].map((r) => ({ ...r, datasets: ["far", "near"] }));
  const { table, points } = fig7Views(results, false);
  assert.equal(table.title, "Figure 7: MSP vs MOS across backbones");
  // Key cells, AUROC / FPR95 per set, then the averages over both sets.
  assert.deepEqual(table.rows[0], ["D=8", "flat", "MSP", 50, 90, 30, 70, 60, 80, 45]);
  assert.deepEqual(table.rows[1].slice(0, 4), ["D=8", "group", "MOS", 60]);
  assert.equal(points.length, 4 + 2, "two sets for the flat head, one for the group head");
});
