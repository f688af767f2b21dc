import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import { validateGroups } from "../groups.ts";
import { parseHierarchy } from "./hierarchy.ts";
import {
  imagenetSuperClassNodes,
  type LabelSpace,
  labelSpaceLevel,
  levelWithGroups,
  loadLabelSpace,
  parseClassList,
} from "./label_space.ts";
import { assignSuperClasses } from "./super_classes.ts";

/** Group index of every class at one level (-1 for a class in no group). */
function groupOf(groups: number[][], C: number): Int32Array {
  const out = new Int32Array(C).fill(-1);
  groups.forEach((g, k) => g.forEach((c) => (out[c] = k)));
  return out;
}

let cached21k: Promise<LabelSpace> | undefined;
const space21k = () => (cached21k ??= loadLabelSpace("imagenet21k"));

Deno.test("the super-class synsets derived from the 1k lists are the named WordNet synsets", async () => {
  const nodes = await imagenetSuperClassNodes();
  assert.deepEqual(nodes.names, [
    "animal",
    "artifact",
    "geological formation",
    "fungus",
    "misc",
    "natural object",
    "person",
    "plant",
  ]);
  // animal, artifact, geological formation, fungus, misc (Figure 10: abstraction, matter,
  // location), natural object, person, plant (plant, flora; not the "plant" = factory synset).
  assert.deepEqual(nodes.wnids, [
    ["n00015388"],
    ["n00021939"],
    ["n09287968"],
    ["n12992868"],
    ["n00002137", "n00020827", "n00027167"],
    ["n00019128"],
    ["n00007846"],
    ["n00017222"],
  ]);
});

Deno.test("imagenet21k level 0: every class in one super-class; the 1k classes keep theirs but two", async () => {
  const s21 = await space21k();
  const s1 = await loadLabelSpace("imagenet1k");
  assert.equal(s21.classes.length, 21843);
  const level0 = labelSpaceLevel(s21, 0);
  validateGroups(level0.groups, 21843, "21k level 0");
  const sizes = Object.fromEntries(level0.names.map((n, k) => [n, level0.groups[k].length]));
  assert.deepEqual(sizes, {
    "animal": 3821,
    "artifact": 7881,
    "geological formation": 149,
    "fungus": 299,
    "misc": 2722,
    "natural object": 359,
    "person": 2836,
    "plant": 3776,
  });
  const at21k = groupOf(level0.groups, 21843);
  const index21k = new Map(s21.classes.map((w, i) => [w, i]));
  const missing: string[] = [];
  const differ: string[] = [];
  s1.level0Groups.forEach((g, k) =>
    g.forEach((c) => {
      const i = index21k.get(s1.classes[c]);
      if (i === undefined) missing.push(`${s1.classes[c]} ${s1.classNames[c]}`);
      else if (level0.names[at21k[i]] !== s1.level0Names[k]) {
        differ.push(`${s1.classNames[c]}: ${s1.level0Names[k]} -> ${level0.names[at21k[i]]}`);
      }
    })
  );
  // teddy (n04399382) is not an ImageNet-21k synset. Granny Smith is 7 links below matter (via
  // edible fruit, produce, food) and 8 below natural object (via pome, fruit), like strawberry, orange
  // and lemon, which the released lists put in misc; the released lists disagree with themselves.
  assert.deepEqual(missing, ["n04399382 teddy"]);
  assert.deepEqual(differ, ["Granny Smith: natural object -> misc"]);
});

Deno.test("imagenet21k levels -3..6 partition the 21,843 classes and each refines the one above", async () => {
  const s = await space21k();
  const counts: Record<number, number> = {};
  let parent: Int32Array = new Int32Array(21843);
  for (const level of [0, 1, 2, 3, 4, 5, 6]) {
    const { groups, names } = labelSpaceLevel(s, level);
    validateGroups(groups, 21843, `21k level ${level}`);
    assert.equal(names.length, groups.length);
    for (const g of groups) {
      assert.equal(new Set(g.map((c) => parent[c])).size, 1, `level ${level} splits a group`);
    }
    parent = groupOf(groups, 21843);
    counts[level] = groups.length;
  }
  assert.deepEqual(counts, { 0: 8, 1: 461, 2: 1668, 3: 4330, 4: 8211, 5: 12211, 6: 15841 });
  for (const level of [-3, -2, -1]) {
    const { groups } = labelSpaceLevel(s, level);
    validateGroups(groups, 21843, `21k level ${level}`);
    assert.equal(groups.length, { [-3]: 2, [-2]: 3, [-1]: 6 }[level]);
  }
  // misc classes below none of Figure 10's nodes (organism, cell, land) hang from a fallback node.
  const l1 = labelSpaceLevel(s, 1);
  const miscClasses = new Set(labelSpaceLevel(s, 0).groups[4]);
  const misc = l1.names.filter((_, k) => miscClasses.has(l1.groups[k][0]));
  assert.deepEqual(
    misc.map((n) => n.replace(/ \(.*/, "")).sort(),
    ["abstraction", "location", "matter", "physical entity"],
  );
});

Deno.test("imagenet1k is the class table's released super-class lists", async () => {
  const s = await loadLabelSpace("imagenet1k");
  assert.equal(s.classes.length, 1000);
  const l0 = labelSpaceLevel(s, 0);
  assert.deepEqual(l0.groups.map((g) => g.length), [398, 521, 9, 7, 52, 8, 3, 2]);
  assert.equal(labelSpaceLevel(s, 1).groups.length, 37);
});

Deno.test("levelWithGroups: the level with K groups; no such level names K as the caller labels it", async () => {
  const s = await loadLabelSpace("imagenet1k");
  assert.equal(levelWithGroups(s, 8, 1000).groups.length, 8);
  assert.throws(
    () => levelWithGroups(s, 5, 1000),
    (e: unknown) =>
      e instanceof Error && /^group count 5: no taxonomy level of imagenet1k has 5 groups/
        .test(e.message) &&
      !/--/.test(e.message),
  );
  assert.throws(
    () => levelWithGroups(s, 5, 1000, { label: "--k", hint: "drop taxonomy" }),
    (e: unknown) => e instanceof Error && /^--k 5: .*; drop taxonomy$/.test(e.message),
  );
});

/**
 * Hand-worked DAG: A is 1 link below animal; B is 2 below animal and 1 below matter (matter wins);
 * T is 1 below both natural object and geological formation (priority: natural object);
 * X is below no synset (misc, the rest).
 */
Deno.test("assignSuperClasses: nearest synset wins, ties by priority, the rest is misc", () => {
  const rows = [
    "e\tentity\t",
    "an\tanimal\te",
    "ma\tmatter\te",
    "no\tnatural object\te",
    "gf\tgeological formation\te",
    "mid\tmiddle\tan",
    "A\tA\tan",
    "B\tB\tmid,ma",
    "T\tT\tno,gf",
    "X\tX\te",
  ];
  const hierarchy = parseHierarchy("wnid\tname\tparents\n" + rows.join("\n"), "toy.tsv");
  const r = assignSuperClasses({
    hierarchy,
    classes: ["A", "B", "T", "X"],
    nodes: {
      names: ["animal", "geological formation", "misc", "natural object", "plant"],
      wnids: [["an"], ["gf"], ["ma"], ["no"], ["pl"]],
    },
  });
  assert.deepEqual(r.names, ["animal", "misc", "natural object"]);
  assert.deepEqual(r.groups, [[0], [1, 3], [2]]);
  assert.deepEqual([...r.superOf], [0, 1, 2, 1]);
});

Deno.test("a class-list FILE.tsv joins the 21k DAG; its new classes need known parents", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/classes.tsv`;
    // goldfish (animal), a class outside WordNet below "dog", broccoli (misc), organism (misc via
    // the fallback node).
    await Deno.writeTextFile(
      file,
      "index\twnid\tname\tparents\n0\tn01443537\tgoldfish\tn01439121\n" +
        "1\tx00000001\tmy dog\tn02084071\n2\tn07714990\tbroccoli\tn07713895\n" +
        "3\tn00004475\torganism\tn00004258\n",
    );
    const s = await loadLabelSpace(file);
    assert.deepEqual(s.classes, ["n01443537", "x00000001", "n07714990", "n00004475"]);
    const l0 = labelSpaceLevel(s, 0);
    assert.deepEqual(l0.names, ["animal", "misc"]);
    assert.deepEqual(l0.groups, [[0, 1], [2, 3]]);
    for (const level of [1, 2, 3, 4, 5, 6]) {
      validateGroups(labelSpaceLevel(s, level).groups, 4, `file level ${level}`);
    }
    // Only two super-classes: the merges of levels -3..-1 need all eight.
    assert.throws(() => labelSpaceLevel(s, -1), DataError);

    await Deno.writeTextFile(file, "index\twnid\tname\tparents\n0\tx1\tnew\tx2\n1\tx3\tb\tx1\n");
    await assert.rejects(
      () => loadLabelSpace(file),
      (e: unknown) => e instanceof DataError && /unknown parent "x2"/.test(e.message),
    );
    await assert.rejects(
      () => loadLabelSpace(`${dir}/none.tsv`),
      (e: unknown) => e instanceof DataError && /none\.tsv/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseClassList names the file and line of a bad header or index", () => {
  assert.throws(
    () => parseClassList("wnid\tname\n", "c.tsv"),
    (e: unknown) => e instanceof DataError && /c\.tsv: header/.test(e.message),
  );
  assert.throws(
    () => parseClassList("index\twnid\tname\tparents\n1\ta\tA\t\n0\tb\tB\t\n", "c.tsv"),
    (e: unknown) =>
      e instanceof DataError && /c\.tsv line 2: index "1" out of order/.test(e.message),
  );
  assert.deepEqual(parseClassList("index\twnid\tname\tparents\n0\ta\tA\t\n1\tb\tB\ta,c\n", "c"), [
    { wnid: "a", name: "A", parents: [] },
    { wnid: "b", name: "B", parents: ["a", "c"] },
  ]);
});
