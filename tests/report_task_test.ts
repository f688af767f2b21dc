/**
 * `deno task report` as a subprocess: it writes DIR/report.html (staged: nothing else appears or
 * changes in DIR), rewrites it byte for byte, and fails cleanly, leaving DIR as it was, on a
 * missing or wrong --results, a report.html this toolkit did not write, and a DIR another process
 * holds locked.
 */
import assert from "node:assert/strict";
import { acquireLock } from "../lib/io/lock.ts";
import { isToolkitReport } from "../lib/report/page.ts";
import { writeResultsFixture } from "../lib/report/test_fixture.ts";
import { expectError, ok, snapshotTree, withTempDir } from "./cli_helpers.ts";

async function fixture(dir: string): Promise<string> {
  const root = `${dir}/results`;
  await Deno.mkdir(root);
  await writeResultsFixture(root, `${dir}/outside`);
  // The fixture's symbolic links are lib/report/scan_test.ts's business; snapshots follow links.
  await Deno.remove(`${root}/linked`);
  await Deno.remove(`${root}/leak.svg`);
  return root;
}

Deno.test("report: writes DIR/report.html and nothing else, the same bytes on a rerun", async () => {
  await withTempDir(async (dir) => {
    const root = await fixture(dir);
    const before = (await snapshotTree(root))!;
    const r = await ok("report.ts", ["--results", root]);
    assert.match(
      r.stdout,
      new RegExp(
        `^wrote ${root}/report\\.html: 4 table files, 3 figures, curves and histograms of 4 ` +
          "methods, 4 manifests \\(\\d+\\.\\d s\\)\\n$",
      ),
    );
    assert.equal(r.stderr, "", "no warnings for the fixture");
    const after = (await snapshotTree(root))!;
    const added = Object.keys(after).filter((k) => !(k in before));
    assert.deepEqual(added, ["report.html"], "only the report appears (no lock, temp, staging)");
    for (const k of Object.keys(before)) assert.deepEqual(after[k], before[k], `${k} unchanged`);
    const html = await Deno.readTextFile(`${root}/report.html`);
    assert.ok(isToolkitReport(html));
    await ok("report.ts", ["--results", `${root}/`]);
    assert.equal(await Deno.readTextFile(`${root}/report.html`), html, "rebuilt byte for byte");
  });
});

Deno.test("report: bad --results, a foreign report.html and a locked directory fail cleanly", async () => {
  await withTempDir(async (dir) => {
    const root = await fixture(dir);
    await expectError("report.ts", [], {
      code: 2,
      mentions: ["--results is required"],
      unchanged: [root],
    });
    await expectError("report.ts", ["--results", `${dir}/nope`], {
      code: 1,
      mentions: [`--results ${dir}/nope not found`],
      unchanged: [`${dir}/nope`],
    });
    await expectError("report.ts", ["--results", `${root}/table1.md`], {
      code: 1,
      mentions: ["is not a directory"],
      unchanged: [root],
    });
    // Someone's own page under the report's name: left alone.
    await Deno.writeTextFile(`${root}/report.html`, "<html><body>my notes</body></html>\n");
    await expectError("report.ts", ["--results", root], {
      code: 1,
      mentions: [`${root}/report.html`, "not written by this toolkit"],
      unchanged: [root],
    });
    // A link under that name is not replaced either (nor followed).
    await Deno.remove(`${root}/report.html`);
    await Deno.writeTextFile(
      `${dir}/target.html`,
      '<meta name="generator" content="mos-toolkit report">',
    );
    await Deno.symlink(`${dir}/target.html`, `${root}/report.html`);
    await expectError("report.ts", ["--results", root], {
      code: 1,
      mentions: ["not written by this toolkit"],
      unchanged: [root, `${dir}/target.html`],
    });
    await Deno.remove(`${root}/report.html`);
    // Another live process is writing there.
    const lock = await acquireLock(root, "table1");
    try {
      await expectError("report.ts", ["--results", root], {
        code: 1,
        mentions: [`${root} is in use by process ${Deno.pid}`, "table1"],
        unchanged: [root],
      });
    } finally {
      lock.release();
    }
    await ok("report.ts", ["--results", root]);
  });
});
