/** Rows, table and bars of Figure 6 (grouping strategies). */
import assert from "node:assert/strict";
import { FLAT_LABEL, groupLabel } from "../../lib/figures/style.ts";
import { fig6Bars, fig6Rows, fig6Table } from "./fig6.ts";
import { fakeHead, fakeSets } from "./test_heads.ts";

Deno.test("fig6Rows / fig6Table / fig6Bars: MSP first, then MOS per strategy", () => {
  const far = { auroc: 75, fpr95: 55 };
  const heads = {
    flat: fakeHead("flat", 0.4, { far }),
    mos: [
      { strategy: "random" as const, r: fakeHead("random_k8", 0.3, { far }, 8) },
      { strategy: "clustering" as const, r: fakeHead("clustering_k8", 0.35, { far }, 8) },
    ],
  };
  const rows = fig6Rows(heads);
  assert.deepEqual(rows.map((x) => [x.label, x.series, x.grouping, x.K]), [
    ["MSP", FLAT_LABEL, "none (flat softmax)", "1"],
    ["MOS (random grouping)", groupLabel("random grouping"), "random grouping", "8"],
    ["MOS (feature clustering)", groupLabel("feature clustering"), "feature clustering", "8"],
  ]);
  const table = fig6Table(rows, 8, fakeSets(false));
  assert.equal(table.title, "Figure 6: MSP vs MOS with different grouping strategies (K = 8)");
  assert.deepEqual(table.rows[0].slice(0, 4), ["MSP", "none (flat softmax)", "1", 40]);
  // "near" has no metrics: its bars are left out, its table cells are NaN.
  assert.ok(Number.isNaN(table.rows[0][6] as number));
  const bars = fig6Bars(rows, ["far", "near"]);
  assert.equal(bars.length, 6);
  assert.deepEqual(bars.slice(0, 2).map((b) => [b.series, b.value]), [[FLAT_LABEL, 75], [
    FLAT_LABEL,
    55,
  ]]);
});
