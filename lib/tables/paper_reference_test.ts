import assert from "node:assert/strict";
import { assertClose } from "../../tests/assert_close.ts";
import { DataError } from "../errors.ts";
import {
  defaultPaperDir,
  PAPER_DATASETS,
  PAPER_FILES,
  paperDatasetKey,
  paperMethodKey,
  parsePaperTable1,
  parsePaperTable2,
  parsePaperTable3,
} from "./paper_reference.ts";

const dir = defaultPaperDir();
const t1Text = await Deno.readTextFile(dir + PAPER_FILES.table1);
const t2Text = await Deno.readTextFile(dir + PAPER_FILES.table2);
const t3Text = await Deno.readTextFile(dir + PAPER_FILES.table3);

Deno.test("paper names map to toolkit keys", () => {
  assert.equal(paperMethodKey("KL Matching"), "kl");
  assert.equal(paperMethodKey("MOS (ours)"), "mos");
  assert.equal(paperMethodKey("mahalanobis"), "mahalanobis");
  assert.equal(paperMethodKey("GradNorm"), undefined);
  assert.equal(paperDatasetKey("iNaturalist"), "inaturalist");
  assert.equal(paperDatasetKey("Textures"), "textures");
  assert.equal(paperDatasetKey("novel-groups"), undefined);
});

Deno.test("parsePaperTable1: the published Table 1 (values from the paper's text)", () => {
  const t = parsePaperTable1(t1Text);
  assert.deepEqual(t.map((r) => r.method), ["msp", "odin", "mahalanobis", "energy", "kl", "mos"]);
  assert.equal(t[4].label, "KL Matching");
  const mos = t[5];
  assert.equal(mos.testTimeMin, 3.2);
  assert.deepEqual(mos.datasets.inaturalist, { auroc: 98.15, fpr95: 9.28 });
  assert.deepEqual(mos.datasets.textures, { auroc: 81.23, fpr95: 60.43 });
  assert.deepEqual(mos.average, { auroc: 90.11, fpr95: 39.97 });
  assert.deepEqual(t[2].datasets.sun, { auroc: 65.2, fpr95: 88.43 });
  // The paper's Average is the mean of its four sets, up to its 2-decimal rounding.
  for (const r of t) {
    for (const key of ["auroc", "fpr95"] as const) {
      const m = PAPER_DATASETS.reduce((s, d) => s + r.datasets[d][key], 0) / 4;
      assertClose(r.average[key], m, {
        atol: 0.0051,
        rtol: 0,
        reason: "the paper rounds the average to 2 decimals",
      });
    }
  }
});

Deno.test("parsePaperTable3: 30 rows, consistent with Table 1", () => {
  const t3 = parsePaperTable3(t3Text);
  const t1 = parsePaperTable1(t1Text);
  assert.equal(t3.length, 30);
  assert.deepEqual([...new Set(t3.map((r) => r.dataset))], [...PAPER_DATASETS, "average"]);
  const row = t3.find((r) => r.dataset === "places" && r.method === "kl")!;
  assert.deepEqual(row, {
    dataset: "places",
    method: "kl",
    auroc: 76.49,
    fpr95: 72.61,
    aupr: 93.61,
  });
  for (const r of t3) {
    const p = t1.find((x) => x.method === r.method)!;
    const ref = r.dataset === "average" ? p.average : p.datasets[r.dataset];
    assert.equal(r.auroc, ref.auroc, `${r.method} ${r.dataset} AUROC`);
    assert.equal(r.fpr95, ref.fpr95, `${r.method} ${r.dataset} FPR95`);
  }
});

Deno.test("parsePaperTable2: levels, strategies, and level 0 taxonomy equals MOS in Table 1", () => {
  const t2 = parsePaperTable2(t2Text);
  assert.equal(t2.length, 30);
  assert.deepEqual([...new Set(t2.map((r) => r.level))], [-3, -2, -1, 0, 1, 2, 3, 4, 5, 6]);
  assert.deepEqual([...new Set(t2.map((r) => r.strategy))], ["taxonomy", "clustering", "random"]);
  const base = t2.find((r) => r.level === 0 && r.strategy === "taxonomy")!;
  assert.equal(base.numGroups, 8);
  const mos = parsePaperTable1(t1Text)[5];
  assert.deepEqual(base.datasets, mos.datasets);
  assert.deepEqual(base.average, mos.average);
  const r = t2.find((x) => x.level === 3 && x.strategy === "random")!;
  assert.equal(r.numGroups, 225);
  assert.equal(r.strategyLabel, "random grouping");
  assert.deepEqual(r.datasets.textures, { auroc: 75.07, fpr95: 82.43 });
});

Deno.test("paper parsers: bad files give DataError naming file and line", () => {
  assert.throws(
    () => parsePaperTable1("a,b\n1,2\n", "x.csv"),
    (e) => e instanceof DataError && /x\.csv: header must be/.test(e.message),
  );
  const badMethod = t1Text.replace("ODIN,", "GODIN,");
  assert.throws(
    () => parsePaperTable1(badMethod, "t1.csv"),
    /t1\.csv line 3: unknown method "GODIN"/,
  );
  const badNum = t3Text.replace("87.59,63.69,97.23", "87.59,n/a,97.23");
  assert.throws(() => parsePaperTable3(badNum, "t3.csv"), /t3\.csv line 2: fpr95 must be a number/);
  const badSet = t3Text.replace("SUN,MSP", "LSUN,MSP");
  assert.throws(() => parsePaperTable3(badSet), /unknown data set "LSUN"/);
  const badStrategy = t2Text.replace("random grouping", "k-means");
  assert.throws(() => parsePaperTable2(badStrategy), /unknown strategy "k-means"/);
  assert.throws(
    () => parsePaperTable3('dataset,method\n"open', "q.csv"),
    /q\.csv is not valid CSV/,
  );
});
