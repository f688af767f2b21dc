import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { DataError } from "../errors.ts";
import {
  ancestorSets,
  classNodes,
  nodesNamed,
  parseHierarchy,
  readHierarchy,
} from "./hierarchy.ts";

const HEADER = "wnid\tname\tparent_wnids\n";
const WORDNET = fileURLToPath(
  new URL("../../data/imagenet1k_wordnet_hypernyms.tsv", import.meta.url),
);

function toy(rows: string[]): string {
  return HEADER + rows.join("\n") + "\n";
}

Deno.test("parseHierarchy builds parents, children and a parents-first order", () => {
  const h = parseHierarchy(
    toy(["r\troot\t", "b\tb node\tr", "a\ta node\tr", "x\tleaf\tb,a", "y\tleaf2\ta"]),
    "toy.tsv",
  );
  const id = (w: string) => h.index.get(w)!;
  assert.deepEqual(h.wnids, ["r", "b", "a", "x", "y"]);
  // Parents and children are sorted by wnid, whatever the file order.
  assert.deepEqual(h.parents[id("x")].map((i) => h.wnids[i]), ["a", "b"]);
  assert.deepEqual(h.children[id("r")].map((i) => h.wnids[i]), ["a", "b"]);
  const pos = new Map([...h.order].map((n, k) => [n, k]));
  h.parents.forEach((ps, i) => ps.forEach((p) => assert.ok(pos.get(p)! < pos.get(i)!)));
  const anc = ancestorSets(h);
  assert.deepEqual([...anc[id("x")]].map((i) => h.wnids[i]).sort(), ["a", "b", "r", "x"]);
  assert.deepEqual(nodesNamed(h, "leaf").map((i) => h.wnids[i]), ["x"]);
});

Deno.test("a cycle is a DataError naming the nodes on it and the file", () => {
  const text = toy(["r\troot\t", "a\tapple\tr,c", "b\tbanana\ta", "c\tcherry\tb", "d\tdate\tc"]);
  assert.throws(() => parseHierarchy(text, "cyclic.tsv"), (e: unknown) => {
    assert.ok(e instanceof DataError);
    assert.match(e.message, /^cyclic\.tsv: the hierarchy has a cycle /);
    assert.match(e.message, /a \(apple\) -> b \(banana\) -> c \(cherry\) -> a \(apple\)/);
    assert.doesNotMatch(e.message, /date/);
    return true;
  });
});

Deno.test("a self-loop is reported as a cycle", () => {
  assert.throws(
    () => parseHierarchy(toy(["r\troot\t", "a\tapple\ta,r"]), "self.tsv"),
    (e: unknown) => e instanceof DataError && /a \(apple\) -> a \(apple\)/.test(e.message),
  );
});

Deno.test("an unknown parent, duplicate wnid or bad header is a DataError naming it", () => {
  assert.throws(
    () => parseHierarchy(toy(["r\troot\t", "a\tapple\tr,n999"]), "h.tsv"),
    (e: unknown) =>
      e instanceof DataError && /h\.tsv: node "a".*unknown parent "n999"/.test(e.message),
  );
  assert.throws(
    () => parseHierarchy(toy(["r\troot\t", "a\tapple\tr", "a\tapple\tr"]), "h.tsv"),
    (e: unknown) => e instanceof DataError && /wnid "a" appears again on line 4/.test(e.message),
  );
  assert.throws(
    () => parseHierarchy("id\tname\tparents\nr\troot\t\n", "h.tsv"),
    (e: unknown) => e instanceof DataError && /h\.tsv: expected the header/.test(e.message),
  );
});

Deno.test("classNodes maps class wnids and names a class missing from the graph", () => {
  const h = parseHierarchy(toy(["r\troot\t", "a\tapple\tr", "b\tbanana\tr"]), "fruit.tsv");
  assert.deepEqual([...classNodes(h, ["b", "a"])], [2, 1]);
  assert.throws(() => classNodes(h, ["a", "n04999999"]), (e: unknown) => {
    assert.ok(e instanceof DataError);
    assert.match(e.message, /fruit\.tsv: class 1 "n04999999" is not in the hierarchy/);
    return true;
  });
});

Deno.test("the shipped WordNet hypernym file is a DAG rooted at entity covering ImageNet-1k", async () => {
  const h = await readHierarchy(WORDNET);
  const roots = h.parents.flatMap((ps, i) => (ps.length === 0 ? [h.names[i]] : []));
  assert.deepEqual(roots, ["entity"]);
  assert.equal(h.order.length, h.wnids.length);
  const classesPath = fileURLToPath(new URL("../../data/imagenet1k_classes.tsv", import.meta.url));
  const wnids = (await Deno.readTextFile(classesPath)).trim().split("\n").slice(1)
    .map((l) => l.split("\t")[1]);
  const nodes = classNodes(h, wnids);
  assert.equal(new Set(nodes).size, 1000);
  // The ImageNet classes are the leaves of this graph.
  for (const n of nodes) assert.equal(h.children[n].length, 0);
});

Deno.test("readHierarchy names a missing file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      () => readHierarchy(`${dir}/none.tsv`),
      (e: unknown) => e instanceof DataError && e.message.includes(`${dir}/none.tsv`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the 21k hypernym file's 'parents' header works; ancestor sets are computed once", async () => {
  const h = parseHierarchy("wnid\tname\tparents\nr\troot\t\na\tleaf\tr\n", "p.tsv");
  assert.deepEqual(h.parents[h.index.get("a")!], [h.index.get("r")]);
  assert.equal(ancestorSets(h), ancestorSets(h));
  const big = await readHierarchy(
    fileURLToPath(new URL("../../data/imagenet21k_wordnet_hypernyms.tsv", import.meta.url)),
  );
  assert.equal(big.wnids.length, 23547);
  // Every synset leads up to entity.
  const entity = big.index.get("n00001740")!;
  assert.ok(ancestorSets(big).every((s) => s.has(entity)));
});
