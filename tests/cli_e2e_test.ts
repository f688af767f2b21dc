/**
 * End to end through the command line, as real subprocesses: train-head (flat and group) ->
 * score (the five flat methods, MOS) -> tables, on a tiny separable fixture. Checks the files each
 * task writes against the data contracts (DESIGN.md section 4), recomputes one AUROC from the
 * written scores by plain pair counting, and checks reuse (score "up to date" leaves every file
 * untouched) and seeding (same seed: byte-identical weights; other seed: different weights).
 */
import assert from "node:assert/strict";
import { assertClose } from "./assert_close.ts";
import {
  describeRun,
  FIXTURE_C,
  FIXTURE_D,
  FIXTURE_GROUPS,
  FIXTURE_OOD_ROWS,
  FIXTURE_PER_CLASS,
  runTask,
  snapshotTree,
  withTempDir,
  writeFixture,
} from "./cli_helpers.ts";
import { readNpy } from "../lib/io/npy.ts";
import { formatNumber } from "../lib/tables/render.ts";

const FLAT_METHODS = ["msp", "odin", "mahalanobis", "energy", "kl"];
const TABLE_METHODS = ["MSP", "ODIN", "Mahalanobis", "Energy", "KL Matching", "MOS"];
const OOD_NAMES = ["faint", "far"] as const;

async function ok(file: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  const r = await runTask(file, args);
  assert.equal(r.code, 0, describeRun(file, args, r));
  return r;
}

/** metrics.csv rows as objects; the header is checked exactly. */
async function readMetrics(dir: string): Promise<Record<string, string>[]> {
  const lines = (await Deno.readTextFile(`${dir}/metrics.csv`)).trimEnd().split("\n");
  assert.equal(lines[0], "method,dataset,auroc,fpr95,aupr_in,aupr_out");
  const cols = lines[0].split(",");
  return lines.slice(1).map((line) => {
    const cells = line.split(",");
    assert.equal(cells.length, cols.length, `metrics.csv row "${line}"`);
    return Object.fromEntries(cols.map((c, i) => [c, cells[i]]));
  });
}

/** AUROC in percent by counting every (ID, OOD) pair, ties half: the definition itself. */
function pairAuroc(id: ArrayLike<number>, ood: ArrayLike<number>): number {
  let wins = 0;
  for (let i = 0; i < id.length; i++) {
    for (let j = 0; j < ood.length; j++) {
      if (id[i] > ood[j]) wins += 1;
      else if (id[i] === ood[j]) wins += 0.5;
    }
  }
  return (100 * wins) / (id.length * ood.length);
}

async function readScores(path: string): Promise<Float32Array> {
  const arr = await readNpy(path);
  assert.equal(arr.dtype, "<f4", `${path} dtype`);
  assert.equal(arr.shape.length, 1, `${path} must be 1-D`);
  return arr.data as Float32Array;
}

async function checkScoreDir(
  dir: string,
  methods: string[],
  lengths: Record<string, number>,
): Promise<void> {
  for (const m of methods) {
    for (const [dataset, n] of Object.entries(lengths)) {
      const s = await readScores(`${dir}/scores/${m}/${dataset}.npy`);
      assert.equal(s.length, n, `scores/${m}/${dataset}.npy length`);
      assert.ok(s.every(Number.isFinite), `scores/${m}/${dataset}.npy has non-finite values`);
    }
  }
  const rows = await readMetrics(dir);
  assert.deepEqual(
    rows.map((r) => `${r.method}/${r.dataset}`).sort(),
    methods.flatMap((m) => OOD_NAMES.map((d) => `${m}/${d}`)).sort(),
    "one metrics.csv row per method x OOD set",
  );
  for (const r of rows) {
    for (const k of ["auroc", "fpr95", "aupr_in", "aupr_out"]) {
      const v = Number(r[k]);
      assert.ok(v >= 0 && v <= 100, `${r.method}/${r.dataset} ${k} = ${r[k]} outside [0, 100]`);
    }
  }
}

async function headJson(dir: string): Promise<Record<string, unknown>> {
  return JSON.parse(await Deno.readTextFile(`${dir}/head.json`));
}

Deno.test("cli e2e: train-head -> score -> tables on a separable fixture", async (t) => {
  await withTempDir(async (root) => {
    const fx = await writeFixture(`${root}/features`);
    const flat = `${root}/head_flat`;
    const group = `${root}/head_group`;
    const sFlat = `${root}/score_flat`;
    const sGroup = `${root}/score_group`;
    const trainArgs = ["--features", fx.train, "--steps", "200", "--val", fx.val];
    const lengths = {
      id: FIXTURE_C * FIXTURE_PER_CLASS.val,
      faint: FIXTURE_OOD_ROWS.faint,
      far: FIXTURE_OOD_ROWS.far,
    };
    const sets = ["--id", fx.val, "--ood", `faint=${fx.ood.faint}`, "--ood", `far=${fx.ood.far}`];
    const flatScoreArgs = [
      "--head",
      flat,
      ...sets,
      "--train",
      fx.train,
      "--methods",
      FLAT_METHODS.join(","),
      "--out",
      sFlat,
    ];

    await t.step("train-head flat", async () => {
      await ok("train_head.ts", [...trainArgs, "--out", flat]);
      const info = await headJson(flat);
      assert.equal(info.kind, "flat");
      assert.equal(info.num_classes, FIXTURE_C);
      assert.deepEqual(info.groups, []);
      const w = await readNpy(`${flat}/weight.npy`);
      assert.deepEqual(w.shape, [FIXTURE_C, FIXTURE_D]);
      assert.deepEqual((await readNpy(`${flat}/bias.npy`)).shape, [FIXTURE_C]);
      const train = info.train as Record<string, unknown>;
      assert.equal(train.steps, 200);
      assert.ok(
        (train.val_accuracy as number) >= 0.95,
        `val accuracy ${train.val_accuracy}`,
      );
    });

    await t.step("train-head group (--groups FILE.json)", async () => {
      await ok("train_head.ts", [...trainArgs, "--out", group, "--groups", fx.groups]);
      const info = await headJson(group);
      assert.equal(info.kind, "group");
      assert.equal(info.num_classes, FIXTURE_C);
      assert.deepEqual(info.groups, FIXTURE_GROUPS);
      const O = FIXTURE_C + FIXTURE_GROUPS.length;
      assert.deepEqual((await readNpy(`${group}/weight.npy`)).shape, [O, FIXTURE_D]);
      assert.deepEqual((await readNpy(`${group}/bias.npy`)).shape, [O]);
      const acc = (info.train as Record<string, unknown>).val_accuracy as number;
      assert.ok(acc >= 0.95, `group val accuracy ${acc}`);
    });

    await t.step("score flat head: five methods, files and metrics.csv", async () => {
      const r = await ok("score.ts", flatScoreArgs);
      assert.ok(r.stdout.startsWith("method,dataset,auroc,fpr95,aupr_in,aupr_out"), r.stdout);
      await checkScoreDir(sFlat, FLAT_METHODS, lengths);
    });

    await t.step("score group head: default methods = mos", async () => {
      await ok("score.ts", ["--head", group, ...sets, "--out", sGroup]);
      await checkScoreDir(sGroup, ["mos"], lengths);
      const dirs: string[] = [];
      for await (const e of Deno.readDir(`${sGroup}/scores`)) dirs.push(e.name);
      assert.deepEqual(dirs, ["mos"]);
    });

    await t.step("metrics.csv AUROC equals a pair count over the written scores", async () => {
      const rows = await readMetrics(sFlat);
      const groupRows = await readMetrics(sGroup);
      let checked = 0;
      for (const [dir, m, d] of [[sFlat, "energy", "faint"], [sGroup, "mos", "faint"]]) {
        const id = await readScores(`${dir}/scores/${m}/id.npy`);
        const ood = await readScores(`${dir}/scores/${m}/${d}.npy`);
        const row = [...rows, ...groupRows].find((r) => r.method === m && r.dataset === d)!;
        const want = pairAuroc(id, ood);
        // The fixture's faint set overlaps ID, so this is a real check, not 100 vs 100.
        assert.ok(want > 50 && want < 100, `${m}/${d} AUROC ${want} should be strictly inside`);
        assertClose(Number(row.auroc), want, {
          atol: 5e-5 + 1e-9,
          rtol: 0,
          reason: "metrics.csv keeps 4 decimals (half a unit of the last place)",
        });
        checked++;
      }
      assert.equal(checked, 2);
      // The far set is separable by construction: every method must rank all of it below ID.
      for (const r of [...rows, ...groupRows].filter((r) => r.dataset === "far")) {
        assert.equal(Number(r.auroc), 100, `${r.method}/far AUROC`);
      }
    });

    await t.step(
      "score runs registry detectors too: MaxLogit = max logit; KNN needs --train",
      async () => {
        const out = `${root}/score_modern`;
        const noTrain = await runTask("score.ts", [
          "--head",
          flat,
          ...sets,
          "--methods",
          "mls,knn",
        ]);
        assert.equal(noTrain.code, 2, describeRun("score.ts", [], noTrain));
        assert.match(noTrain.stderr, /--methods knn needs --train DIR/);
        const unknown = await runTask("score.ts", ["--head", flat, ...sets, "--methods", "react"]);
        assert.equal(unknown.code, 2, "react needs an ID-val split, which score does not have");
        await ok("score.ts", [
          "--head",
          flat,
          ...sets,
          "--train",
          fx.train,
          "--methods",
          "mls,knn",
          "--out",
          out,
        ]);
        await checkScoreDir(out, ["mls", "knn"], lengths);
        // MaxLogit by hand: max_c (x w_c + b_c) over the head's files, in float64.
        const w = await readNpy(`${flat}/weight.npy`);
        const b = await readNpy(`${flat}/bias.npy`);
        const x = await readNpy(`${fx.val}/features.npy`);
        const [C, D] = w.shape;
        const want = Array.from({ length: x.shape[0] }, (_, i) => {
          let best = -Infinity;
          for (let c = 0; c < C; c++) {
            let s = Number(b.data[c]);
            for (let j = 0; j < D; j++) s += Number(x.data[i * D + j]) * Number(w.data[c * D + j]);
            best = Math.max(best, s);
          }
          return best;
        });
        assertClose(await readScores(`${out}/scores/mls/id.npy`), want, {
          atol: 1e-4,
          rtol: 1e-5,
          reason: "float32 logits",
        });
      },
    );

    await t.step("score rerun with the same args is up to date and changes nothing", async () => {
      const before = await snapshotTree(sFlat);
      const r = await ok("score.ts", flatScoreArgs);
      assert.match(r.stderr, /up to date/);
      assert.ok(r.stdout.startsWith("method,dataset,"), "metrics still printed on reuse");
      assert.deepEqual(await snapshotTree(sFlat), before);
    });

    await t.step("tables: table1/table3 csv+md with the six methods", async () => {
      const out = `${root}/tables`;
      await ok("tables.ts", [
        "--scores",
        sFlat,
        "--scores",
        sGroup,
        "--flat-head",
        flat,
        "--group-head",
        group,
        "--out",
        out,
      ]);
      for (const f of ["table1.csv", "table1.md", "table3.csv", "table3.md"]) {
        assert.ok((await Deno.stat(`${out}/${f}`)).size > 0, `${f} is empty`);
      }
      const t1 = (await Deno.readTextFile(`${out}/table1.csv`)).trimEnd().split("\n");
      assert.match(t1[0], /^Method,/);
      assert.deepEqual(t1.slice(1).map((l) => l.split(",")[0]), TABLE_METHODS);
      for (const d of OOD_NAMES) assert.ok(t1[0].includes(`${d} AUROC`), t1[0]);
      const t3 = (await Deno.readTextFile(`${out}/table3.csv`)).trimEnd().split("\n");
      for (const block of [...OOD_NAMES, "Average"]) {
        const methods = t3.filter((l) => l.startsWith(`${block},`)).map((l) => l.split(",")[1]);
        assert.deepEqual(methods, TABLE_METHODS, `table3 rows of ${block}`);
      }
      const md1 = await Deno.readTextFile(`${out}/table1.md`);
      for (const m of TABLE_METHODS) assert.match(md1, new RegExp(`^\\| ${m} +\\|`, "m"));
      // Both heads hit 100% val accuracy on the separable fixture; the note must say so.
      assert.match(md1, /accuracy: flat 100\.00% vs group 100\.00%/);
    });

    await t.step("score --ci: the intervals on stdout, as metrics_ci.csv has them", async () => {
      const out = `${root}/score_group_ci`;
      const r = await ok("score.ts", [
        "--head",
        group,
        ...sets,
        "--out",
        out,
        "--ci",
        "--resamples",
        "50",
      ]);
      const ci = (await Deno.readTextFile(`${out}/metrics_ci.csv`)).trimEnd().split("\n");
      const cell = (dataset: string, metric: string) => {
        const f = ci.find((l) => l.startsWith(`mos,${dataset},${metric},`))!.split(",");
        const [v, lo, hi] = [3, 4, 5].map((k) => formatNumber(Number(f[k])).replace(".", "\\."));
        return `${v} +\\[${lo}, ${hi}\\]`;
      };
      for (const d of OOD_NAMES) {
        const want = new RegExp(`^MOS +${d} +${cell(d, "auroc")} +${cell(d, "fpr95")}$`, "m");
        assert.match(r.stdout, want);
      }
      for (const line of r.stdout.split("\n")) assert.ok(line.length <= 100, line);
    });

    await t.step("tables --near/--far: group averages; stdout fits 100 columns", async () => {
      const out = `${root}/tables_groups`;
      const r = await ok("tables.ts", [
        "--scores",
        sFlat,
        "--scores",
        sGroup,
        "--near",
        "faint",
        "--far",
        "far",
        "--out",
        out,
      ]);
      const lines = (await Deno.readTextFile(`${out}/table1.csv`)).trimEnd().split("\n");
      const head = lines[0].split(",");
      const energy = lines.find((l) => l.startsWith("Energy,"))!.split(",");
      // One set per group: the group average is that set's value.
      assert.equal(energy[head.indexOf("Near-OOD AUROC")], energy[head.indexOf("faint AUROC")]);
      assert.equal(energy[head.indexOf("Far-OOD FPR95")], energy[head.indexOf("far FPR95")]);
      for (const line of r.stdout.split("\n")) assert.ok(line.length <= 100, line);
      assert.match(r.stdout, /^Table 1: /m);
      // The test-time definition once under Table 1, never under Table 3 (it has no time column).
      const md1 = await Deno.readTextFile(`${out}/table1.md`);
      assert.equal(md1.match(/test time/gi)!.length, 2, "column name + its one note");
      assert.doesNotMatch(await Deno.readTextFile(`${out}/table3.md`), /test time/i);
      const bad = await runTask("tables.ts", ["--scores", sFlat, "--near", "faint", "--out", out]);
      assert.equal(bad.code, 2, bad.stderr);
      assert.match(bad.stderr, /--near needs --far too/);
    });

    await t.step("train-head is deterministic per seed", async () => {
      const again = `${root}/head_flat_again`;
      const other = `${root}/head_flat_seed7`;
      await ok("train_head.ts", [...trainArgs, "--out", again]);
      await ok("train_head.ts", [...trainArgs, "--out", other, "--seed", "7"]);
      const w0 = await Deno.readFile(`${flat}/weight.npy`);
      assert.deepEqual(await Deno.readFile(`${again}/weight.npy`), w0, "same seed, same bytes");
      assert.deepEqual(
        await Deno.readFile(`${again}/bias.npy`),
        await Deno.readFile(
          `${flat}/bias.npy`,
        ),
      );
      assert.notDeepEqual(await Deno.readFile(`${other}/weight.npy`), w0, "seed 7 must differ");
    });
  });
});

Deno.test("demo --config: a missing or wrong near/far config fails before --out exists", async () => {
  await withTempDir(async (root) => {
    const out = `${root}/out`;
    const missing = await runTask("demo.ts", ["--config", `${root}/nope.yaml`, "--out", out]);
    assert.equal(missing.code, 1, missing.stderr);
    assert.match(
      missing.stderr,
      /^error: Demo config not found: .*nope\.yaml; pass --config FILE/m,
    );
    const wrong = `${root}/demo.yaml`;
    await Deno.writeTextFile(wrong, "ood_groups:\n  near: [novel-classes]\n  far: [sun]\n");
    const bad = await runTask("demo.ts", ["--config", wrong, "--out", out]);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /demo\.yaml: ood_groups: "far" names "sun", which is not one of the/);
    assert.equal(bad.stderr.trim().split("\n").length, 1, bad.stderr);
    await assert.rejects(Deno.stat(out), Deno.errors.NotFound);
  });
});
