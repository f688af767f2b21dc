import assert from "node:assert/strict";
import { assertClose } from "../../tests/assert_close.ts";
import {
  accuracyLine,
  accuracyTable,
  METHOD_ORDER,
  methodLabel,
  type MetricRow,
  table1,
  table3,
} from "./paper_tables.ts";
import {
  defaultPaperDir,
  PAPER_DATASETS,
  PAPER_FILES,
  parsePaperTable1,
  parsePaperTable3,
} from "./paper_reference.ts";
import { renderCsv, renderMarkdown, TEST_TIME_NOTE } from "./render.ts";

const paper1 = parsePaperTable1(await Deno.readTextFile(defaultPaperDir() + PAPER_FILES.table1));
const paper3 = parsePaperTable3(await Deno.readTextFile(defaultPaperDir() + PAPER_FILES.table3));

function row(method: string, dataset: string, v: [number, number, number, number]): MetricRow {
  return { method, dataset, auroc: v[0], fpr95: v[1], aupr_in: v[2], aupr_out: v[3] };
}

// Scrambled input order; `energy` lacks "sun", `vim` is not one of the paper's methods.
const rows: MetricRow[] = [
  row("vim", "inaturalist", [90, 50, 97, 1]),
  row("vim", "sun", [88, 55, 96, 1]),
  row("mos", "sun", [91.25, 40.5, 98, 60]),
  row("energy", "inaturalist", [85, 60, 96, 45]),
  row("mos", "inaturalist", [96.5, 20.25, 99, 50]),
  row("msp", "sun", [70, 80, 90, 30]),
  row("msp", "inaturalist", [80, 70, 95, 40]),
];
const two = ["inaturalist", "sun"];

Deno.test("table1: paper layout, method order, hand-checked averages", () => {
  const t = table1(rows, { datasets: two, times: { msp: 2.5, mos: 2.75 } });
  assert.deepEqual(t.columns, [
    "Method",
    "Test time (s)",
    "iNaturalist AUROC",
    "iNaturalist FPR95",
    "SUN AUROC",
    "SUN FPR95",
    "Average AUROC",
    "Average FPR95",
  ]);
  assert.deepEqual(t.rows.map((r) => r[0]), ["MSP", "Energy", "MOS", "vim"]);
  // MSP: (80 + 70) / 2 = 75, (70 + 80) / 2 = 75; MOS: (96.5 + 91.25) / 2 = 93.875,
  // (20.25 + 40.5) / 2 = 30.375.
  assert.deepEqual(t.rows[0], ["MSP", 2.5, 80, 70, 70, 80, 75, 75]);
  assert.deepEqual(t.rows[2], ["MOS", 2.75, 96.5, 20.25, 91.25, 40.5, 93.875, 30.375]);
  assert.deepEqual(t.rows[3].slice(6), [89, 52.5]);
  // Energy lacks SUN: its SUN cells and its average are missing.
  const energy = t.rows[1];
  assert.equal(energy[2], 85);
  for (const j of [1, 4, 5, 6, 7]) assert.ok(Number.isNaN(energy[j]), `energy cell ${j} missing`);
  const md = renderMarkdown(t);
  assert.ok(!md.includes("NaN"));
  assert.ok(md.includes("| Energy |             - |             85.00 |             60.00 |"));
  assert.ok(md.includes("| MOS    |          2.75 |             96.50 |"));
  assert.ok(md.includes("93.88")); // 93.875 is an exact tie: half away from zero
  const csv = renderCsv(t).split("\n");
  assert.equal(csv[2], "Energy,,85.00,60.00,,,,");
  assert.ok(!renderCsv(t).includes("NaN"));
});

Deno.test("table1: explicit method list sets order and keeps methods without rows", () => {
  const t = table1(rows, { datasets: two, methods: ["mos", "odin", "msp"] });
  assert.deepEqual(t.rows.map((r) => r[0]), ["MOS", "ODIN", "MSP"]);
  assert.ok(t.rows[1].slice(1).every((v) => Number.isNaN(v)));
  assert.deepEqual(METHOD_ORDER.map(methodLabel), [
    "MSP",
    "ODIN",
    "Mahalanobis",
    "Energy",
    "KL Matching",
    "MOS",
  ]);
  const labelled = table1(rows, { datasets: two, datasetLabels: { sun: "Scenes" } });
  assert.ok(labelled.columns.includes("Scenes FPR95"));
});

Deno.test("table1 vs paper: ours / paper / delta columns on the four paper sets", () => {
  const ours: MetricRow[] = [
    row("msp", "inaturalist", [88, 60, 0, 0]),
    row("msp", "sun", [80, 70, 0, 0]),
    row("msp", "places", [75.5, 85, 0, 0]),
    row("msp", "textures", [76.25, 80, 0, 0]),
    row("mos", "inaturalist", [97, 10, 0, 0]),
  ];
  const t = table1(ours, { datasets: [...PAPER_DATASETS], times: { msp: 1.5 }, paper: paper1 });
  const col = (name: string) => t.columns.indexOf(name);
  assert.deepEqual(t.columns.slice(0, 6), [
    "Method",
    "Test time (s)",
    "Test time paper (min)",
    "iNaturalist AUROC",
    "iNaturalist AUROC (paper)",
    "iNaturalist AUROC Δ",
  ]);
  const msp = t.rows[0];
  assert.equal(msp[col("Test time paper (min)")], 3.1);
  // Hand-computed: paper MSP iNaturalist AUROC 87.59, SUN FPR95 79.98, Places AUROC 76.76,
  // Textures FPR95 82.73; Average AUROC 79.29 and FPR95 76.96 (the paper's own column).
  const reason = "difference of two decimal literals in float64";
  assertClose(msp[col("iNaturalist AUROC Δ")] as number, 0.41, { atol: 1e-9, reason });
  assertClose(msp[col("SUN FPR95 Δ")] as number, -9.98, { atol: 1e-9, reason });
  assertClose(msp[col("Places AUROC Δ")] as number, -1.26, { atol: 1e-9, reason });
  assertClose(msp[col("Textures FPR95 Δ")] as number, -2.73, { atol: 1e-9, reason });
  assert.equal(msp[col("Average AUROC")], 79.9375); // (88 + 80 + 75.5 + 76.25) / 4
  assert.equal(msp[col("Average AUROC (paper)")], 79.29);
  assertClose(msp[col("Average AUROC Δ")] as number, 0.6475, { atol: 1e-9, reason });
  assert.equal(msp[col("Average FPR95")], 73.75); // (60 + 70 + 85 + 80) / 4
  assertClose(msp[col("Average FPR95 Δ")] as number, -3.21, { atol: 1e-9, reason });
  // MOS has only iNaturalist: paper values stay, ours and Δ are missing.
  const mos = t.rows[1];
  assertClose(mos[col("iNaturalist FPR95 Δ")] as number, 0.72, { atol: 1e-9, reason });
  assert.equal(mos[col("SUN AUROC (paper)")], 92.01);
  assert.ok(Number.isNaN(mos[col("SUN AUROC Δ")]));
  const csv = renderCsv(t).split("\n");
  assert.ok(
    csv[1].startsWith("MSP,1.50,3.10,88.00,87.59,0.41,60.00,63.69,-3.69,80.00,78.34,1.66,"),
  );
  assert.ok(csv[2].startsWith("MOS,,3.20,97.00,98.15,-1.15,10.00,9.28,0.72,,92.01,,"));
});

Deno.test("table1 vs paper: one-cell layout reads 'ours (paper X, Δ ±d)'", () => {
  const ours = [
    row("mos", "inaturalist", [97, 10, 0, 0]),
    row("mos", "sun", [93.01, 40.63, 0, 0]),
    row("mos", "places", [90, 50, 0, 0]),
  ];
  const three = ["inaturalist", "sun", "places"];
  const t = table1(ours, { datasets: three, paper: paper1, layout: "cells" });
  assert.deepEqual(t.rows[0].slice(3), [
    "97.00 (paper 98.15, Δ -1.15)",
    "10.00 (paper 9.28, Δ +0.72)",
    "93.01 (paper 92.01, Δ +1.00)",
    "40.63 (paper 40.63, Δ +0.00)",
    "90.00 (paper 89.06, Δ +0.94)",
    "50.00 (paper 49.54, Δ +0.46)",
    // Three sets only: the paper side is the mean of the same three sets,
    // (98.15 + 92.01 + 89.06) / 3 = 93.0733, (9.28 + 40.63 + 49.54) / 3 = 33.15;
    // ours (97 + 93.01 + 90) / 3 = 93.3367 and (10 + 40.63 + 50) / 3 = 33.5433.
    "93.34 (paper 93.07, Δ +0.26)",
    "33.54 (paper 33.15, Δ +0.39)",
  ]);
  assert.ok(renderMarkdown(t).includes("| MOS    | -             |                  3.20 |"));
});

Deno.test("table1 vs paper: synthetic sets compared through an explicit mapping", () => {
  const ours = [
    row("msp", "novel-groups", [80, 50, 0, 0]),
    row("msp", "diffuse-texture", [70, 60, 0, 0]),
  ];
  const t = table1(ours, {
    datasets: ["novel-groups", "diffuse-texture"],
    paper: paper1,
    paperDatasets: { "novel-groups": "inaturalist" },
  });
  const col = (name: string) => t.columns.indexOf(name);
  assert.equal(t.rows[0][col("novel-groups AUROC (paper)")], 87.59);
  assert.ok(Number.isNaN(t.rows[0][col("diffuse-texture AUROC (paper)")]));
  assert.ok(Number.isNaN(t.rows[0][col("Average AUROC (paper)")]));
  assert.equal(t.rows[0][col("Average AUROC")], 75);
});

Deno.test("table3: per-set blocks then Average, AUPR is AUPR-In, paper deltas", () => {
  const t = table3(rows, { datasets: two, methods: ["msp", "mos"] });
  assert.deepEqual(t.columns, ["OOD dataset", "Method", "AUROC", "FPR95", "AUPR"]);
  assert.deepEqual(t.rows, [
    ["iNaturalist", "MSP", 80, 70, 95],
    ["iNaturalist", "MOS", 96.5, 20.25, 99],
    ["SUN", "MSP", 70, 80, 90],
    ["SUN", "MOS", 91.25, 40.5, 98],
    ["Average", "MSP", 75, 75, 92.5],
    ["Average", "MOS", 93.875, 30.375, 98.5],
  ]);
  const c = table3(rows, { datasets: two, methods: ["msp"], paper: paper3 });
  assert.equal(c.columns.length, 11);
  const [, , a, pa, da, , , , aupr, paupr, daupr] = c.rows[0];
  assert.deepEqual([a, pa, aupr, paupr], [80, 87.59, 95, 97.23]);
  const reason = "difference of two decimal literals in float64";
  assertClose(da as number, -7.59, { atol: 1e-9, reason });
  assertClose(daupr as number, -2.23, { atol: 1e-9, reason }); // 95 - 97.23
  // Average block over two sets: paper side is the mean of the paper's iNaturalist and SUN rows.
  const avg = c.rows[2];
  assert.equal(avg[0], "Average");
  assertClose(avg[9] as number, (97.23 + 94.45) / 2, { atol: 1e-12, reason: "same float sums" });
  // With all four paper sets the paper's own Average rows are used.
  const four = PAPER_DATASETS.map((d) => row("kl", d, [80, 50, 95, 5]));
  const f = table3(four, { datasets: [...PAPER_DATASETS], paper: paper3 });
  const klAvg = f.rows[f.rows.length - 1];
  assert.deepEqual([klAvg[0], klAvg[1], klAvg[3], klAvg[9]], [
    "Average",
    "KL Matching",
    83.82,
    95.9,
  ]);
});

Deno.test("accuracyLine / accuracyTable: fractions in, percent out", () => {
  assert.equal(
    accuracyLine({ flat: 0.752, group: 0.7516 }),
    "ID top-1 accuracy: flat 75.20% vs group 75.16% (group - flat: -0.04 points)",
  );
  assert.equal(
    accuracyLine({ flat: 0.5, group: 0.5125 }, { paper: true }),
    "ID top-1 accuracy: flat 50.00% vs group 51.25% (group - flat: +1.25 points); " +
      "paper: flat 75.20% vs group 75.16%",
  );
  assert.equal(accuracyLine({ flat: 0.75 }), "ID top-1 accuracy: flat 75.00% vs group -");
  assert.throws(() => accuracyLine({ flat: 75.2 }), /fraction in \[0, 1\], got 75.2/);
  const t = accuracyTable({ flat: 0.75, group: 0.7625 }, { paper: true });
  assert.deepEqual(t.rows[1].slice(0, 3), ["group softmax (MOS)", 76.25, 75.16]);
  assertClose(t.rows[0][3] as number, -0.2, { atol: 1e-9, reason: "75 - 75.2 in float64" });
});

Deno.test("table1 / table3: Near-OOD and Far-OOD averages before Average (hand-computed)", () => {
  const four: MetricRow[] = [
    row("msp", "inaturalist", [88, 60, 90, 10]),
    row("msp", "sun", [80, 70, 82, 20]),
    row("msp", "places", [75.5, 85, 70, 30]),
    row("msp", "textures", [76.25, 80, 60, 40]),
  ];
  const groups = { near: ["sun", "places"], far: ["inaturalist", "textures"] };
  const t = table1(four, { datasets: [...PAPER_DATASETS], oodGroups: groups, times: { msp: 2 } });
  assert.deepEqual(t.columns.slice(10), [
    "Near-OOD AUROC",
    "Near-OOD FPR95",
    "Far-OOD AUROC",
    "Far-OOD FPR95",
    "Average AUROC",
    "Average FPR95",
  ]);
  // Near: (80 + 75.5) / 2 = 77.75, (70 + 85) / 2 = 77.5; far: (88 + 76.25) / 2 = 82.125,
  // (60 + 80) / 2 = 70; all four: 79.9375, 73.75.
  assert.deepEqual(t.rows[0].slice(10), [77.75, 77.5, 82.125, 70, 79.9375, 73.75]);
  assert.deepEqual(t.summaryGroups, ["Near-OOD", "Far-OOD", "Average"]);
  assert.match(t.notes![0], /Near-OOD: mean over SUN, Places\. Far-OOD: mean over iNaturalist, /);
  // Beside the paper: its near / far values are the means of its per-set values (MSP: SUN 78.34,
  // Places 76.76 -> 77.55 AUROC; iNaturalist 63.69, Textures 82.73 -> 73.21 FPR95); its Average
  // is its own column (79.29).
  const c = table1(four, { datasets: [...PAPER_DATASETS], oodGroups: groups, paper: paper1 });
  const col = (name: string) => c.columns.indexOf(name);
  const reason = "mean of two decimal literals in float64";
  assertClose(c.rows[0][col("Near-OOD AUROC (paper)")] as number, 77.55, { atol: 1e-9, reason });
  assertClose(c.rows[0][col("Far-OOD FPR95 (paper)")] as number, 73.21, { atol: 1e-9, reason });
  assert.equal(c.rows[0][col("Average AUROC (paper)")], 79.29);
  // Table 3: Near-OOD and Far-OOD blocks (AUPR-In too: (82 + 70) / 2, (90 + 60) / 2 and
  // (90 + 82 + 70 + 60) / 4), then Average.
  const t3 = table3(four, { datasets: [...PAPER_DATASETS], oodGroups: groups });
  assert.deepEqual(t3.rows.slice(4).map((r) => [r[0], r[2], r[4]]), [
    ["Near-OOD", 77.75, 76],
    ["Far-OOD", 82.125, 75],
    ["Average", 79.9375, 75.5],
  ]);
  // A group naming a set the table does not show is refused.
  assert.throws(
    () => table1(four, { datasets: ["sun", "places"], oodGroups: groups }),
    /OOD groups: "far" names "inaturalist", which is not one of the OOD sets/,
  );
});

Deno.test("table1 / table3: the test-time definition is one note of Table 1, none of Table 3", () => {
  const t = table1(rows, { datasets: two, times: { msp: 1 } });
  assert.equal(t.notes!.filter((n) => /test time/i.test(n)).length, 1);
  assert.ok(t.notes!.includes(TEST_TIME_NOTE));
  const c = table1(rows, { datasets: two, paper: paper1 });
  assert.equal(c.notes!.filter((n) => n.startsWith("Test time")).length, 1);
  const t3 = table3(rows, { datasets: two });
  assert.ok(!t3.notes!.some((n) => /test time/i.test(n)));
});

Deno.test("table1: two rows for one method and data set are an error", () => {
  const dup = [...rows, row("msp", "sun", [1, 2, 3, 4])];
  assert.throws(
    () => table1(dup, { datasets: two }),
    /two rows for method "msp" on data set "sun"/,
  );
});
