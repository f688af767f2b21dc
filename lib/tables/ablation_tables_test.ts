/** Table 2, the group-count table and the generic ablation table against hand-worked values. */
import assert from "node:assert/strict";
import { assertClose } from "../../tests/assert_close.ts";
import {
  ablationTable,
  averageOver,
  groupCountsTable,
  metricsFor,
  table2,
  type Table2Entry,
} from "./ablation_tables.ts";
import { parsePaperTable2 } from "./paper_reference.ts";
import { renderCsv, renderMarkdown } from "./render.ts";

const PAPER_CSV = await Deno.readTextFile(
  new URL("../../results/paper/paper_table2_groups.csv", import.meta.url),
);

const FOUR = ["inaturalist", "sun", "places", "textures"];

function metrics(base: number) {
  return Object.fromEntries(
    FOUR.map((d, i) => [d, { auroc: base + i, fpr95: 100 - base - i }]),
  );
}

Deno.test("metricsFor picks one method's rows and rejects duplicates", () => {
  const rows = [
    { method: "mos", dataset: "sun", auroc: 90, fpr95: 40, aupr_in: 1, aupr_out: 2 },
    { method: "msp", dataset: "sun", auroc: 80, fpr95: 60, aupr_in: 1, aupr_out: 2 },
  ];
  assert.deepEqual(metricsFor(rows, "mos"), { sun: { auroc: 90, fpr95: 40 } });
  assert.throws(() => metricsFor([rows[0], rows[0]], "mos"), /two rows for method "mos"/);
});

Deno.test("averageOver: the mean, NaN when a set is missing", () => {
  const m = { a: { auroc: 90, fpr95: 10 }, b: { auroc: 80, fpr95: 30 } };
  assertClose(averageOver(m, ["a", "b"], "auroc"), 85, { atol: 1e-12, reason: "exact halves" });
  assert.ok(Number.isNaN(averageOver(m, ["a", "c"], "fpr95")));
});

Deno.test("table2: paper row order, K beside the paper's K, averages", () => {
  const entries: Table2Entry[] = [
    { level: 0, numGroups: 8, strategy: "random", metrics: metrics(70) },
    { level: 1, numGroups: 37, strategy: "taxonomy", metrics: metrics(90) },
    { level: 0, numGroups: 8, strategy: "taxonomy", metrics: metrics(80) },
  ];
  const t = table2(entries, { datasets: FOUR });
  assert.deepEqual(t.columns.slice(0, 6), [
    "Level",
    "K",
    "K paper",
    "Strategy",
    "iNaturalist AUROC",
    "iNaturalist FPR95",
  ]);
  assert.deepEqual(t.rows.map((r) => r.slice(0, 4)), [
    ["0", "8", "8", "taxonomy"],
    ["0", "8", "8", "random grouping"],
    ["1", "37", "36", "taxonomy"],
  ]);
  // Average AUROC of metrics(80): (80 + 81 + 82 + 83) / 4 = 81.5; FPR95 (20 + 19 + 18 + 17) / 4 = 18.5.
  assert.deepEqual(t.rows[0].slice(-2), [81.5, 18.5]);
  assert.throws(() => table2([entries[0], entries[0]], { datasets: FOUR }), /two results/);
});

Deno.test("table2 beside the paper: ours / paper / delta columns and text cells", () => {
  const paper = parsePaperTable2(PAPER_CSV);
  const entries: Table2Entry[] = [
    { level: 0, numGroups: 8, strategy: "taxonomy", metrics: metrics(90) },
  ];
  const t = table2(entries, { datasets: FOUR, paper, layout: "columns" });
  const i = t.columns.indexOf("iNaturalist AUROC");
  assert.deepEqual(t.columns.slice(i, i + 3), [
    "iNaturalist AUROC",
    "iNaturalist AUROC (paper)",
    "iNaturalist AUROC Δ",
  ]);
  // The paper's level 0 taxonomy iNaturalist AUROC is 98.15.
  assert.equal(t.rows[0][i + 1], 98.15);
  assertClose(t.rows[0][i + 2] as number, 90 - 98.15, { atol: 1e-9, reason: "one subtraction" });
  const avg = t.columns.indexOf("Average AUROC (paper)");
  assert.equal(t.rows[0][avg], 90.11, "the paper's own Average column with its four sets");
  const cells = table2(entries, { datasets: FOUR, paper, layout: "cells" });
  assert.equal(cells.rows[0][4], "90.00 (paper 98.15, Δ -8.15)");
  assert.ok(renderCsv(t).split("\n")[0].includes("Average FPR95 Δ"));
  assert.ok(renderMarkdown(cells).includes("(paper 9.28, Δ +0.72)"));
});

Deno.test("groupCountsTable: ours beside the paper's with the difference", () => {
  const t = groupCountsTable([
    { level: 1, numGroups: 37, detail: "x" },
    { level: -3, numGroups: 2 },
  ]);
  assert.deepEqual(t.columns, ["Level", "K (ours)", "K (paper)", "Δ", "Groups"]);
  assert.deepEqual(t.rows, [[-3, 2, 2, 0, null], [1, 37, 36, 1, "x"]]);
  assert.ok(renderMarkdown(t).includes("|    -3 |        2 |         2 |   0 |"));
});

Deno.test("ablationTable: key cells, metrics per set, averages; key count checked", () => {
  const t = ablationTable({
    title: "t",
    keyColumns: ["C", "Method"],
    entries: [{ keys: ["50", "MSP"], metrics: { a: { auroc: 90, fpr95: 20 } } }],
    datasets: ["a", "b"],
  });
  assert.deepEqual(t.columns, [
    "C",
    "Method",
    "a AUROC",
    "a FPR95",
    "b AUROC",
    "b FPR95",
    "Average AUROC",
    "Average FPR95",
  ]);
  const row = t.rows[0];
  assert.deepEqual(row.slice(0, 4), ["50", "MSP", 90, 20]);
  assert.ok(
    row.slice(4).every((v) => Number.isNaN(v)),
    "missing set: missing cells and no average",
  );
  assert.throws(
    () =>
      ablationTable({
        title: "t",
        keyColumns: ["C"],
        entries: [{ keys: ["50", "x"], metrics: {} }],
        datasets: ["a"],
      }),
    RangeError,
  );
});
