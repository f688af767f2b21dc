import assert from "node:assert/strict";
import { assertClose } from "../../tests/assert_close.ts";
import { renderCsv, renderMarkdown } from "./render.ts";
import {
  type ExtendedEntry,
  extendedTable1,
  mean,
  perSeedAverage,
  sampleSd,
} from "./extended_table.ts";

function entry(method: string, dataset: string, auroc: number[], fpr: number[]): ExtendedEntry {
  return {
    method,
    dataset,
    values: { auroc, fpr95: fpr, aupr_in: auroc, aupr_out: auroc },
    ci: {
      auroc: { low: auroc[0] - 1, high: auroc[0] + 1 },
      fpr95: { low: fpr[0] - 2, high: fpr[0] + 2 },
      aupr_in: { low: 0, high: 100 },
      aupr_out: { low: 0, high: 100 },
    },
  };
}

Deno.test("mean, sampleSd and perSeedAverage by hand", () => {
  assert.equal(mean([1, 2, 3]), 2);
  assertClose(sampleSd([1, 2, 3]), 1, { atol: 1e-15, reason: "exact" });
  assert.ok(Number.isNaN(sampleSd([4])));
  const es = [entry("a", "x", [90, 92], [10, 20]), entry("a", "y", [80, 70], [30, 40])];
  assert.deepEqual(perSeedAverage(es, "a", ["x", "y"], "auroc"), [85, 81]);
  assert.deepEqual(perSeedAverage(es, "a", ["x", "z"], "auroc"), []);
});

Deno.test("extendedTable1: one seed with CIs; two seeds give mean ± sd; missing sets", () => {
  const one = extendedTable1([entry("a", "x", [90], [10]), entry("a", "y", [80], [30])], {
    methods: [{ key: "a", label: "A", seconds: 1.5 }, { key: "b", label: "B" }],
    datasets: ["x", "y"],
    ci: true,
    averageCi: {
      a: {
        auroc: { low: 84, high: 86 },
        fpr95: { low: 18, high: 22 },
        aupr_in: { low: 0, high: 1 },
        aupr_out: { low: 0, high: 1 },
      },
    },
    title: "T",
  });
  assert.deepEqual(one.csv.columns.slice(0, 6), [
    "Method",
    "Test time (s)",
    "x AUROC",
    "x AUROC CI low",
    "x AUROC CI high",
    "x FPR95",
  ]);
  assert.deepEqual(one.csv.rows[0], [
    "A",
    1.5,
    90,
    89,
    91,
    10,
    8,
    12,
    80,
    79,
    81,
    30,
    28,
    32,
    85,
    84,
    86,
    20,
    18,
    22,
  ]);
  // B has no results: every value missing, rendered as "-" / empty.
  assert.ok(one.csv.rows[1].slice(1).every((c) => c === null));
  const md = renderMarkdown(one.markdown);
  assert.ok(md.includes("[89.00, 91.00]") && md.includes("[84.00, 86.00]"), md);
  assert.ok(renderCsv(one.csv).startsWith("Method,Test time (s),x AUROC,x AUROC CI low"));

  const two = extendedTable1([entry("a", "x", [90, 92], [10, 20])], {
    methods: [{ key: "a", label: "A" }],
    datasets: ["x"],
    ci: false,
    title: "T",
  });
  assert.deepEqual(two.csv.columns, [
    "Method",
    "Test time (s)",
    "x AUROC",
    "x AUROC sd",
    "x FPR95",
    "x FPR95 sd",
    "Average AUROC",
    "Average AUROC sd",
    "Average FPR95",
    "Average FPR95 sd",
  ]);
  const sd = Math.SQRT2;
  assertClose(two.csv.rows[0].slice(2) as number[], [91, sd, 15, 5 * sd, 91, sd, 15, 5 * sd], {
    atol: 1e-12,
    reason: "float64 mean / sd of two values",
  });
  assert.equal(two.markdown.rows[0][2], "91.00 ± 1.41");
  assert.ok(two.markdown.notes!.some((n) => n.includes("over 2 heads")));
});

Deno.test("extendedTable1: Near-OOD / Far-OOD per-seed averages and their intervals", () => {
  const es = [
    entry("a", "x", [90, 94], [10, 20]),
    entry("a", "y", [80, 70], [30, 40]),
    entry("a", "z", [60, 62], [50, 70]),
  ];
  const iv = (low: number, high: number) => ({ low, high });
  const t = extendedTable1(es, {
    methods: [{ key: "a", label: "A", seconds: 2 }],
    datasets: ["x", "y", "z"],
    ci: true,
    oodGroups: { near: ["y", "z"], far: ["x"] },
    groupCi: {
      "Near-OOD": {
        a: { auroc: iv(60, 80), fpr95: iv(30, 60), aupr_in: iv(0, 1), aupr_out: iv(0, 1) },
      },
    },
    title: "T",
  });
  const col = (name: string) => t.csv.columns.indexOf(name);
  assert.ok(col("Near-OOD AUROC") < col("Far-OOD AUROC"));
  assert.ok(col("Far-OOD FPR95 sd") < col("Average AUROC"));
  const r = t.csv.rows[0];
  // Near, per seed: (80 + 60) / 2 = 70 and (70 + 62) / 2 = 66 -> mean 68, sd 2 sqrt 2;
  // far = x: 92 ± 2 sqrt 2; FPR95 near: 40 and 55 -> 47.5.
  const reason = "float64 mean / sd of two values";
  assertClose(r[col("Near-OOD AUROC")] as number, 68, { atol: 1e-12, reason });
  assertClose(r[col("Near-OOD AUROC sd")] as number, 2 * Math.SQRT2, { atol: 1e-12, reason });
  assertClose(r[col("Far-OOD AUROC")] as number, 92, { atol: 1e-12, reason });
  assertClose(r[col("Near-OOD FPR95")] as number, 47.5, { atol: 1e-12, reason });
  assert.equal(r[col("Near-OOD AUROC CI low")], 60);
  assert.equal(r[col("Far-OOD AUROC CI low")], null); // no interval given for far
  const md = t.markdown;
  assert.deepEqual(md.summaryGroups, ["Near-OOD", "Far-OOD", "Average"]);
  assert.equal(md.rows[0][md.columns.indexOf("Near-OOD AUROC 95% CI")], "[60.00, 80.00]");
  assert.match(md.notes![0], /Near-OOD: mean over y, z\. Far-OOD: mean over x\. Average: mean/);
});
