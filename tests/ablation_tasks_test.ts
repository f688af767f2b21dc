/**
 * groups-ablation and grouping end to end as subprocesses with `--demo` at tiny sizes (D 8, 2
 * training images per class, 5 steps): the tables have the paper's layout and one row per
 * configuration, every SVG parses and shows the expected series / bars, and a rerun reuses every
 * finished head without touching it.
 */
import assert from "node:assert/strict";
import { parse } from "npm:csv-parse@7.0.3/sync";
import { inspectSvg } from "../lib/figures/svg_inspect.ts";
import { describeRun, runTask, snapshotTree, withTempDir } from "./cli_helpers.ts";

const TINY = ["--demo", "--dim", "8", "--train-per-class", "2", "--steps", "5"];
const OOD = ["novel-groups", "novel-classes", "group-mixtures", "diffuse-texture"];

async function ok(file: string, args: string[]) {
  const r = await runTask(file, args);
  assert.equal(r.code, 0, describeRun(file, args, r));
  return r;
}

async function csv(path: string): Promise<Record<string, string>[]> {
  return parse(await Deno.readTextFile(path), { columns: true }) as Record<string, string>[];
}

async function marks(path: string) {
  return inspectSvg(await Deno.readTextFile(path));
}

Deno.test("groups-ablation --demo: Table 2 rows per level x strategy, counts beside the paper, resumable", async () => {
  await withTempDir(async (dir) => {
    const out = `${dir}/ga`;
    const args = [
      ...TINY,
      "--levels",
      "-1,0",
      "--strategies",
      "taxonomy,random",
      "--out",
      out,
    ];
    const first = await ok("groups_ablation.ts", args);
    const rows = await csv(`${out}/table2.csv`);
    assert.deepEqual(
      rows.map((r) => [r.Level, r.K, r["K paper"], r.Strategy]),
      [
        ["-1", "6", "6", "taxonomy"],
        ["-1", "6", "6", "random grouping"],
        ["0", "8", "8", "taxonomy"],
        ["0", "8", "8", "random grouping"],
      ],
    );
    for (const r of rows) {
      for (const d of OOD) {
        const auroc = Number(r[`${d} AUROC`]);
        assert.ok(auroc >= 0 && auroc <= 100, `${d} AUROC ${r[`${d} AUROC`]}`);
      }
      const mean = OOD.reduce((s, d) => s + Number(r[`${d} FPR95`]), 0) / OOD.length;
      assert.ok(Math.abs(mean - Number(r["Average FPR95"])) <= 0.01, "Average = mean of the sets");
    }
    const counts = await csv(`${out}/group_counts.csv`);
    assert.deepEqual(counts.map((c) => [c.Level, c["K (ours)"], c["K (paper)"]]), [
      ["-1", "6", "6"],
      ["0", "8", "8"],
    ]);
    // Level 0 is the paper's 8 super-classes with their exact sizes.
    assert.match(counts[1].Groups, /animal \(398\), artifact \(521\), geological formation \(9\)/);
    assert.match(counts[0].Groups, /animal \+ plant \+ fungus \(407\)/);
    // stdout: the compact terminal views (titles without Markdown's "###"), 100 columns at most.
    assert.match(first.stdout, /^Table 2: /m);
    assert.match(first.stdout, /^Groups per taxonomy level/m);
    for (const line of first.stdout.split("\n")) assert.ok(line.length <= 100, line);
    // 2 strategies x 4 OOD sets x 2 metrics.
    assert.equal((await marks(`${out}/fig_table2.svg`)).marks.line, 16);

    const heads = await snapshotTree(`${out}/heads`);
    const again = await ok("groups_ablation.ts", args);
    assert.match(again.stderr, /4 heads \(0 trained, 4 reused\)/);
    assert.deepEqual(await snapshotTree(`${out}/heads`), heads, "heads untouched on rerun");
  });
});

Deno.test("grouping --demo: Figure 6 table and figures 6, 11, 12, 13 with the right marks", async () => {
  await withTempDir(async (dir) => {
    const out = `${dir}/gr`;
    await ok("grouping.ts", [...TINY, "--out", out, "--png"]);
    const rows = await csv(`${out}/fig6.csv`);
    assert.deepEqual(rows.map((r) => [r.Method, r.K]), [
      ["MSP", "1"],
      ["MOS (taxonomy)", "8"],
      ["MOS (feature clustering)", "8"],
      ["MOS (random grouping)", "8"],
    ]);
    for (const r of rows) {
      const acc = Number(r["ID accuracy (%)"]);
      assert.ok(acc >= 0 && acc <= 100, `accuracy ${r["ID accuracy (%)"]}`);
    }
    // 2 metrics x 4 OOD sets x 4 methods, plus 4 accuracy bars.
    const fig6 = await marks(`${out}/fig6.svg`);
    assert.equal(fig6.marks.rect, 36);
    // Bars are named by classifier and score (the flat head's bar is not just "MSP"), in one
    // legend for both charts.
    assert.deepEqual(fig6.legendLabels, [
      "flat softmax (MSP)",
      "group softmax (MOS), taxonomy",
      "group softmax (MOS), feature clustering",
      "group softmax (MOS), random grouping",
    ]);
    const roc = await marks(`${out}/fig11.svg`);
    assert.equal(roc.marks.line, 8, "MSP and MOS on 4 OOD sets");
    assert.deepEqual(roc.legendLabels, ["flat softmax (MSP)", "group softmax (MOS)"]);
    assert.equal((await marks(`${out}/fig12.svg`)).marks.rect, 64, "8 ID groups x 8 bars");
    assert.equal((await marks(`${out}/fig13.svg`)).marks.rect, 32, "4 OOD sets x 8 bars");
    const png = await Deno.readFile(`${out}/fig6.png`);
    assert.deepEqual([...png.subarray(1, 4)], [80, 78, 71], "PNG signature");
  });
});
