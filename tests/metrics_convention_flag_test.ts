/**
 * `--metrics-convention` and its old name `--fpr-convention`: same values, either accepted, the
 * two with different values a usage error (exit 2), in score and table1-extended.
 */
import assert from "node:assert/strict";
import { DataError, UsageError } from "../lib/errors.ts";
import { parseFlags } from "../tasks/_shared/cli.ts";
import {
  metricsConventionFlag,
  scoreDirsConvention,
} from "../tasks/_shared/metrics_convention_flag.ts";
import { parseScoreFlags, SPEC as SCORE_SPEC } from "../tasks/score.ts";
import { buildPaperTables } from "../tasks/tables.ts";
import { SPEC as TABLE1_EXTENDED_SPEC } from "../tasks/table1_extended.ts";
import { describeRun, runTask, withTempDir } from "./cli_helpers.ts";

const SCORE_BASE = ["--head", "h", "--id", "i", "--ood", "far=o"];

function scoreConvention(extra: string[]): string {
  return parseScoreFlags(parseFlags(SCORE_SPEC, [...SCORE_BASE, ...extra]).values).fprConvention;
}

Deno.test("metricsConventionFlag: either name, same values; a disagreement names both flags", () => {
  assert.equal(metricsConventionFlag({}, "paper"), "paper");
  assert.equal(metricsConventionFlag({}, "openood"), "openood");
  assert.equal(metricsConventionFlag({ "metrics-convention": "openood" }, "paper"), "openood");
  assert.equal(metricsConventionFlag({ "fpr-convention": "openood" }, "paper"), "openood");
  assert.equal(metricsConventionFlag({ "fpr-convention": "paper" }, "openood"), "paper");
  assert.equal(
    metricsConventionFlag(
      { "metrics-convention": "openood", "fpr-convention": "openood" },
      "paper",
    ),
    "openood",
  );
  assert.throws(
    () =>
      metricsConventionFlag(
        { "metrics-convention": "paper", "fpr-convention": "openood" },
        "paper",
      ),
    (e: unknown) =>
      e instanceof UsageError && e.message.includes("--metrics-convention paper") &&
      e.message.includes("--fpr-convention openood") && !e.message.includes("\n"),
  );
  for (const name of ["metrics-convention", "fpr-convention"]) {
    assert.throws(
      () => metricsConventionFlag({ [name]: "sklearn" }, "paper"),
      (e: unknown) => e instanceof UsageError && e.message.includes(`--${name}`),
    );
  }
});

Deno.test("score and table1-extended take both names; score defaults to paper", () => {
  assert.equal(scoreConvention([]), "paper");
  assert.equal(scoreConvention(["--metrics-convention", "openood"]), "openood");
  assert.equal(scoreConvention(["--fpr-convention", "openood"]), "openood");
  assert.throws(
    () => scoreConvention(["--fpr-convention", "openood", "--metrics-convention", "paper"]),
    UsageError,
  );
  for (const spec of [SCORE_SPEC, TABLE1_EXTENDED_SPEC]) {
    assert.ok(spec.flags["metrics-convention"]?.help.includes("AUPR"), spec.name);
    assert.ok(spec.flags["fpr-convention"]?.help.includes("old name"), spec.name);
    // No default: an absent flag must be told apart from a given one.
    assert.ok(!("default" in spec.flags["metrics-convention"]), spec.name);
    assert.ok(!("default" in spec.flags["fpr-convention"]), spec.name);
  }
});

Deno.test("table1-extended: the two names disagreeing is exit 2 before anything is written", async () => {
  await withTempDir(async (dir) => {
    const out = `${dir}/out`;
    const args = [
      "--demo",
      "--out",
      out,
      "--metrics-convention",
      "openood",
      "--fpr-convention",
      "paper",
    ];
    const r = await runTask("table1_extended.ts", args);
    assert.equal(r.code, 2, describeRun("table1_extended.ts", args, r));
    assert.match(r.stderr, /--metrics-convention openood and --fpr-convention paper disagree/);
    await assert.rejects(() => Deno.stat(out), Deno.errors.NotFound);
  });
});

/** A score directory with one metrics.csv row and, unless `config` is null, a score manifest. */
async function scoreDir(dir: string, config: Record<string, unknown> | null): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/metrics.csv`,
    `method,dataset,auroc,fpr95,aupr_in,aupr_out\n${dir.split("/").pop()},far,90,30,80,70\n`,
  );
  if (config) {
    await Deno.writeTextFile(
      `${dir}/manifest.json`,
      JSON.stringify({ stage: "score", config, inputs: {} }),
    );
  }
  return dir;
}

Deno.test("tables: score directories carry their convention; mixed ones are refused", async () => {
  await withTempDir(async (dir) => {
    const paper = await scoreDir(`${dir}/msp`, { metrics_convention: "paper" });
    const legacyPaper = await scoreDir(`${dir}/energy`, { fpr_convention: "paper" });
    const open = await scoreDir(`${dir}/mos`, { metrics_convention: "openood" });
    const bare = await scoreDir(`${dir}/kl`, null);
    const legacyOpen = await scoreDir(`${dir}/odin`, { fpr_convention: "openood" });
    assert.equal(await scoreDirsConvention([paper, legacyPaper, bare]), "paper");
    assert.equal(await scoreDirsConvention([bare]), null);
    assert.equal(await scoreDirsConvention([open, bare]), "openood");
    await assert.rejects(
      () => scoreDirsConvention([paper, open]),
      (e: unknown) =>
        e instanceof DataError && e.message.includes(paper) && e.message.includes(open),
    );
    await assert.rejects(
      () => scoreDirsConvention([legacyOpen]),
      (e: unknown) => e instanceof DataError && e.message.includes("--metrics-convention openood"),
    );
    // The tables say which convention an openood table uses, and nothing for the paper's.
    const t = await buildPaperTables({ scoreDirs: [open, bare] });
    assert.ok(t.table1.notes?.some((n) => n.includes("OpenOOD v1.5 convention")));
    assert.ok(t.table3.notes?.some((n) => n.includes("trapezoid")));
    const p = await buildPaperTables({ scoreDirs: [paper] });
    assert.ok(!p.table1.notes?.some((n) => n.includes("convention")));
    await assert.rejects(() => buildPaperTables({ scoreDirs: [paper, open] }), DataError);
  });
});
