/**
 * The demo behaves like real OOD data: `deno task demo` at its default size (the real pipeline:
 * generate, train both heads, score, tables) gives MSP an AUROC between 60% and 95% on every
 * synthetic OOD set, as real ImageNet features give on the paper's four sets (75-90). The AUROC
 * of metrics.csv is recomputed here from the written MSP scores by rank counting, and the notes
 * the demo prints on inverted methods are checked against the metrics: one line for each set on
 * which a method is below 50%, none for the others.
 */
import assert from "node:assert/strict";
import { readNpy } from "../lib/io/npy.ts";
import { OOD_SET_NAMES } from "../lib/synthetic/benchmark.ts";
import { parseMetricsCsv } from "../lib/metrics/metric_row.ts";
import { describeRun, runTask, withTempDir } from "./cli_helpers.ts";

/** AUROC (percent) of ID-vs-OOD scores by sorting and counting ranks, ties counted half. */
function rankAuroc(id: Float32Array, ood: Float32Array): number {
  const all = [...Array.from(id, (v) => [v, 1]), ...Array.from(ood, (v) => [v, 0])];
  all.sort((a, b) => a[0] - b[0]);
  let rankSumId = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j < all.length && all[j][0] === all[i][0]) j++;
    const midRank = (i + 1 + j) / 2; // ranks i+1 .. j share their mean
    for (let t = i; t < j; t++) if (all[t][1] === 1) rankSumId += midRank;
    i = j;
  }
  const n1 = id.length;
  const n0 = ood.length;
  return 100 * (rankSumId - n1 * (n1 + 1) / 2) / (n1 * n0);
}

Deno.test("demo at its default size: MSP AUROC in [60, 95] on every OOD set; notes match the metrics", async () => {
  await withTempDir(async (dir) => {
    const out = `${dir}/demo`;
    const args = ["--out", out];
    const r = await runTask("demo.ts", args);
    assert.equal(r.code, 0, describeRun("demo.ts", args, r));
    const rows = [
      ...parseMetricsCsv(await Deno.readTextFile(`${out}/scores/flat/metrics.csv`)),
      ...parseMetricsCsv(await Deno.readTextFile(`${out}/scores/group/metrics.csv`)),
    ];
    const id = (await readNpy(`${out}/scores/flat/scores/msp/id.npy`)).data as Float32Array;
    assert.equal(id.length, 10000, "default ID test set: 10 per class");
    for (const set of OOD_SET_NAMES) {
      const ood = (await readNpy(`${out}/scores/flat/scores/msp/${set}.npy`)).data as Float32Array;
      assert.equal(ood.length, 3000, "default OOD set size");
      const auroc = rankAuroc(id, ood);
      const row = rows.find((x) => x.method === "msp" && x.dataset === set)!;
      // metrics.csv keeps 4 decimals.
      assert.ok(Math.abs(row.auroc - auroc) < 1e-3, `${set}: ${row.auroc} vs ${auroc}`);
      assert.ok(auroc >= 60 && auroc <= 95, `MSP AUROC on ${set} is ${auroc.toFixed(2)}`);
    }
    // A note line starts "<set>: below chance" exactly for the sets with a method below 50%.
    const inverted = OOD_SET_NAMES.filter((s) => rows.some((x) => x.dataset === s && x.auroc < 50));
    const noted = OOD_SET_NAMES.filter((s) =>
      r.stdout.split("\n").some((l) => l.startsWith(`${s}: below chance`))
    );
    assert.deepEqual(noted, inverted, r.stdout);
    for (const x of rows.filter((x) => x.auroc < 50)) {
      assert.ok(r.stdout.replace(/\s+/g, " ").includes(`${x.auroc.toFixed(2)}%`), x.method);
    }
  });
});
