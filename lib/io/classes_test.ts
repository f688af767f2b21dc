import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import { groupLayout, validateGroups } from "../groups.ts";
import {
  type ClassInfo,
  defaultClassTablePath,
  readClassTable,
  taxonomyGroupNames,
  taxonomyGroups,
} from "./classes.ts";

Deno.test("classes: the shipped table has 1000 classes in sorted-wnid order", async () => {
  const table = await readClassTable();
  assert.equal(table.length, 1000);
  assert.deepEqual(table[0], {
    index: 0,
    wnid: "n01440764",
    name: "tench",
    group: "animal",
    groupIndex: 0,
    subIndex: 287,
    devkitIndex: 448,
  });
  const wnids = table.map((c) => c.wnid);
  assert.deepEqual(wnids, [...wnids].sort());
  assert.ok(defaultClassTablePath().endsWith("/data/imagenet1k_classes.tsv"));
});

Deno.test("classes: the 8 taxonomy groups have the paper's sizes in the file's order", async () => {
  const table = await readClassTable();
  const groups = taxonomyGroups(table);
  // mos_group_index in the file orders the groups like DESIGN.md section 5 lists them.
  assert.deepEqual(taxonomyGroupNames(table), [
    "animal",
    "artifact",
    "geological_formation",
    "fungus",
    "misc",
    "natural_object",
    "person",
    "plant",
  ]);
  assert.deepEqual(groups.map((g) => g.length), [398, 521, 9, 7, 52, 8, 3, 2]);
  validateGroups(groups, 1000, "taxonomy"); // every class exactly once
  // Independent check straight from the TSV text: class c sits at slice index sub_index + 1.
  const rows = (await Deno.readTextFile(defaultClassTablePath())).trim().split("\n").slice(1);
  const layout = groupLayout(groups, 1000);
  for (const row of rows) {
    const f = row.split("\t");
    const c = Number(f[0]);
    assert.equal(layout.classGroup[c], Number(f[4]));
    assert.equal(layout.classSlot[c], Number(f[5]) + 1);
  }
  assert.equal(layout.numOutputs, 1008);
});

Deno.test("classes: malformed tables give DataErrors naming the line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const good = await Deno.readTextFile(defaultClassTablePath());
    const lines = good.trim().split("\n");
    const check = async (text: string, ...parts: string[]) => {
      await Deno.writeTextFile(`${dir}/t.tsv`, text);
      await assert.rejects(readClassTable(`${dir}/t.tsv`), (err: unknown) => {
        assert.ok(err instanceof DataError, String(err));
        for (const p of parts) assert.ok(err.message.includes(p), `"${err.message}" lacks "${p}"`);
        return true;
      });
    };
    await assert.rejects(readClassTable(`${dir}/none.tsv`), /not found/);
    await check(["idx" + lines[0].slice(5), ...lines.slice(1)].join("\n"), "header must be");
    await check(lines.slice(0, 500).join("\n"), "499 class rows");
    const swapped = [lines[0], lines[2], lines[1], ...lines.slice(3)];
    await check(swapped.join("\n"), "line 2", "index 1 out of order");
    const badWnid = [...lines];
    badWnid[5] = badWnid[5].replace(/\tn\d+\t/, "\tx123\t");
    await check(badWnid.join("\n"), "line 6", "bad wnid");
    const badCols = [...lines];
    badCols[9] = badCols[9].split("\t").slice(0, 6).join("\t");
    await check(badCols.join("\n"), "line 10 has 6 columns");
    const badInt = [...lines];
    badInt[3] = badInt[3].replace(/\t\d+$/, "\t-4");
    await check(badInt.join("\n"), "line 4", "non-negative integers");
    // CRLF line endings are accepted.
    await Deno.writeTextFile(`${dir}/crlf.tsv`, lines.join("\r\n") + "\r\n");
    assert.equal((await readClassTable(`${dir}/crlf.tsv`)).length, 1000);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("classes: taxonomyGroups rejects gaps and duplicate sub indices", () => {
  const c = (index: number, groupIndex: number, subIndex: number, group = `g${groupIndex}`) => ({
    index,
    wnid: "n00000000",
    name: "x",
    group,
    groupIndex,
    subIndex,
    devkitIndex: index + 1,
  } satisfies ClassInfo);
  assert.deepEqual(taxonomyGroups([c(0, 1, 0), c(1, 0, 1), c(2, 0, 0)]), [[2, 1], [0]]);
  assert.throws(() => taxonomyGroups([c(0, 0, 0), c(1, 2, 0)]), /group index 1 is missing/);
  assert.throws(() => taxonomyGroups([c(0, 0, 0), c(1, 0, 0)]), /sub index 0/);
  assert.throws(() => taxonomyGroups([c(0, 0, 0), c(1, 0, 2)]), /sub index 2/);
  assert.throws(() => taxonomyGroups([c(0, 0, 0), c(1, 0, 1, "other")]), /named both/);
});
