import assert from "node:assert/strict";
import type { StageResult } from "./detector_stage.ts";
import {
  extendedTables,
  hyperparameterRows,
  metricRows,
  paramText,
  percentIntervals,
  type TableSource,
} from "./tables.ts";

/** A stage result whose scores are given by hand. */
function stage(id: number[], ood: Record<string, number[]>, extra: Partial<StageResult> = {}) {
  return {
    label: "Toy",
    note: null,
    chosen: {},
    trials: [],
    seconds: 0.5,
    id: Float32Array.from(id),
    ood: new Map(Object.entries(ood).map(([k, v]) => [k, Float32Array.from(v)])),
    ...extra,
  } satisfies StageResult;
}

Deno.test("paramText and percentIntervals: hand cases", () => {
  assert.equal(paramText({}), "(none)");
  assert.equal(paramText({ temperature: 10, variant: "paper" }), "temperature=10 variant=paper");
  const iv = { low: 0.25, high: 0.5 };
  assert.deepEqual(
    percentIntervals({ auroc: iv, fpr95: iv, auprIn: { low: 0, high: 1 }, auprOut: iv }),
    {
      auroc: { low: 25, high: 50 },
      fpr95: { low: 25, high: 50 },
      aupr_in: { low: 0, high: 100 },
      aupr_out: { low: 25, high: 50 },
    },
  );
});

Deno.test("metricRows: AUROC by pair counting per seed, 4 decimals, rows in method x set x seed order", () => {
  // Seed 0: ID {3, 1} vs OOD {2, 0}: pairs won 3 > 2, 3 > 0, 1 > 0, lost 1 < 2 -> 3/4 = 75%.
  // Seed 1: ID {1, 1} vs OOD {1, 0}: ties count half: 0.5 + 1 + 0.5 + 1 = 3/4 again; with
  // set "b" (OOD {5}): every ID score below -> 0%.
  const src: TableSource = {
    methods: ["toy", "absent"],
    results: new Map([["toy", [
      stage([3, 1], { a: [2, 0], b: [5] }),
      stage([1, 1], { a: [1, 0], b: [5] }),
    ]]]),
    seeds: [4, 5],
    oodNames: ["a", "b"],
    fprConvention: "paper",
    ci: null,
  };
  const rows = metricRows(src);
  assert.equal(rows.longRows[0], "method,dataset,seed,auroc,fpr95,aupr_in,aupr_out");
  assert.deepEqual(rows.longRows.slice(1).map((r) => r.split(",").slice(0, 4)), [
    ["toy", "a", "4", "75.0000"],
    ["toy", "a", "5", "75.0000"],
    ["toy", "b", "4", "0.0000"],
    ["toy", "b", "5", "0.0000"],
  ]);
  assert.equal(rows.entries.length, 2, "one entry per set of the method that ran");
  assert.deepEqual(rows.entries[0].values.auroc, [75, 75]);
  assert.equal(rows.ciRows.length, 1, "header only without --ci");
});

Deno.test("metricRows with ci: intervals bracket the estimate; average and group intervals exist", () => {
  const id = Array.from({ length: 40 }, (_, i) => i / 10);
  const src: TableSource = {
    methods: ["toy"],
    results: new Map([["toy", [
      stage(id, { a: id.map((v) => v - 1), b: id.map((v) => v - 2), c: id.map((v) => v + 1) }),
    ]]]),
    seeds: [0],
    oodNames: ["a", "b", "c"],
    oodGroups: { near: ["a"], far: ["b", "c"] },
    fprConvention: "paper",
    ci: { resamples: 50, seed: 3 },
  };
  const rows = metricRows(src);
  assert.equal(rows.ciRows.length, 1 + 3 * 4);
  for (const r of rows.ciRows.slice(1)) {
    const [, , , est, low, high, resamples, seed] = r.split(",");
    assert.ok(Number(low) <= Number(est) + 1e-9 && Number(est) <= Number(high) + 1e-9, r);
    assert.equal(resamples, "50");
    assert.equal(seed, "3");
  }
  assert.ok(rows.averageCi.toy.auroc.low <= rows.averageCi.toy.auroc.high);
  assert.deepEqual(Object.keys(rows.groupCi).length, 2);
});

Deno.test("hyperparameterRows: chosen values, the chosen trial's val AUROC, candidate count", () => {
  const trials = [
    { params: { k: 1 }, auroc: 0.5 },
    { params: { k: 2 }, auroc: 0.8125 },
  ];
  const src: TableSource = {
    methods: ["knn", "msp"],
    results: new Map([
      ["knn", [stage([1], { a: [0] }, { chosen: { k: 2 }, trials })]],
      ["msp", [stage([1], { a: [0] })]],
    ]),
    seeds: [7],
    oodNames: ["a"],
    fprConvention: "paper",
    ci: null,
  };
  assert.deepEqual(hyperparameterRows(src), [
    "method,seed,chosen,val_auroc,candidates",
    'knn,7,"k=2",81.2500,2',
    'msp,7,"(none)",,1',
  ]);
});

Deno.test("extendedTables: the files of <protocol>/ in commit order, notes in order", () => {
  const src: TableSource = {
    methods: ["toy"],
    results: new Map([["toy", [stage([3, 1], { a: [2, 0] }, { note: "toy note" })]]]),
    seeds: [0],
    oodNames: ["a"],
    fprConvention: "paper",
    ci: { resamples: 20, seed: 0 },
  };
  const { files } = extendedTables(src, {
    protocol: "paper",
    synthetic: true,
    protocolNote: "FIRST",
    notes: ["toy note"],
    testTimeNote: "LAST",
  });
  assert.deepEqual(files.map(([n]) => n), [
    "paper/table1_extended.csv",
    "paper/table1_extended.md",
    "paper/metrics.csv",
    "paper/hyperparameters.csv",
    "paper/metrics_ci.csv",
  ]);
  const md = files[1][1];
  const at = (s: string) => md.indexOf(s);
  assert.ok(at("FIRST") < at("95% CI: percentile bootstrap, 20 resamples"));
  assert.ok(at("95% CI") < at("toy note") && at("toy note") < at("SYNTHETIC DATA"));
  assert.ok(at("SYNTHETIC DATA") < at("LAST"));
  assert.match(
    md,
    /\| Toy +\| +0\.50 \| +75\.00 \|/,
    "the label and the seconds of the stage, AUROC 3/4",
  );
});
