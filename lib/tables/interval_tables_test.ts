import assert from "node:assert/strict";
import type { IntervalRow } from "../metrics/bootstrap.ts";
import { intervalsByRow, intervalsNote, intervalsTable, intervalText } from "./interval_tables.ts";
import { renderTerminal } from "./terminal.ts";

const r = (
  method: string,
  dataset: string,
  metric: IntervalRow["metric"],
  estimate: number,
  low: number,
  high: number,
): IntervalRow => ({ method, dataset, metric, estimate, low, high });

// Scrambled order; "vim" is not a paper method; mos lacks FPR95 on "b".
const rows: IntervalRow[] = [
  r("vim", "a", "auroc", 70, 69, 71),
  r("mos", "b", "auroc", 91.125, 90.005, 92.5),
  r("msp", "a", "fpr95", 60, 58.5, 61.25),
  r("msp", "a", "auroc", 88.475, 87.995, 88.999),
  r("mos", "a", "auroc", 95, 94, 96),
  r("mos", "a", "fpr95", 20, 18, 22),
  r("msp", "a", "aupr_in", 1, 0, 2),
];

Deno.test("intervalText: [low, high] with the tables' formatter (half away from zero)", () => {
  assert.equal(intervalText(87.995, 88.475), "[88.00, 88.48]");
  assert.equal(intervalText(-0.004, 1.005), "[0.00, 1.01]");
});

Deno.test("intervalsByRow: one row per method and set, paper order first, missing cells", () => {
  const t = intervalsByRow(rows);
  assert.deepEqual(t.columns, [
    "Method",
    "OOD set",
    "AUROC",
    "AUROC 95% CI",
    "FPR95",
    "FPR95 95% CI",
  ]);
  assert.deepEqual(t.rows, [
    ["MSP", "a", 88.475, "[88.00, 89.00]", 60, "[58.50, 61.25]"],
    ["MOS", "a", 95, "[94.00, 96.00]", 20, "[18.00, 22.00]"],
    ["MOS", "b", 91.125, "[90.01, 92.50]", null, null],
    ["vim", "a", 70, "[69.00, 71.00]", null, null],
  ]);
  const text = renderTerminal(t);
  assert.match(text, /^MSP +a +88\.48 +\[88\.00, 89\.00\] +60\.00 +\[58\.50, 61\.25\]$/m);
  for (const line of text.split("\n")) assert.ok(line.length <= 100, line);
});

Deno.test("intervalsTable: one row per method, four columns per set", () => {
  const t = intervalsTable(rows, ["a", "b"]);
  assert.equal(t.columns.length, 1 + 2 * 4);
  assert.deepEqual(t.rows[1], [
    "MOS",
    95,
    "[94.00, 96.00]",
    20,
    "[18.00, 22.00]",
    91.125,
    "[90.01, 92.50]",
    null,
    null,
  ]);
});

Deno.test("intervals note: data-oriented by default; the caller's wording when given", () => {
  const plain =
    "Percentile intervals of seeded bootstrap resamples (1,000 unless set otherwise), " +
    "the ID and the OOD scores resampled separately.";
  assert.equal(intervalsNote(), plain);
  assert.deepEqual(intervalsByRow(rows).notes, [plain]);
  const wording = { resamples: "1,000 unless --resamples", source: "score --ci" };
  const flagged =
    "Percentile intervals of seeded bootstrap resamples (1,000 unless --resamples), " +
    "the ID and the OOD scores resampled separately (score --ci).";
  assert.deepEqual(intervalsTable(rows, ["a"], "T", wording).notes, [flagged]);
  assert.deepEqual(intervalsByRow(rows, undefined, wording).notes, [flagged]);
});
