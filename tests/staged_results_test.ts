/**
 * The table and figure writers stage their results (tasks/_shared/result_dir.ts): a rerun that
 * runs out of disk space part-way through writing its tables leaves the previous result byte for
 * byte (mtimes included), with one error line naming the file under --out and no staging or temp
 * file left behind. One case per writer family: `tables`, `table1-extended --demo` and an ablation
 * (`groups-ablation --demo`), each at its smallest settings.
 *
 * Each previous result is made on a small tmpfs (or the ENOSPC simulation, tests/hostile_fs.ts),
 * the disk is then filled to a few free pages, and the rerun needs more than that: its new files
 * all exist side by side with the old ones until the commit.
 */
import assert from "node:assert/strict";
import {
  describeRun,
  FIXTURE_BACKBONE,
  FIXTURE_C,
  FIXTURE_D,
  ok,
  runWith,
  snapshotTree,
  withTempDir,
  writeFixture,
} from "./cli_helpers.ts";
import { smallDisk } from "./hostile_fs.ts";
import { writeHead } from "../lib/io/head.ts";
import { createRng } from "../lib/random.ts";

/** Settings of one full-disk case. */
interface DiskCase {
  file: string;
  /** Arguments of the run that makes the previous result. */
  previous: (out: string) => string[];
  /** Arguments of the rerun that must fail (a different, larger result). */
  rerun: (out: string) => string[];
  /**
   * Bytes left free before the rerun: on tmpfs (4 KiB pages) two pages hold the run's lock and
   * one staged file, so the second staged file fails; the simulation counts bytes instead.
   */
  free: { tmpfs: number; simulated: number };
  /** The first file the rerun stages: the error must come later, once new files exist. */
  firstStaged: string;
}

async function fullDiskRerun(root: string, name: string, c: DiskCase) {
  const disk = await smallDisk(`${root}/disk_${name}`, root, 4 << 20);
  try {
    const out = `${disk.dir}/out`;
    await ok(c.file, c.previous(out));
    await disk.fill(c.free);
    const before = await snapshotTree(out);
    const args = c.rerun(out);
    const r = await runWith(c.file, args, disk);
    const after = await snapshotTree(out);
    return { kind: disk.kind, out, args, r, before, after, firstStaged: c.firstStaged };
  } finally {
    await disk.release();
  }
}

function checkFailedRerun(file: string, res: Awaited<ReturnType<typeof fullDiskRerun>>): void {
  const why = describeRun(file, res.args, res.r);
  // Before the fix (tables wrote each file in place; table1-extended and the ablations had no
  // staging) the rerun replaced some files before the disk filled up, or finished.
  assert.equal(res.r.code, 1, why);
  // The pipelines log progress on stderr; the error is its last line, and the only error line.
  const lines = res.r.stderr.trimEnd().split("\n");
  const errors = lines.filter((l) => l.startsWith("error:"));
  assert.deepEqual(errors, [lines[lines.length - 1]], `one error line, last: ${why}`);
  assert.match(errors[0], /no space left/i, why);
  assert.ok(errors[0].includes(`${res.out}/`), `the error names the file under --out: ${why}`);
  assert.doesNotMatch(errors[0], /\.staging\.tmp-|rerun with --debug/, why);
  assert.ok(!errors[0].includes(`${res.out}/${res.firstStaged} `), `fails after staging: ${why}`);
  assert.deepEqual(res.after, res.before, `previous result changed: ${why}`);
}

Deno.test("staged results: a full disk during a rerun leaves the previous result byte for byte", async (t) => {
  await withTempDir(async (root) => {
    const fx = await writeFixture(`${root}/features`);
    const rng = createRng(5);
    const head = `${root}/head`;
    await writeHead(head, {
      info: { kind: "flat", num_classes: FIXTURE_C, groups: [], backbone: FIXTURE_BACKBONE },
      weight: {
        data: new Float32Array(FIXTURE_C * FIXTURE_D).map(() => rng.normal()),
        rows: FIXTURE_C,
        cols: FIXTURE_D,
      },
      bias: new Float32Array(FIXTURE_C),
    });
    const scores = `${root}/scores`;
    await ok("score.ts", [
      "--head",
      head,
      "--id",
      fx.val,
      "--ood",
      `far=${fx.ood.far}`,
      "--ood",
      `faint=${fx.ood.faint}`,
      "--methods",
      "msp,energy",
      "--ci",
      "--resamples",
      "20",
      "--out",
      scores,
    ]);

    await t.step("tables", async () => {
      const res = await fullDiskRerun(root, "tables", {
        file: "tables.ts",
        previous: (out) => ["--scores", scores, "--out", out],
        rerun: (out) => ["--scores", scores, "--out", out, "--ci", "--title", "rerun"],
        free: { tmpfs: 8192, simulated: 1024 },
        firstStaged: "table1.csv",
      });
      checkFailedRerun("tables.ts", res);
    });

    await t.step("table1-extended --demo", async () => {
      const tiny = [
        "--demo",
        "--dim",
        "8",
        "--train-per-class",
        "2",
        "--val-per-class",
        "1",
        "--ood-count",
        "20",
        "--steps",
        "5",
        "--methods",
        "msp,energy",
      ];
      const res = await fullDiskRerun(root, "t1e", {
        file: "table1_extended.ts",
        previous: (out) => [...tiny, "--out", out],
        // Every stage is reused; only the tables change (CI columns and metrics_ci.csv).
        rerun: (out) => [...tiny, "--out", out, "--ci", "--resamples", "20"],
        free: { tmpfs: 8192, simulated: 2048 },
        firstStaged: "paper/table1_extended.csv",
      });
      checkFailedRerun("table1_extended.ts", res);
    });

    await t.step("groups-ablation --demo", async () => {
      const args = (out: string) => [
        "--demo",
        "--dim",
        "8",
        "--train-per-class",
        "2",
        "--steps",
        "5",
        "--levels",
        "0",
        "--strategies",
        "taxonomy",
        "--out",
        out,
      ];
      // The same command again: the head is reused, the tables and the figure are rewritten.
      const res = await fullDiskRerun(root, "ablation", {
        file: "groups_ablation.ts",
        previous: args,
        rerun: args,
        free: { tmpfs: 8192, simulated: 1024 },
        firstStaged: "table2.csv",
      });
      checkFailedRerun("groups_ablation.ts", res);
    });
  });
});
