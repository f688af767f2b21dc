/**
 * Issue 11, containment and bounds for train-head and score: --out never equals, contains or lies
 * inside an input (symlinks followed), a stray label cannot size a giant head, numeric flags have
 * upper bounds, and a refused run creates no --out.
 */
import assert from "node:assert/strict";
import {
  counter,
  exists,
  expectError,
  type Fixture,
  ok,
  snapshotTree,
  withTempDir,
  writeFixture,
} from "./cli_helpers.ts";
import { readNpy, writeNpy } from "../lib/io/npy.ts";

/** A copy of the fixture's training set whose row 5 has label 2147483647 (a valid int32). */
async function strayLabelSet(f: Fixture, dir: string, keepNumClasses: boolean): Promise<string> {
  await Deno.mkdir(dir);
  await Deno.copyFile(`${f.train}/features.npy`, `${dir}/features.npy`);
  const labels = await readNpy(`${f.train}/labels.npy`);
  (labels.data as Int32Array)[5] = 2147483647;
  await writeNpy(`${dir}/labels.npy`, labels);
  const meta = JSON.parse(await Deno.readTextFile(`${f.train}/meta.json`));
  if (keepNumClasses) meta.num_classes = 2147483647;
  else delete meta.num_classes;
  await Deno.writeTextFile(`${dir}/meta.json`, JSON.stringify(meta));
  return dir;
}

Deno.test("train-head / score: containment, bounds and stray labels", async (t) => {
  await withTempDir(async (root) => {
    const f = await writeFixture(`${root}/fx`);
    const fresh = counter(root, "out");
    const head = `${root}/head`;
    await ok("train_head.ts", ["--features", f.train, "--out", head, "--steps", "40"]);
    const scoreArgs = ["--head", head, "--id", f.val, "--ood", `far=${f.ood.far}`];
    const all = [f.root, head];

    await t.step(
      "label 2147483647 is refused before any allocation, --out not created",
      async () => {
        const set = await strayLabelSet(f, `${root}/stray`, false);
        const out = fresh();
        await expectError("train_head.ts", ["--features", set, "--out", out], {
          code: 1,
          mentions: [`${set}/labels.npy`, "2147483648 classes", "--num-classes"],
          unchanged: [out, set],
        });
        const set2 = await strayLabelSet(f, `${root}/stray_meta`, true);
        await expectError("train_head.ts", ["--features", set2, "--out", out], {
          code: 1,
          mentions: [`${set2}/meta.json`, "num_classes"],
          unchanged: [out, set2],
        });
      },
    );

    await t.step("numeric flags have upper bounds (exit 2, nothing created)", async () => {
      const out = fresh();
      for (
        const [file, args, flag] of [
          ["train_head.ts", ["--features", f.train, "--threads", "100000"], "--threads"],
          ["train_head.ts", ["--features", f.train, "--num-classes", "2000000"], "--num-classes"],
          ["train_head.ts", ["--features", f.train, "--batch", "1000000000"], "--batch"],
          ["score.ts", [...scoreArgs, "--threads", "100000"], "--threads"],
          ["score.ts", [...scoreArgs, "--odin-temperature", "1e300"], "--odin-temperature"],
        ] as const
      ) {
        await expectError(file, [...args, "--out", out], {
          code: 2,
          mentions: [flag],
          unchanged: [out, ...all],
        });
      }
    });

    await t.step("score --out equal to, containing or inside an input is refused", async () => {
      for (
        const [out, input] of [
          [head, "--head"],
          [`${head}/scores`, "--head"],
          [root, "--head"],
          [`${f.val}/scores`, "--id"],
          [f.ood.far, "--ood far="],
        ]
      ) {
        await expectError("score.ts", [...scoreArgs, "--out", out], {
          code: 2,
          mentions: ["--out", input, "outside"],
          unchanged: all,
        });
      }
      // A symlink to the head is the head.
      await Deno.symlink(head, `${root}/head_link`);
      await expectError("score.ts", [...scoreArgs, "--out", `${root}/head_link`], {
        code: 2,
        mentions: ["--head", "resolved"],
        unchanged: all,
      });
    });

    await t.step("train-head --out inside, equal to or containing the features", async () => {
      for (const out of [`${f.train}/head`, f.train, f.root, `${f.val}/x`]) {
        await expectError(
          "train_head.ts",
          ["--features", f.train, "--val", f.val, "--out", out],
          { code: 2, mentions: ["--out", "outside"], unchanged: [f.root] },
        );
      }
      assert.equal(await exists(`${f.train}/head`), false);
    });

    await t.step("the head and sets are untouched by all of the above", async () => {
      const snap = await snapshotTree(head);
      assert.ok(snap && Object.keys(snap).includes("head.json"));
    });
  });
});
