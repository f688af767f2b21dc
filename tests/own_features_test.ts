/**
 * Your own features: sets made of features.npy alone (labels.npy for the labelled ones, nothing
 * else, no meta.json) train and score exactly as the same arrays with a full meta.json do, and
 * `import-features` adds a validated, hashed meta.json without touching the arrays.
 */
import assert from "node:assert/strict";
import { hashFile } from "../lib/io/manifest.ts";
import { expectError, ok, withTempDir, writeFixture } from "./cli_helpers.ts";

/** Copies only the arrays of a set (what a user's own dump holds). */
async function bareCopy(from: string, to: string, withLabels: boolean): Promise<string> {
  await Deno.mkdir(to, { recursive: true });
  await Deno.copyFile(`${from}/features.npy`, `${to}/features.npy`);
  if (withLabels) await Deno.copyFile(`${from}/labels.npy`, `${to}/labels.npy`);
  return to;
}

Deno.test("own features: bare sets score like full ones; import-features writes meta.json", async () => {
  await withTempDir(async (root) => {
    const fx = await writeFixture(`${root}/features`);
    const bare = `${root}/mine`;
    const train = await bareCopy(fx.train, `${bare}/train`, true);
    const val = await bareCopy(fx.val, `${bare}/val`, true);
    const far = await bareCopy(fx.ood.far, `${bare}/far`, false);

    // The same arrays under a full meta.json train the same head (their backbone names differ,
    // so each set is scored with the head of its own kind).
    const head = `${root}/head`;
    const headFull = `${root}/head_full`;
    await ok("train_head.ts", ["--features", train, "--steps", "50", "--out", head]);
    await ok("train_head.ts", ["--features", fx.train, "--steps", "50", "--out", headFull]);
    assert.equal(await hashFile(`${head}/weight.npy`), await hashFile(`${headFull}/weight.npy`));
    const scoreArgs = (id: string, ood: string, out: string) => [
      "--head",
      out.endsWith("bare") ? head : headFull,
      "--id",
      id,
      "--ood",
      `far=${ood}`,
      "--methods",
      "msp,energy",
      "--out",
      out,
    ];
    await ok("score.ts", scoreArgs(val, far, `${root}/s_bare`));
    await ok("score.ts", scoreArgs(fx.val, fx.ood.far, `${root}/s_full`));
    const csv = (d: string) => Deno.readTextFile(`${root}/${d}/metrics.csv`);
    assert.equal(await csv("s_bare"), await csv("s_full"));
    const json = JSON.parse(await Deno.readTextFile(`${root}/s_bare/metrics.json`));
    assert.deepEqual(json.rows.map((r: { method: string }) => r.method), ["msp", "energy"]);

    const featuresHash = await hashFile(`${val}/features.npy`);
    const r = await ok("import_features.ts", ["--dir", val, "--backbone", "my-resnet"]);
    assert.match(r.stdout, /meta\.json written: val, 100 x 16 float32, backbone my-resnet/);
    const meta = JSON.parse(await Deno.readTextFile(`${val}/meta.json`));
    assert.equal(meta.complete, true);
    assert.equal(meta.imported.files["features.npy"], `sha256:${featuresHash}`);
    assert.equal(await hashFile(`${val}/features.npy`), featuresHash, "arrays untouched");

    await expectError("import_features.ts", ["--dir", val], {
      code: 1,
      mentions: [`${val}/meta.json`, "--force"],
      unchanged: [val],
    });
    await ok("import_features.ts", ["--dir", val, "--force", "--dataset", "val2"]);
    assert.equal(JSON.parse(await Deno.readTextFile(`${val}/meta.json`)).dataset, "val2");
    await expectError("import_features.ts", ["--dir", fx.val, "--force"], {
      code: 1,
      mentions: [`${fx.val}/meta.json`, "not written by import-features"],
      unchanged: [fx.val],
    });
    await expectError("import_features.ts", ["--dir", train, "--num-classes", "5"], {
      code: 1,
      mentions: [`${train}/labels.npy`, "[-1, 5)"],
      unchanged: [train],
    });
  });
});
