/**
 * `score --max-logits-mb`: past the bound, MSP / ODIN / Energy (flat head) and MOS (group head)
 * score straight from features; the score files and metrics.csv are the same bytes as with the
 * logits held.
 */
import assert from "node:assert/strict";
import { runTask, withTempDir, writeFixture } from "./cli_helpers.ts";

async function digests(dir: string, names: string[]): Promise<string[]> {
  return await Promise.all(names.map(async (n) => {
    const hash = await crypto.subtle.digest("SHA-256", await Deno.readFile(`${dir}/${n}`));
    return `${n} ${Array.from(new Uint8Array(hash)).join(",")}`;
  }));
}

Deno.test("score --max-logits-mb: flat and group heads score from features past it, same files", async () => {
  await withTempDir(async (root) => {
    const fx = await writeFixture(`${root}/fx`);
    for (const kind of ["flat", "group"] as const) {
      const head = `${root}/head_${kind}`;
      const train = ["--features", fx.train, "--out", head, "--steps", "40"];
      if (kind === "group") train.push("--groups", fx.groups);
      let r = await runTask("train_head.ts", train);
      assert.equal(r.code, 0, r.stderr);
      const methods = kind === "flat" ? ["msp", "odin", "energy"] : ["mos"];
      // Progress lines on: they say which methods streamed.
      const score = (out: string, extra: string[]) =>
        runTask("score.ts", [
          "--head",
          head,
          "--id",
          fx.val,
          "--ood",
          `faint=${fx.ood.faint}`,
          "--ood",
          `far=${fx.ood.far}`,
          "--methods",
          methods.join(","),
          "--out",
          out,
          ...extra,
        ], { progress: true });
      r = await score(`${root}/held_${kind}`, []);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(!r.stderr.includes("from features"), r.stderr);
      assert.match(r.stderr, /score: logits of 3 sets/);
      // 100 + 100 + 80 rows x 10 (flat) or 13 (group) outputs: 0.011 / 0.014 MiB of logits.
      r = await score(`${root}/streamed_${kind}`, ["--max-logits-mb", "0.005"]);
      assert.equal(r.code, 0, r.stderr);
      for (const m of methods) assert.match(r.stderr, new RegExp(`score: ${m} \\(from features`));
      assert.ok(!r.stderr.includes("logits of"), r.stderr);
      const names = ["metrics.csv"];
      for (const m of methods) {
        for (const s of ["id", "faint", "far"]) names.push(`scores/${m}/${s}.npy`);
      }
      assert.deepEqual(
        await digests(`${root}/streamed_${kind}`, names),
        await digests(`${root}/held_${kind}`, names),
      );
    }
    const r = await runTask("score.ts", [
      "--head",
      `${root}/head_flat`,
      "--id",
      fx.val,
      "--ood",
      `far=${fx.ood.far}`,
      "--out",
      `${root}/zero`,
      "--max-logits-mb",
      "0",
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--max-logits-mb/);
  });
});
