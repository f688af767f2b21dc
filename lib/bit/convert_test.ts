import assert from "node:assert/strict";
import { withFullDisk } from "../../tests/disk_full.ts";
import { DataError } from "../errors.ts";
import { writeFilesStaged } from "./convert.ts";

const enc = new TextEncoder();

Deno.test("writeFilesStaged: a full disk on the second file leaves the previous pair as it was", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mos_convert_" });
  try {
    const data = `${dir}/m.onnx.data`;
    const model = `${dir}/m.onnx`;
    await writeFilesStaged([[data, [enc.encode("old weights")]], [model, [enc.encode("old")]]]);
    assert.equal(await Deno.readTextFile(data), "old weights");
    assert.equal(await Deno.readTextFile(model), "old");
    const before = [await Deno.stat(data), await Deno.stat(model)].map((s) => s.mtime?.getTime());
    // Room for the new side file (3000 bytes) but not for the new model after it.
    await withFullDisk(dir, 3500, async () => {
      await assert.rejects(
        writeFilesStaged([
          [data, [new Uint8Array(3000).fill(1)]],
          [model, [new Uint8Array(1000).fill(2)]],
        ]),
        (e: unknown) =>
          e instanceof DataError &&
          e.message.startsWith(`Cannot write ${model} (No space left on device (os error 28))`),
      );
    });
    assert.equal(await Deno.readTextFile(data), "old weights", "side file not replaced");
    assert.equal(await Deno.readTextFile(model), "old");
    assert.deepEqual(
      [await Deno.stat(data), await Deno.stat(model)].map((s) => s.mtime?.getTime()),
      before,
    );
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "m.onnx",
      "m.onnx.data",
    ]);
    await writeFilesStaged([[data, [enc.encode("new w")]], [model, [
      enc.encode("n"),
      enc.encode("ew"),
    ]]]);
    assert.equal(await Deno.readTextFile(data), "new w");
    assert.equal(await Deno.readTextFile(model), "new");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFilesStaged: directories it made are removed again when the write fails", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mos_convert_" });
  try {
    await withFullDisk(dir, 10, async () => {
      await assert.rejects(
        writeFilesStaged([[`${dir}/a/b/m.onnx`, [new Uint8Array(100)]]]),
        /Cannot write .*a\/b\/m\.onnx/,
      );
    });
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
