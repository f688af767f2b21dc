import assert from "node:assert/strict";
import { commitStaging, createStaging, discardStaging } from "./staging.ts";

Deno.test("commitStaging moves files into place, markers last, and removes the staging dir", async () => {
  const out = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${out}/manifest.json`, "old manifest");
    await Deno.writeTextFile(`${out}/data.txt`, "old data");
    await Deno.writeTextFile(`${out}/keep.txt`, "untouched");
    const stage = await createStaging(out);
    await Deno.mkdir(`${stage}/scores/msp`, { recursive: true });
    await Deno.writeTextFile(`${stage}/scores/msp/id.npy`, "new scores");
    await Deno.writeTextFile(`${stage}/data.txt`, "new data");
    await Deno.writeTextFile(`${stage}/manifest.json`, "new manifest");
    await commitStaging(stage, out, ["manifest.json"]);
    assert.equal(await Deno.readTextFile(`${out}/data.txt`), "new data");
    assert.equal(await Deno.readTextFile(`${out}/scores/msp/id.npy`), "new scores");
    assert.equal(await Deno.readTextFile(`${out}/manifest.json`), "new manifest");
    assert.equal(await Deno.readTextFile(`${out}/keep.txt`), "untouched");
    const names = [...Deno.readDirSync(out)].map((e) => e.name).sort();
    assert.deepEqual(names, ["data.txt", "keep.txt", "manifest.json", "scores"]);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("a staging dir that is discarded leaves the previous result as it was", async () => {
  const out = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${out}/manifest.json`, "old");
    const stage = await createStaging(out);
    await Deno.writeTextFile(`${stage}/manifest.json`, "half");
    await discardStaging(stage);
    assert.equal(await Deno.readTextFile(`${out}/manifest.json`), "old");
    assert.deepEqual([...Deno.readDirSync(out)].map((e) => e.name), ["manifest.json"]);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
