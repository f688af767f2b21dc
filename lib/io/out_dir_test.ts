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
