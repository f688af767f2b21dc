/**
 * `--label-space` through the tasks: `taxonomy` prints the 21k levels and writes a level's groups,
 * `train-head --groups taxonomy --label-space imagenet21k` trains a 21,843 + 8 output group head
 * with the ancestry super-classes, and a label space that does not fit the features is refused.
 */
import assert from "node:assert/strict";
import { runTask, withTempDir } from "./cli_helpers.ts";
import { labelSpaceLevel, loadLabelSpace } from "../lib/grouping/label_space.ts";
import { readHead } from "../lib/io/head.ts";
import { writeFeatureSet } from "../lib/io/feature_set.ts";
import { matrix } from "../lib/matrix.ts";
import { createRng } from "../lib/random.ts";

const C = 21843;

Deno.test("taxonomy task: 21k level sizes printed, a level written as a groups file", async () => {
  await withTempDir(async (tmp) => {
    const out = `${tmp}/level2.json`;
    const r = await runTask("taxonomy.ts", [
      "--label-space",
      "imagenet21k",
      "--level",
      "2",
      "--out",
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /label space imagenet21k: 21843 classes/);
    assert.match(
      r.stdout,
      /level 0 super-classes: animal 3821, artifact 7881, geological formation 149, fungus 299, misc 2722, natural object 359, person 2836, plant 3776/,
    );
    assert.match(r.stdout, /level 1: 461 groups/);
    assert.match(r.stdout, /level 6: 15841 groups/);
    const written = JSON.parse(await Deno.readTextFile(out));
    const space = await loadLabelSpace("imagenet21k");
    assert.deepEqual(written, labelSpaceLevel(space, 2).groups);

    const bad = await runTask("taxonomy.ts", ["--label-space", `${tmp}/none.tsv`]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^error: Cannot read the class list .*none\.tsv/);
  });
});

Deno.test("train-head --groups taxonomy --label-space imagenet21k: 8 ancestry groups over 21,843 classes", async () => {
  await withTempDir(async (tmp) => {
    const rng = createRng(4);
    const D = 4;
    const features = matrix(C, D, new Float32Array(C * D).map(() => rng.normal()));
    const labels = Int32Array.from({ length: C }, (_, i) => i);
    await writeFeatureSet(`${tmp}/train`, {
      meta: { dataset: "toy21k", backbone: "none", num_classes: C },
      features,
      labels,
    });
    const args = ["--features", `${tmp}/train`, "--steps", "2", "--batch", "64"];
    const r = await runTask("train_head.ts", [
      ...args,
      "--groups",
      "taxonomy",
      "--label-space",
      "imagenet21k",
      "--out",
      `${tmp}/head`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const head = await readHead(`${tmp}/head`);
    assert.equal(head.info.kind, "group");
    assert.equal(head.weight.rows, C + 8);
    const space = await loadLabelSpace("imagenet21k");
    assert.deepEqual(head.info.groups, labelSpaceLevel(space, 0).groups);

    // The paper's 1k taxonomy does not fit 21,843 classes.
    const wrong = await runTask("train_head.ts", [
      ...args,
      "--groups",
      "taxonomy",
      "--out",
      `${tmp}/head1k`,
    ]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /needs 1000 classes, but the features have 21843/);
  });
});
