/**
 * score --ci writes bootstrap intervals that bracket the metrics.csv estimates and repeat for a
 * seed; tables --ci renders them; tables --ci without them is one clear error.
 */
import assert from "node:assert/strict";
import { parseIntervalsCsv } from "../lib/scoring/score_files.ts";
import { parseMetricsCsv } from "../lib/metrics/metric_row.ts";
import { runTask, withTempDir, writeFixture } from "./cli_helpers.ts";

Deno.test("score --ci and tables --ci: intervals bracket the estimates, seeded", async () => {
  await withTempDir(async (root) => {
    const fx = await writeFixture(`${root}/fx`);
    const head = `${root}/head`;
    let r = await runTask("train_head.ts", [
      "--features",
      fx.train,
      "--out",
      head,
      "--steps",
      "60",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const score = (out: string, extra: string[]) =>
      runTask("score.ts", [
        "--head",
        head,
        "--id",
        fx.val,
        "--ood",
        `faint=${fx.ood.faint}`,
        "--methods",
        "msp,energy",
        "--out",
        out,
        ...extra,
      ]);
    r = await score(`${root}/s1`, ["--ci", "--resamples", "200"]);
    assert.equal(r.code, 0, r.stderr);
    const ci = parseIntervalsCsv(await Deno.readTextFile(`${root}/s1/metrics_ci.csv`), "ci");
    const metrics = parseMetricsCsv(await Deno.readTextFile(`${root}/s1/metrics.csv`));
    assert.equal(ci.length, 2 * 4, "2 methods x 1 OOD set x 4 metrics");
    for (const row of ci) {
      const m = metrics.find((x) => x.method === row.method && x.dataset === row.dataset)!;
      const key = row.metric as "auroc" | "fpr95" | "aupr_in" | "aupr_out";
      assert.ok(Math.abs(row.estimate - m[key]) <= 1e-4, `${row.method} ${key} estimate`);
      assert.ok(
        row.low <= row.estimate + 1e-9 && row.estimate <= row.high + 1e-9,
        `${key} bracket`,
      );
    }
    r = await score(`${root}/s2`, ["--ci", "--resamples", "200"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      await Deno.readTextFile(`${root}/s2/metrics_ci.csv`),
      await Deno.readTextFile(`${root}/s1/metrics_ci.csv`),
      "same seed, same intervals",
    );
    r = await runTask("tables.ts", ["--scores", `${root}/s1`, "--out", `${root}/t`, "--ci"]);
    assert.equal(r.code, 0, r.stderr);
    const md = await Deno.readTextFile(`${root}/t/table1_ci.md`);
    assert.match(md, /\| MSP +\|/);
    assert.match(md, /\| Energy +\|/);

    r = await score(`${root}/s3`, []);
    assert.equal(r.code, 0, r.stderr);
    r = await runTask("tables.ts", ["--scores", `${root}/s3`, "--out", `${root}/t3`, "--ci"]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /metrics_ci\.csv not found; rerun `deno task score \.\.\. --ci`/);
  });
});
