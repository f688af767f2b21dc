/**
 * Bad input to the ablation tasks: each failure is one `error:` line naming the problem, with the
 * right exit code (2 usage, 1 data), and nothing is written to --out. Every check runs before any
 * data is generated or any head trained, so these runs take about a second each.
 */
import assert from "node:assert/strict";
import { runTask, snapshotTree, withTempDir } from "./cli_helpers.ts";

async function fails(
  file: string,
  args: string[],
  code: 1 | 2,
  message: RegExp,
  out: string,
): Promise<void> {
  const r = await runTask(file, [...args, "--out", out]);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(r.code, code, `${file} ${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
  assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], message);
  assert.equal(await snapshotTree(out), null, `${out} must not be created`);
}

Deno.test("groups-ablation: hierarchy with a cycle, with an unknown class, a level outside -3..6", async () => {
  await withTempDir(async (dir) => {
    const out = `${dir}/out`;
    const cyclic = `${dir}/cycle.tsv`;
    await Deno.writeTextFile(
      cyclic,
      "wnid\tname\tparent_wnids\nr\troot\t\na\tA\tr,b\nb\tB\ta\n",
    );
    await fails(
      "groups_ablation.ts",
      ["--demo", "--levels", "1", "--hierarchy", cyclic],
      1,
      /cycle\.tsv: the hierarchy has a cycle a \(A\) -> b \(B\) -> a \(A\)/,
      out,
    );
    const partial = `${dir}/partial.tsv`;
    await Deno.writeTextFile(partial, "wnid\tname\tparent_wnids\nr\troot\t\n");
    await fails(
      "groups_ablation.ts",
      ["--demo", "--levels", "2", "--hierarchy", partial],
      1,
      /partial\.tsv: class 0 "n01440764" is not in the hierarchy/,
      out,
    );
    const orphan = `${dir}/orphan.tsv`;
    await Deno.writeTextFile(orphan, "wnid\tname\tparent_wnids\na\tA\tnope\n");
    await fails(
      "groups_ablation.ts",
      ["--demo", "--levels", "1", "--hierarchy", orphan],
      1,
      /names the unknown parent "nope"/,
      out,
    );
    await fails(
      "groups_ablation.ts",
      ["--demo", "--levels", "0,7"],
      2,
      /Taxonomy level 7 is not available; use an integer from -3 to 6/,
      out,
    );
    await fails(
      "groups_ablation.ts",
      ["--demo", "--levels", "x"],
      2,
      /--levels: "x" is not an integer/,
      out,
    );
    await fails(
      "groups_ablation.ts",
      ["--demo", "--strategies", "kmeans"],
      2,
      /--strategies: unknown value "kmeans"/,
      out,
    );
  });
});

Deno.test("grouping: K larger than the number of classes, K < 2, no taxonomy level with K groups", async () => {
  await withTempDir(async (dir) => {
    const out = `${dir}/out`;
    await fails(
      "grouping.ts",
      ["--demo", "--k", "1001"],
      2,
      /--k 1001 is invalid: the number of groups must be an integer from 2 to the number of classes \(1000\)/,
      out,
    );
    await fails(
      "grouping.ts",
      ["--demo", "--k", "1"],
      2,
      /--k must be an integer >= 2(?: and <= \d+)?, got "1"/,
      out,
    );
    await fails(
      "grouping.ts",
      ["--demo", "--k", "5"],
      2,
      /--k 5: no taxonomy level has 5 groups \(they have 2, 3, 6, 8, /,
      out,
    );
  });
});

Deno.test("num-classes, backbones, configs and missing real data", async () => {
  await withTempDir(async (dir) => {
    const out = `${dir}/out`;
    await fails(
      "num_classes.ts",
      ["--demo", "--classes", "50,1001"],
      2,
      /--classes: 1001 is not a valid number of classes; use integers from 2 to 1000/,
      out,
    );
    await fails(
      "num_classes.ts",
      ["--demo", "--per-class", "100"],
      2,
      /100 images per class \(per_class, C = 50\) exceed the 40 synthetic training images/,
      out,
    );
    await fails(
      "num_classes.ts",
      ["--demo", "--total-images", "100", "--settings", "fixed-total"],
      2,
      /--total-images 100 gives no image per class at C = 200/,
      out,
    );
    const config = `${dir}/bad.yaml`;
    await Deno.writeTextFile(
      config,
      "data_root: d\nsets: {train: t, id: v, ood: {a: a}}\nout: o\ngrouping: {k: 8, kk: 3}\n",
    );
    await fails(
      "grouping.ts",
      ["--config", config],
      1,
      /bad\.yaml: unknown key "grouping\.kk"/,
      out,
    );
    await fails(
      "grouping.ts",
      ["--data", `${dir}/nowhere`],
      1,
      /Feature set "train" not found at .*nowhere\/imagenet_train; .*--demo/,
      out,
    );
    await fails("backbones.ts", ["--dim", "8"], 2, /--dim only applies with --demo/, out);
    await fails(
      "backbones.ts",
      ["--demo", "--dims", "1"],
      2,
      /--dims: 1 must be from 2 to 65536/,
      out,
    );
  });
});
