import assert from "node:assert/strict";
import { writeFileAtomic } from "./atomic.ts";
import {
  cleanupLiveResources,
  liveResources,
  makeDirTracked,
  removeEmptyDirs,
  SETTLE_ROUNDS,
  trackResource,
} from "./cleanup.ts";
import { acquireLock } from "./lock.ts";
import { commitStaging, createStaging, discardStaging } from "./staging.ts";
import { entryTree } from "../../tests/cli_helpers.ts";

async function withTempDir(fn: (dir: string) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    cleanupLiveResources(0); // a failed assertion must not leak entries into the next test
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("cleanup: removes temps and staging dirs, releases locks, keeps foreign and finished files", async () => {
  await withTempDir(async (dir) => {
    assert.deepEqual(liveResources(), []);
    const out = `${dir}/a/b/out`;
    const made = await makeDirTracked(out);
    assert.deepEqual(made, [out, `${dir}/a/b`, `${dir}/a`], "deepest first");
    await Deno.writeTextFile(`${dir}/foreign.txt`, "not ours");
    const lock = await acquireLock(out, "test");
    const staging = await createStaging(out);
    await Deno.mkdir(`${staging}/scores`);
    await Deno.writeTextFile(`${staging}/scores/id.npy`, "half");
    const tmp = `${out}/metrics.csv.tmp-${Deno.pid}-abc`;
    await Deno.writeTextFile(tmp, "partial");
    trackResource("temp file", tmp);
    const scratch = `${dir}/scratch`;
    await Deno.mkdir(`${scratch}/deep`, { recursive: true });
    trackResource("temp dir", scratch);
    trackResource("temp file", `${out}/never-created.tmp-${Deno.pid}-x`);
    assert.deepEqual(liveResources().map((r) => r.kind), [
      "new dir",
      "new dir",
      "new dir",
      "lock",
      "staging dir",
      "temp file",
      "temp dir",
      "temp file",
    ]);

    const report = cleanupLiveResources();
    // 3 temp files / dirs that existed + 1 already gone; the new dirs are counted apart.
    assert.deepEqual(report, { locks: 1, removed: 4, failed: [] });
    assert.deepEqual(entryTree(dir), ["foreign.txt"], "everything this run made is gone");
    assert.deepEqual(liveResources(), []);
    lock.release(); // idempotent after the cleanup released it
  });
});

Deno.test("cleanup: new directories go only while empty; finished outputs stay", async () => {
  await withTempDir(async (dir) => {
    const out = `${dir}/out`;
    await makeDirTracked(out);
    await makeDirTracked(`${out}/heads/flat`);
    await Deno.writeTextFile(`${out}/heads/flat/head.json`, "{}");
    await makeDirTracked(`${out}/scores/mos`);
    const lock = await acquireLock(out, "test");
    assert.deepEqual(cleanupLiveResources(), { locks: 1, removed: 0, failed: [] });
    assert.deepEqual(entryTree(dir), [
      "out/",
      "out/heads/",
      "out/heads/flat/",
      "out/heads/flat/head.json",
    ]);
    lock.release();
    // removeEmptyDirs is the same rule for a failed start.
    await Deno.mkdir(`${dir}/e1/e2`, { recursive: true });
    removeEmptyDirs([`${dir}/e1/e2`, `${dir}/e1`, `${dir}/out`, `${dir}/missing`]);
    assert.deepEqual(entryTree(dir), [
      "out/",
      "out/heads/",
      "out/heads/flat/",
      "out/heads/flat/head.json",
    ]);
  });
});

Deno.test("cleanup: finished writers deregister, so a later cleanup touches nothing of theirs", async () => {
  await withTempDir(async (dir) => {
    await writeFileAtomic(`${dir}/x.bin`, new Uint8Array([1, 2]));
    await assert.rejects(writeFileAtomic(`${dir}/nope/y.bin`, new Uint8Array([3])));
    const lock = await acquireLock(dir, "test");
    assert.equal(liveResources().filter((r) => r.kind === "lock").length, 1);
    const s1 = await createStaging(dir);
    await Deno.writeTextFile(`${s1}/a.txt`, "a");
    await commitStaging(s1, dir, []);
    const s2 = await createStaging(dir);
    await discardStaging(s2);
    lock.release();
    assert.deepEqual(liveResources(), [], "nothing stays registered after a normal run");
    assert.deepEqual(entryTree(dir), ["a.txt", "x.bin"]);
  });
});

Deno.test("cleanup: a failing cleanup is reported and the others still run", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/t.tmp-1-a`, "x");
    trackResource("temp file", `${dir}/t.tmp-1-a`);
    trackResource("temp file", `${dir}/odd`, () => {
      throw new Error("Device or resource busy (os error 16)\nsecond line");
    });
    const report = cleanupLiveResources(0);
    assert.deepEqual(report, {
      locks: 0,
      removed: 1,
      failed: [`${dir}/odd (Device or resource busy (os error 16))`],
    });
    assert.deepEqual(entryTree(dir), []);
  });
});

Deno.test("cleanup: a later pass removes a registered file created after the first", async () => {
  await withTempDir((dir) => {
    const late = `${dir}/late.tmp-${Deno.pid}-z`;
    let calls = 0;
    // Stands in for an open that the runtime's worker thread completes after the first pass.
    trackResource("temp file", late, () => {
      calls++;
      try {
        Deno.removeSync(late);
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
      if (calls === 1) Deno.writeTextFileSync(late, "landed late");
    });
    assert.deepEqual(cleanupLiveResources(5), { locks: 0, removed: 1, failed: [] });
    assert.equal(calls, 1 + SETTLE_ROUNDS);
    assert.deepEqual(entryTree(dir), []);
  });
});
