import assert from "node:assert/strict";
import { writeNpy } from "../lib/io/npy.ts";
import { expectError, ok, withTempDir } from "./cli_helpers.ts";
import { assertClose } from "./assert_close.ts";

async function scores(path: string, values: number[], shape?: number[]): Promise<string> {
  const data = Float32Array.from(values);
  await writeNpy(path, { dtype: "<f4", shape: shape ?? [data.length], data });
  return path;
}

Deno.test("evaluate: metrics of hand-worked score files, both directions, files beside", async () => {
  await withTempDir(async (dir) => {
    // ID [4, 3, 2, 1] vs OOD [2.5, 0]: of the 8 (ID, OOD) pairs, 6 are ordered (ID above OOD),
    // so AUROC = 6/8 = 75%. At 95% ID recall every ID score is accepted (threshold 1), so both
    // OOD scores above 1 count: 2.5 is, 0 is not -> FPR95 = 50%.
    const id = await scores(`${dir}/id.npy`, [4, 3, 2, 1]);
    const far = await scores(`${dir}/far.npy`, [2.5, 0], [2, 1]);
    const near = await scores(`${dir}/near.npy`, [5, 6]);
    const out = `${dir}/out`;
    const r = await ok("evaluate.ts", [
      "--id",
      id,
      "--ood",
      `far=${far}`,
      "--ood",
      `near=${near}`,
      "--method",
      "mine",
      "--out",
      out,
    ]);
    assert.match(r.stdout, /far\s+75\.00\s+50\.00/);
    assert.match(r.stdout, /near\s+0\.00\s+100\.00/);
    assert.match(r.stdout, /Average\s+37\.50\s+75\.00/);
    const json = JSON.parse(await Deno.readTextFile(`${out}/metrics.json`));
    assert.equal(json.unit, "percent");
    assert.deepEqual(json.rows.map((x: { dataset: string }) => x.dataset), ["far", "near"]);
    assertClose(json.rows[0].auroc, 75, { atol: 1e-9, reason: "6 of 8 pairs, exact in float64" });
    const csv = (await Deno.readTextFile(`${out}/metrics.csv`)).trim().split("\n");
    assert.equal(csv[0], "method,dataset,auroc,fpr95,aupr_in,aupr_out");
    assert.match(csv[1], /^mine,far,75\.0000,50\.0000,/);

    // The same files read as OOD-ness scores (pytorch-ood's sign): the near set becomes perfectly
    // separated (its scores are the highest, so the most OOD).
    const flipped = await ok("evaluate.ts", [
      "--id",
      id,
      "--ood",
      `near=${near}`,
      "--higher-is-ood",
    ]);
    assert.match(flipped.stdout, /near\s+100\.00\s+0\.00/);
  });
});

Deno.test("evaluate: --ci prints intervals that contain the estimate", async () => {
  await withTempDir(async (dir) => {
    const id = await scores(`${dir}/id.npy`, Array.from({ length: 60 }, (_, i) => i % 17));
    const ood = await scores(`${dir}/ood.npy`, Array.from({ length: 40 }, (_, i) => (i % 11) - 3));
    const out = `${dir}/out`;
    await ok("evaluate.ts", [
      "--id",
      id,
      "--ood",
      `o=${ood}`,
      "--ci",
      "--resamples",
      "50",
      "--out",
      out,
    ]);
    const ci = (await Deno.readTextFile(`${out}/metrics_ci.csv`)).trim().split("\n").slice(1);
    const auroc = ci.map((l) => l.split(",")).find((c) => c[2] === "auroc")!;
    const [est, low, high] = auroc.slice(3, 6).map(Number);
    assert.ok(low <= est && est <= high, `interval [${low}, ${high}] around ${est}`);
  });
});

Deno.test("evaluate: bad score files and flags give one error line and write nothing", async () => {
  await withTempDir(async (dir) => {
    const id = await scores(`${dir}/id.npy`, [1, 2, 3]);
    const nan = await scores(`${dir}/nan.npy`, [1, NaN, 3]);
    const wide = await scores(`${dir}/wide.npy`, [1, 2, 3, 4], [2, 2]);
    const out = `${dir}/out`;
    const sub = `${dir}/a_directory`;
    await Deno.mkdir(sub);
    const cases: [string[], 1 | 2, string[]][] = [
      [["--id", id], 2, ["--ood"]],
      [["--id", id, "--ood", nan], 2, ["--ood", "NAME=FILE"]],
      [["--id", id, "--ood", `a=${nan}`], 1, [nan, "index 1", "not finite"]],
      [["--id", id, "--ood", `a=${wide}`], 1, [wide, "(2, 2)", "reshape"]],
      [["--id", id, "--ood", `a=${sub}`], 1, [sub, "not a regular file"]],
      [["--id", id, "--ood", `id=${id}`], 2, ['"id" is used twice']],
    ];
    for (const [args, code, mentions] of cases) {
      await expectError("evaluate.ts", [...args, "--out", out], {
        code,
        mentions,
        unchanged: [out, id],
      });
    }
    // --out on an input is refused before anything is written.
    await expectError("evaluate.ts", ["--id", id, "--ood", `a=${nan}`, "--out", id], {
      code: 2,
      mentions: ["--out", "--id"],
      unchanged: [id],
    });
  });
});
