import assert from "node:assert/strict";
import { DataError, UsageError } from "../../lib/errors.ts";
import { acquireLock } from "../../lib/io/lock.ts";
import { buildManifest, writeManifest } from "../../lib/io/manifest.ts";
import { removeOwnManifest, withResultDir } from "./result_dir.ts";
import { entryTree, withTempDir } from "../../tests/cli_helpers.ts";

Deno.test("withResultDir: commits staged files (nested ones too), returns final paths, leaves no lock or staging", async () => {
  await withTempDir(async (root) => {
    const out = `${root}/a/b/out`;
    const files = await withResultDir(out, { purpose: "test" }, (dir) =>
      dir.commit(async (w) => {
        assert.equal(await w.text("t.csv", "x,y\n"), `${out}/t.csv`);
        await w.bytes("sub/f.bin", new Uint8Array([1, 2, 3]));
        await w.text("t.md", "| x |\n");
      }, ["t.csv"]));
    assert.deepEqual(files, [`${out}/t.csv`, `${out}/sub/f.bin`, `${out}/t.md`]);
    assert.deepEqual(entryTree(out), ["sub/", "sub/f.bin", "t.csv", "t.md"]);
    assert.equal(Deno.readTextFileSync(`${out}/t.csv`), "x,y\n");
    assert.deepEqual([...Deno.readFileSync(`${out}/sub/f.bin`)], [1, 2, 3]);
  });
});

Deno.test("withResultDir: a failed write keeps the previous files byte for byte and mtime for mtime", async () => {
  await withTempDir(async (root) => {
    const out = `${root}/out`;
    await withResultDir(out, { purpose: "test" }, (dir) =>
      dir.commit(async (w) => {
        await w.text("t.csv", "old csv\n");
        await w.text("t.md", "old md\n");
      }, ["t.csv"]));
    const mtime = (p: string) => Deno.statSync(`${out}/${p}`).mtime?.getTime();
    const before = { csv: mtime("t.csv"), md: mtime("t.md") };
    await new Promise((r) => setTimeout(r, 20)); // a rewrite would show in the mtimes
    await assert.rejects(
      withResultDir(out, { purpose: "test" }, (dir) =>
        dir.commit(async (w) => {
          await w.text("t.csv", "new csv\n");
          await w.text("t.md", "new md\n");
          throw new DataError("disk full while writing the figure");
        }, ["t.csv"])),
      /disk full/,
    );
    assert.deepEqual(entryTree(out), ["t.csv", "t.md"], "no staging directory or lock left");
    assert.equal(Deno.readTextFileSync(`${out}/t.csv`), "old csv\n");
    assert.equal(Deno.readTextFileSync(`${out}/t.md`), "old md\n");
    assert.deepEqual({ csv: mtime("t.csv"), md: mtime("t.md") }, before);
  });
});

Deno.test("withResultDir: a failed run removes the --out (and parents) it created, never an existing one", async () => {
  await withTempDir(async (root) => {
    const fresh = `${root}/p/q/out`;
    await assert.rejects(
      withResultDir(fresh, { purpose: "test" }, () => Promise.reject(new DataError("bad data"))),
      /bad data/,
    );
    assert.deepEqual(entryTree(root), [], "p/q/out created by the failed run are gone");

    const existing = `${root}/kept`;
    await Deno.mkdir(existing);
    await Deno.writeTextFile(`${existing}/notes.txt`, "mine\n");
    await assert.rejects(
      withResultDir(existing, { purpose: "test" }, () => Promise.reject(new DataError("bad"))),
    );
    assert.deepEqual(entryTree(existing), ["notes.txt"]);

    // A fresh --out that got real results before the failure (resume state) is kept.
    const partial = `${root}/partial`;
    await assert.rejects(
      withResultDir(partial, { purpose: "test" }, async (dir) => {
        await dir.commit((w) => w.text("heads.txt", "done\n").then(() => {}), []);
        throw new DataError("later stage failed");
      }),
    );
    assert.deepEqual(entryTree(partial), ["heads.txt"]);
  });
});

Deno.test("withResultDir: holds the lock while the body runs, and refuses overlapping inputs before creating anything", async () => {
  await withTempDir(async (root) => {
    const out = `${root}/out`;
    await withResultDir(out, { purpose: "test" }, async () => {
      await assert.rejects(acquireLock(out, "other"), /in use by process/);
    });
    const lock = await acquireLock(out, "after"); // released again
    lock.release();

    const input = `${root}/input`;
    await Deno.mkdir(input);
    for (const bad of [input, `${input}/out`, root]) {
      let ran = false;
      await assert.rejects(
        withResultDir(
          bad,
          { purpose: "test", inputs: [{ label: "--scores", path: input }] },
          () => {
            ran = true;
            return Promise.resolve();
          },
        ),
        (e) => e instanceof UsageError && e.message.includes("--scores"),
      );
      assert.equal(ran, false);
    }
    assert.deepEqual(entryTree(input), [], "nothing created inside the input");
  });
});

Deno.test("removeOwnManifest: removes its own stage's manifest, refuses and keeps any other", async () => {
  await withTempDir(async (root) => {
    const manifest = (stage: string) =>
      buildManifest({ stage, config: {}, inputs: {}, wallSeconds: 0 });
    await removeOwnManifest(root, "synthetic"); // none there: nothing to do
    await writeManifest(root, manifest("synthetic"));
    await removeOwnManifest(root, "synthetic");
    assert.deepEqual(entryTree(root), []);

    await writeManifest(root, manifest("train_head"));
    const text = Deno.readTextFileSync(`${root}/manifest.json`);
    await assert.rejects(
      removeOwnManifest(root, "synthetic"),
      (e) => e instanceof DataError && e.message.includes(`${root}/manifest.json`),
    );
    assert.equal(Deno.readTextFileSync(`${root}/manifest.json`), text);

    await Deno.writeTextFile(`${root}/manifest.json`, "not json");
    await assert.rejects(removeOwnManifest(root, "synthetic"), /not a mos-toolkit manifest/);
    assert.equal(Deno.readTextFileSync(`${root}/manifest.json`), "not json");
  });
});
