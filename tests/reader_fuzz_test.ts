/**
 * Fuzz acceptance test of the readers of `.npy` (whole, header-only, streamed, in memory and as
 * `.npz` members), feature-set `meta.json` and head `head.json` files (issue 11): 2,200 seeded
 * mutations (flipped bytes, lying shapes, dtypes and header lengths, truncation, appended bytes;
 * lying counts, dims, num_classes and groups, wrong types, huge numbers, deep nesting, cut JSON).
 * Each either reads correctly, with the values the file holds, or every reader throws one
 * `DataError` whose message is one line naming the file; nothing else is thrown, no case takes
 * 5 s, and the process never holds more than 512 MB.
 *
 * The loop runs in a child process (tests/reader_fuzz_child.ts) so its peak resident memory
 * (VmHWM) is its own; it reports counts as JSON, printed here for the closing note.
 */
import assert from "node:assert/strict";
import { REPO_ROOT } from "./cli_helpers.ts";
import type { FuzzReport } from "./reader_fuzz_child.ts";

/** Mutations per reader family: 2,200 in all. */
const COUNTS = { npy: 1200, meta: 400, head: 400, npz: 200 };
const SEED = 20250611;
/** The bounds. */
const MAX_CASE_MS = 5000;
const MAX_RSS_KIB = 512 * 1024;

/** A scratch directory on tmpfs when there is one: 9,000 small writes, not disk-bound. */
async function scratchDir(): Promise<string> {
  try {
    return await Deno.makeTempDir({ dir: "/dev/shm", prefix: "mos_fuzz_" });
  } catch {
    return await Deno.makeTempDir({ prefix: "mos_fuzz_" });
  }
}

Deno.test("reader fuzz: 2,200 seeded mutations read correctly or fail with one DataError line", async () => {
  const dir = await scratchDir();
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "tests/reader_fuzz_child.ts",
        String(SEED),
        String(COUNTS.npy),
        String(COUNTS.meta),
        String(COUNTS.head),
        String(COUNTS.npz),
        dir,
      ],
      cwd: REPO_ROOT,
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(120_000),
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, `fuzz child crashed (exit ${out.code}):\n${stderr.slice(-3000)}`);
    const report: FuzzReport = JSON.parse(stdout.trim().split("\n").pop()!);

    const families: Record<string, { ok: number; data_error: number }> = {};
    for (const [kind, c] of Object.entries(report.byKind)) {
      const f = (families[kind.split(":")[0]] ??= { ok: 0, data_error: 0 });
      f.ok += c.ok;
      f.data_error += c.data_error;
    }
    const lines = [
      `reader fuzz (seed ${report.seed}): ${report.mutations} mutations, ${report.ok} read ` +
      `correctly, ${report.dataError} one-line DataErrors, ${report.failures.length} failures; ` +
      `slowest case ${report.maxCaseMs} ms (${report.slowestCase}); peak RSS (VmHWM) ` +
      `${(report.vmHwmKiB / 1024).toFixed(1)} MiB`,
      ...Object.entries(families).map(([f, c]) => `  ${f}: ${c.ok} ok, ${c.data_error} DataError`),
      ...Object.entries(report.byKind).sort().map(([k, c]) =>
        `    ${k}: ${c.ok} ok, ${c.data_error} DataError`
      ),
    ];
    console.log(lines.join("\n"));

    assert.deepEqual(report.failures, [], "every mutation reads correctly or is one DataError");
    const total = COUNTS.npy + COUNTS.meta + COUNTS.head + COUNTS.npz;
    assert.equal(report.mutations, total);
    assert.equal(report.ok + report.dataError, total);
    assert.ok(report.mutations >= 2000);
    // Both outcomes occur in every family, so neither a reader that refuses everything nor one
    // that accepts everything could pass.
    for (const [f, c] of Object.entries(families)) {
      assert.ok(c.ok > 0 && c.data_error > 0, `${f}: ${c.ok} ok, ${c.data_error} DataError`);
    }
    // The audit's cases are among the kinds, and all were refused.
    for (const k of ["npy:append", "npy:truncate", "meta:consistent_lie_count"]) {
      const c = report.byKind[k] ?? { ok: 0, data_error: 0 };
      assert.ok(c.data_error > 0 && c.ok === 0, `${k}: ${c.ok} ok, ${c.data_error} DataError`);
    }
    assert.ok((report.byKind["head:consistent_lie_classes"]?.data_error ?? 0) > 0);
    assert.ok(report.maxCaseMs < MAX_CASE_MS, `slowest case ${report.maxCaseMs} ms`);
    assert.ok(
      report.vmHwmKiB > 0 && report.vmHwmKiB < MAX_RSS_KIB,
      `peak RSS ${report.vmHwmKiB} KiB`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
