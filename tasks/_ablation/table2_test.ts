/** Group counts, checks and Table 2 views of the groups ablation. */
import assert from "node:assert/strict";
import { DataError, UsageError } from "../../lib/errors.ts";
import { checkTable2Groups, groupCountsOf, table2Views } from "./table2.ts";
import type { Taxonomy } from "./groupings.ts";
import { fakeHead, fakeSets } from "./test_heads.ts";

const TAXONOMY: Taxonomy = {
  table: [],
  levels: new Map([
    [0, { groups: [[0, 1], [2]], names: ["a", "b"] }],
    [1, { groups: [[0], [1], [2]], names: ["x", "y", "z"] }],
  ]),
};

Deno.test("groupCountsOf and checkTable2Groups: K per level, checked against the classes", () => {
  const counts = groupCountsOf(TAXONOMY, [1, 0]);
  assert.deepEqual(counts.map((c) => [c.level, c.numGroups]), [[1, 3], [0, 2]]);
  checkTable2Groups(["random"], counts, 3, "t");
  assert.throws(() => checkTable2Groups(["random"], counts, 2, "t"), (e: unknown) => {
    assert.ok(e instanceof UsageError);
    assert.match(e.message, /^level 1: K 3 is invalid/);
    return true;
  });
  // Taxonomy groups alone need no K check, but the ImageNet-1k label space.
  assert.throws(() => checkTable2Groups(["taxonomy"], counts, 2, "/d/train"), DataError);
  checkTable2Groups(["taxonomy"], counts, 1000, "/d/train");
});

Deno.test("table2Views: one row per head, accuracies in a note, points per strategy", async () => {
  const far = { auroc: 60, fpr95: 70 };
  const near = { auroc: 80, fpr95: 50 };
  const results = [
    {
      job: { level: 0, strategy: "taxonomy" as const, groups: [[0], [1]] },
      r: fakeHead("t", 0.5, { far, near }, 2),
    },
    {
      job: { level: 0, strategy: "random" as const, groups: [[1], [0]] },
      r: fakeHead("r", NaN, { far, near }, 2),
    },
  ];
  const v = await table2Views(results, fakeSets(true), false);
  assert.match(v.csvTable.title, /\(synthetic demo data\)$/);
  assert.equal(v.csvTable.rows.length, 2);
  assert.ok(v.csvTable.notes!.includes("ID top-1 accuracy (%): t 50.00, r -."));
  assert.deepEqual(v.points.map((p) => [p.x, p.series, p.value]), [
    [2, "taxonomy", 60],
    [2, "taxonomy", 70],
    [2, "taxonomy", 80],
    [2, "taxonomy", 50],
    [2, "random grouping", 60],
    [2, "random grouping", 70],
    [2, "random grouping", 80],
    [2, "random grouping", 50],
  ]);
});
