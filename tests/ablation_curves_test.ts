/**
 * num-classes and backbones end to end as subprocesses with `--demo` at tiny sizes: one table row
 * per configuration and method, class subsets relabelled to 0..C-1, the two settings sharing the
 * configuration where they meet, and figures with one line per method per OOD set and metric.
 */
import assert from "node:assert/strict";
import { parse } from "npm:csv-parse@7.0.3/sync";
import { inspectSvg } from "../lib/figures/svg_inspect.ts";
import { readFeatureSet } from "../lib/io/feature_set.ts";
import { readHead } from "../lib/io/head.ts";
import { describeRun, runTask, withTempDir } from "./cli_helpers.ts";

const TINY = ["--demo", "--dim", "8", "--train-per-class", "2", "--steps", "5"];

async function ok(file: string, args: string[]) {
  const r = await runTask(file, args);
  assert.equal(r.code, 0, describeRun(file, args, r));
  return r;
}

async function csv(path: string): Promise<Record<string, string>[]> {
  return parse(await Deno.readTextFile(path), { columns: true }) as Record<string, string>[];
}

Deno.test("num-classes --demo: per-class and fixed-total settings, subsets, Figures 2, 5, 9", async () => {
  await withTempDir(async (dir) => {
    const out = `${dir}/nc`;
    const r = await ok("num_classes.ts", [
      ...TINY,
      "--classes",
      "20,40",
      "--per-class",
      "2",
      "--total-images",
      "40",
      "--out",
      out,
    ]);
    const rows = await csv(`${out}/num_classes.csv`);
    assert.deepEqual(
      rows.map((x) => [x.Setting, x.C, x["Train images per class"], x.Method]),
      [
        ["fixed images per class", "20", "2", "MSP"],
        ["fixed images per class", "20", "2", "MOS"],
        ["fixed images per class", "40", "2", "MSP"],
        ["fixed images per class", "40", "2", "MOS"],
        ["fixed total images", "20", "2", "MSP"],
        ["fixed total images", "20", "2", "MOS"],
        ["fixed total images", "40", "1", "MSP"],
        ["fixed total images", "40", "1", "MOS"],
      ],
    );
    // C = 20 with 2 per class is one configuration shared by both settings: 3 subsets, 6 heads.
    assert.equal(r.stderr.match(/: trained, /g)?.length, 6, r.stderr);
    const train = await readFeatureSet(`${out}/subsets/c40_n1/train`);
    assert.equal(train.features.rows, 40);
    assert.deepEqual([...new Set(train.labels)].sort((a, b) => a - b), [
      ...Array(40).keys(),
    ]);
    assert.equal((train.meta.classes as number[]).length, 40);
    const mos = await readHead(`${out}/heads/c40_n1_mos`);
    assert.equal(mos.info.num_classes, 40);
    assert.equal(mos.info.groups.flat().length, 40, "taxonomy groups restricted to the subset");
    const lines = async (name: string) =>
      inspectSvg(await Deno.readTextFile(`${out}/${name}.svg`)).marks.line;
    assert.equal(await lines("fig2"), 8, "MSP on 4 OOD sets x 2 metrics");
    assert.equal(await lines("fig5"), 16, "MSP and MOS on 4 OOD sets x 2 metrics");
    assert.equal(await lines("fig9"), 16);
    // A tick labelled at the smallest C (here 20) under every panel.
    const fig5 = inspectSvg(await Deno.readTextFile(`${out}/fig5.svg`));
    const xAxes = fig5.axes.filter((a) => a.orient === "x" && a.labels.length > 0);
    assert.equal(xAxes.length, 4);
    for (const a of xAxes) assert.deepEqual(a.labels, ["20", "40"]);
  });
});

Deno.test("backbones --demo: flat vs group per backbone, Figure 7", async () => {
  await withTempDir(async (dir) => {
    const out = `${dir}/bb`;
    await ok("backbones.ts", [...TINY, "--dims", "4,8", "--out", out]);
    const rows = await csv(`${out}/fig7.csv`);
    assert.deepEqual(rows.map((x) => [x.Backbone, x.Head, x.Method]), [
      ["D=4", "flat", "MSP"],
      ["D=4", "group", "MOS"],
      ["D=8", "flat", "MSP"],
      ["D=8", "group", "MOS"],
    ]);
    const svg = inspectSvg(await Deno.readTextFile(`${out}/fig7.svg`));
    // MSP and MOS on 4 OOD sets x 2 metrics, plus the flat and group accuracy lines.
    assert.equal(svg.marks.line, 16 + 2);
    // One legend: the detection lines and the accuracy lines are the same two heads.
    assert.deepEqual(svg.legendLabels, ["flat softmax (MSP)", "group softmax (MOS)"]);
    // The flat line is dashed and the group line solid, so equal values stay visible.
    assert.deepEqual(new Set(svg.lines.map((l) => l.dash)), new Set(["6,3", ""]));
  });
});
