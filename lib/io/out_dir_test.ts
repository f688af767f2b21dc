import assert from "node:assert/strict";
import { prepareOutDir, removeFreshOutDir } from "./out_dir.ts";

Deno.test("removeFreshOutDir: removes only what the run created, and only bookkeeping", async () => {
  const root = await Deno.makeTempDir();
  try {
    // New dir with new parents: all removed again, the pre-existing root kept.
    const a = await prepareOutDir(`${root}/p/q/out`, "--out");
    assert.deepEqual(a.created, [`${root}/p/q/out`, `${root}/p/q`, `${root}/p`]);
    await Deno.writeTextFile(`${root}/p/q/out/.lock`, "{}");
    await Deno.mkdir(`${root}/p/q/out/.checkpoint`);
    await Deno.writeTextFile(`${root}/p/q/out/x.npy.tmp-12-ab`, "");
    await removeFreshOutDir(a);
    assert.deepEqual([...Deno.readDirSync(root)], []);

    // An existing --out is never removed, nor are its files.
    await Deno.mkdir(`${root}/kept`);
    const b = await prepareOutDir(`${root}/kept`, "--out");
    assert.deepEqual(b.created, []);
    await removeFreshOutDir(b);
    assert.ok(Deno.statSync(`${root}/kept`).isDirectory);

    // A fresh dir that meanwhile got a foreign file keeps it (and itself).
    const c = await prepareOutDir(`${root}/fresh`, "--out");
    await Deno.writeTextFile(`${root}/fresh/notes.txt`, "mine");
    await removeFreshOutDir(c);
    assert.equal(Deno.readTextFileSync(`${root}/fresh/notes.txt`), "mine");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("removeFreshOutDir: after a refused lock, another run's lock and checkpoint stay", async () => {
  const root = await Deno.makeTempDir();
  try {
    // Two runs started together both found `out` missing; the other one won the lock.
    const out = { path: `${root}/out`, created: [`${root}/out`] };
    await Deno.mkdir(`${root}/out/.checkpoint`, { recursive: true });
    await Deno.writeTextFile(`${root}/out/.lock`, '{"pid": 1}');
    await removeFreshOutDir(out, { ownsLock: false });
    assert.ok((await Deno.stat(`${root}/out/.lock`)).isFile, "the winner's lock was removed");
    assert.ok((await Deno.stat(`${root}/out/.checkpoint`)).isDirectory);
    // The run that held the lock removes its own bookkeeping, and an empty fresh directory goes
    // whoever failed.
    await removeFreshOutDir(out, { ownsLock: true });
    await assert.rejects(Deno.stat(`${root}/out`), Deno.errors.NotFound);
    await Deno.mkdir(`${root}/out`);
    await removeFreshOutDir(out, { ownsLock: false });
    await assert.rejects(Deno.stat(`${root}/out`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
