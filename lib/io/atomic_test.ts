import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import {
  diskError,
  ensureWritableDir,
  writeFileAtomic,
  writeJsonAtomic,
  writeTextAtomic,
} from "./atomic.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const listDir = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

Deno.test("atomic: writeFileAtomic replaces the target and leaves no temp file", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/x.bin`;
    await writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    await writeFileAtomic(path, [new Uint8Array([4, 5]), new Uint8Array(0), new Uint8Array([6])]);
    assert.deepEqual(await Deno.readFile(path), new Uint8Array([4, 5, 6]));
    assert.deepEqual(listDir(dir), ["x.bin"]);
  });
});

Deno.test("atomic: a failed write keeps the old file and removes the temp", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/keep.txt`;
    await writeTextAtomic(path, "old");
    // A directory at the target makes the final rename fail after the temp file was written.
    await Deno.mkdir(`${dir}/sub/target`, { recursive: true });
    await Deno.writeTextFile(`${dir}/sub/target/inner`, "x");
    await assert.rejects(writeTextAtomic(`${dir}/sub/target`, "new"));
    assert.deepEqual(listDir(`${dir}/sub`), ["target"]);
    assert.equal(await Deno.readTextFile(path), "old");
    // Missing parent directory: the temp cannot even be created.
    await assert.rejects(writeTextAtomic(`${dir}/nope/a.txt`, "x"), Deno.errors.NotFound);
  });
});

Deno.test("atomic: writeJsonAtomic writes 2-space JSON and a newline", async () => {
  await withTempDir(async (dir) => {
    await writeJsonAtomic(`${dir}/a.json`, { a: 1, b: [true, "x"] });
    assert.equal(
      await Deno.readTextFile(`${dir}/a.json`),
      '{\n  "a": 1,\n  "b": [\n    true,\n    "x"\n  ]\n}\n',
    );
  });
});

Deno.test("atomic: ensureWritableDir creates dirs and rejects files", async () => {
  await withTempDir(async (dir) => {
    await ensureWritableDir(`${dir}/a/b/c`, "--out");
    assert.ok((await Deno.stat(`${dir}/a/b/c`)).isDirectory);
    assert.deepEqual(listDir(`${dir}/a/b/c`), [], "the write probe must be removed");
    await ensureWritableDir(`${dir}/a/b/c`, "--out"); // existing dir is fine
    await Deno.writeTextFile(`${dir}/file`, "x");
    await assert.rejects(
      ensureWritableDir(`${dir}/file`, "--out"),
      (e: unknown) =>
        e instanceof DataError &&
        e.message === `--out ${dir}/file is a file; choose a directory path`,
    );
    await assert.rejects(ensureWritableDir(`${dir}/file/under`, "--out"), DataError);
    if (Deno.uid() !== 0) {
      await Deno.mkdir(`${dir}/ro`);
      await Deno.chmod(`${dir}/ro`, 0o555);
      await assert.rejects(ensureWritableDir(`${dir}/ro`, "--cache"), /--cache .* not writable/);
      await Deno.chmod(`${dir}/ro`, 0o755);
    }
  });
});

Deno.test("diskError: a full disk names the file and the output directory (or the caller's label)", () => {
  const full = () =>
    Object.assign(new Error("No space left on device (os error 28)"), { code: "ENOSPC" });
  const e = diskError(full(), "/x/out/weight.npy");
  assert.ok(e instanceof DataError);
  assert.equal(
    e.message,
    "Cannot write /x/out/weight.npy (No space left on device (os error 28)); free space there " +
      "or choose another output directory",
  );
  const labelled = diskError(full(), "/x/out/weight.npy", { label: "--out" });
  assert.ok(labelled instanceof DataError && labelled.message.endsWith("choose another --out"));
  const other = new Error("something else");
  assert.equal(diskError(other, "/x"), other, "not a disk error: returned unchanged");
});
