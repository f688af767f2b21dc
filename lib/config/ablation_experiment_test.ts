/** The four shipped ablation configs parse to the paper's settings; bad configs are one-line errors. */
import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import { parseAblationExperiment } from "./ablation_experiment.ts";

const read = (name: string) =>
  Deno.readTextFile(new URL(`../../experiments/${name}.yaml`, import.meta.url));

const MINIMAL = `
data_root: d
sets: { train: t, id: v, ood: { sun: sun } }
out: o
`;

function rejects(text: string, kind: Parameters<typeof parseAblationExperiment>[2], re: RegExp) {
  assert.throws(() => parseAblationExperiment(text, "x.yaml", kind), (e: unknown) => {
    assert.ok(e instanceof DataError, `expected DataError, got ${e}`);
    assert.match(e.message, re);
    assert.ok(e.message.startsWith("x.yaml"), "names the file");
    assert.ok(!e.message.includes("\n"), "one line");
    return true;
  });
}

Deno.test("experiments/groups_ablation.yaml: 10 levels x 3 strategies, paper comparison on", async () => {
  const c = parseAblationExperiment(await read("groups_ablation"), "g", "groups_ablation");
  assert.deepEqual(c.levels, [-3, -2, -1, 0, 1, 2, 3, 4, 5, 6]);
  assert.deepEqual(c.strategies, ["taxonomy", "clustering", "random"]);
  assert.equal(c.comparePaper, true);
  assert.deepEqual(c.sets.ood.map((o) => o.name), ["inaturalist", "sun", "places", "textures"]);
  assert.equal(c.demo.dim, 256);
  assert.equal(c.demo.out, "results/groups_ablation_demo");
});

Deno.test("experiments/num_classes.yaml: the paper's C values, 700 per class, 35,000 in all", async () => {
  const c = parseAblationExperiment(await read("num_classes"), "n", "num_classes");
  assert.deepEqual(c.classes, [50, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
  assert.equal(c.perClass, 700);
  assert.equal(c.totalImages, 35000);
  assert.deepEqual(c.settings, ["per_class", "fixed_total"]);
  // The demo keeps the paper's ratio: both settings meet at C = 50.
  assert.equal(c.demo.totalImages / 50, c.demo.perClass);
});

Deno.test("experiments/grouping.yaml and backbones.yaml", async () => {
  const g = parseAblationExperiment(await read("grouping"), "g", "grouping");
  assert.equal(g.k, 8);
  const b = parseAblationExperiment(await read("backbones"), "b", "backbones");
  assert.deepEqual(b.backbones.map((x) => x.name), [
    "BiT-S-R50x1",
    "BiT-S-R101x1",
    "BiT-S-R50x3",
    "BiT-S-R152x2",
    "BiT-S-R101x3",
  ]);
  assert.ok(b.demo.dims.length >= 2);
});

Deno.test("defaults of a minimal config", () => {
  const c = parseAblationExperiment(MINIMAL, "m", "grouping");
  assert.equal(c.k, 8);
  assert.equal(c.train.seed, 0);
  assert.equal(c.fprConvention, "paper");
  assert.equal(c.demo.out, "o-demo");
});

Deno.test("unknown keys at every level are errors naming the key path", () => {
  rejects(MINIMAL + "extra: 1\n", "grouping", /unknown key "extra"/);
  rejects(MINIMAL + "grouping: { kk: 8 }\n", "grouping", /unknown key "grouping\.kk"/);
  rejects(MINIMAL + "train: { stpes: 5 }\n", "grouping", /unknown key "train\.stpes"/);
  rejects(MINIMAL + "demo: { dims: [1] }\n", "grouping", /unknown key "demo\.dims"/);
  // A section of another ablation is unknown here.
  rejects(MINIMAL + "num_classes: {}\n", "groups_ablation", /unknown key "num_classes"/);
});

Deno.test("bad values: levels outside -3..6, K < 2, duplicates, strategies, YAML syntax", () => {
  rejects(MINIMAL + "groups_ablation: { levels: [0, 7] }\n", "groups_ablation", /from -3 to 6/);
  rejects(MINIMAL + "grouping: { k: 1 }\n", "grouping", /"grouping\.k" must be an integer >= 2/);
  rejects(MINIMAL + "num_classes: { classes: [50, 50] }\n", "num_classes", /lists 50 twice/);
  rejects(MINIMAL + "grouping: { strategies: [kmeans] }\n", "grouping", /choose from taxonomy/);
  rejects("a: [", "grouping", /not valid YAML/);
  rejects(
    "out: o\nbackbones: []\nsets: { train: t, id: v, ood: { a: a } }\n",
    "backbones",
    /non-empty list/,
  );
});
