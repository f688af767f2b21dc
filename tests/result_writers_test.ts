/**
 * The table and ablation writers (tables, table1, table1-extended, demo, groups-ablation,
 * num-classes, grouping, backbones) touch nothing they did not write:
 *
 * - containment: an --out that is, contains or lies inside one of the task's inputs (score and head
 *   directories, the config, the data root and its feature sets, --ood-val, the hierarchy) is
 *   refused with exit 2 before anything is created;
 * - a bad flag, config or input on a fresh --out path exits 1 or 2 and leaves the path absent;
 * - a manifest.json that another stage wrote where a task would invalidate its own is left alone,
 *   and the run stops naming it.
 *
 * Every case fails before any data is generated or any head is trained, so each run takes about
 * a second.
 */
import assert from "node:assert/strict";
import {
  counter,
  expectError,
  FIXTURE_BACKBONE,
  FIXTURE_C,
  FIXTURE_D,
  ok,
  REPO_ROOT,
  snapshotTree,
  withTempDir,
  writeFixture,
} from "./cli_helpers.ts";
import { writeHead } from "../lib/io/head.ts";
import { buildManifest, writeManifest } from "../lib/io/manifest.ts";

/** A table1.yaml for the fixture family under `dataRoot`. */
function table1Yaml(dataRoot: string): string {
  return [
    `data_root: ${dataRoot}`,
    "sets:",
    "  train: train",
    "  id: val",
    "  ood:",
    "    faint: ood_faint",
    "    far: ood_far",
    "train:",
    "  seed: 0",
    "score:",
    "  kl_variant: paper",
    "  fpr_convention: paper",
    "  odin_temperature: 1000",
    "out: results/never_used",
    "",
  ].join("\n");
}

/** experiments/grouping.yaml with the fixture family's data root and set names. */
async function groupingYaml(dataRoot: string): Promise<string> {
  const text = await Deno.readTextFile(`${REPO_ROOT}/experiments/grouping.yaml`);
  return text
    .replace(/^data_root: .*$/m, `data_root: ${dataRoot}`)
    .replace(
      /^sets:\n(?: {2}.*\n)+/m,
      "sets:\n  train: train\n  id: val\n  ood:\n    far: ood_far\n",
    );
}

Deno.test("result writers: --out overlapping an input is refused before anything is created", async (t) => {
  await withTempDir(async (root) => {
    const fx = await writeFixture(`${root}/in/features`);
    const head = `${root}/in/head`;
    await writeHead(head, {
      info: { kind: "flat", num_classes: FIXTURE_C, groups: [], backbone: FIXTURE_BACKBONE },
      weight: {
        data: new Float32Array(FIXTURE_C * FIXTURE_D).map((_, i) => (i % 7) - 3),
        rows: FIXTURE_C,
        cols: FIXTURE_D,
      },
      bias: new Float32Array(FIXTURE_C),
    });
    const scores = `${root}/in/scores`;
    await ok("score.ts", [
      "--head",
      head,
      "--id",
      fx.val,
      "--ood",
      `far=${fx.ood.far}`,
      "--methods",
      "msp",
      "--out",
      scores,
    ]);
    const everything = `${root}/in`;
    const refused = (flag: string) => ({
      code: 2 as const,
      matches: [/a task never writes into its inputs/],
      unchanged: [everything],
      mentions: ["--out", flag],
    });

    // Before the fix, tables wrote table1.csv ... into the score directory, or beside it.
    await t.step("tables: --out is a --scores directory", async () => {
      await expectError("tables.ts", ["--scores", scores, "--out", scores], refused("--scores"));
    });
    await t.step("tables: --out inside a --scores directory", async () => {
      await expectError(
        "tables.ts",
        ["--scores", scores, "--out", `${scores}/tables`],
        refused("--scores"),
      );
    });
    await t.step("tables: --out contains the --scores and --flat-head directories", async () => {
      await expectError(
        "tables.ts",
        ["--scores", scores, "--flat-head", head, "--out", everything],
        refused("--scores"),
      );
    });
    await t.step("tables: --out inside a --flat-head directory", async () => {
      await expectError(
        "tables.ts",
        ["--scores", scores, "--flat-head", head, "--out", `${head}/t`],
        refused("--flat-head"),
      );
    });

    const cfg = `${everything}/table1.yaml`;
    await Deno.writeTextFile(cfg, table1Yaml(fx.root));
    await t.step("table1: --out inside the data root", async () => {
      await expectError(
        "table1.ts",
        ["--config", cfg, "--data", fx.root, "--out", `${fx.train}/results`],
        refused("--data"),
      );
    });
    await t.step("table1: --out contains the --config file", async () => {
      await expectError(
        "table1.ts",
        ["--config", cfg, "--data", fx.root, "--out", everything],
        refused("--config"),
      );
    });

    const other = await writeFixture(`${root}/other`, 2);
    await t.step("table1-extended: --out is the --ood-val set", async () => {
      await expectError(
        "table1_extended.ts",
        ["--config", cfg, "--data", fx.root, "--ood-val", other.ood.far, "--out", other.ood.far],
        { ...refused("--ood-val"), unchanged: [everything, other.root] },
      );
    });
    await t.step("table1-extended: --out inside a feature set of the config", async () => {
      await expectError(
        "table1_extended.ts",
        ["--config", cfg, "--data", fx.root, "--out", `${fx.ood.far}/x`],
        refused("--data"),
      );
    });

    const gcfg = `${everything}/grouping.yaml`;
    await Deno.writeTextFile(gcfg, await groupingYaml(fx.root));
    await t.step("grouping: --out inside the data root (real features)", async () => {
      await expectError(
        "grouping.ts",
        [
          "--config",
          gcfg,
          "--strategies",
          "random",
          "--k",
          "2",
          "--steps",
          "1",
          "--out",
          `${fx.root}/results`,
        ],
        refused(`data_root of ${gcfg}`),
      );
    });

    // --demo reads no feature sets, but still its config (and the hierarchy). The smallest
    // settings keep the run short should the refusal ever be missing.
    const tiny = ["--demo", "--train-per-class", "2", "--steps", "1"];
    for (
      const [task, file, yaml, args] of [
        ["groups-ablation", "groups_ablation.ts", "groups_ablation.yaml", [
          "--dim",
          "8",
          "--levels",
          "0",
          "--strategies",
          "taxonomy",
        ]],
        ["num-classes", "num_classes.ts", "num_classes.yaml", [
          "--dim",
          "8",
          "--classes",
          "50",
          "--settings",
          "per_class",
          "--per-class",
          "1",
        ]],
        ["grouping", "grouping.ts", "grouping.yaml", ["--dim", "8", "--strategies", "taxonomy"]],
        ["backbones", "backbones.ts", "backbones.yaml", ["--dims", "8"]],
      ] as const
    ) {
      await t.step(`${task} --demo: --out contains the --config file`, async () => {
        const dir = `${root}/cfg_${task}`;
        await Deno.mkdir(dir);
        const copy = `${dir}/${yaml}`;
        await Deno.copyFile(`${REPO_ROOT}/experiments/${yaml}`, copy);
        await expectError(file, [...tiny, ...args, "--config", copy, "--out", dir], {
          ...refused("--config"),
          unchanged: [dir],
        });
      });
    }
    await t.step("groups-ablation --demo: --out contains the --hierarchy file", async () => {
      const dir = `${root}/hier`;
      await Deno.mkdir(dir);
      await Deno.copyFile(
        `${REPO_ROOT}/data/imagenet1k_wordnet_hypernyms.tsv`,
        `${dir}/hierarchy.tsv`,
      );
      await expectError(
        "groups_ablation.ts",
        [
          ...tiny,
          "--dim",
          "8",
          "--levels",
          "1",
          "--strategies",
          "taxonomy",
          "--hierarchy",
          `${dir}/hierarchy.tsv`,
          "--out",
          dir,
        ],
        { ...refused("--hierarchy"), unchanged: [dir] },
      );
    });
  });
});

Deno.test("result writers: bad input on a fresh --out path leaves the path absent", async (t) => {
  await withTempDir(async (root) => {
    const nextOut = counter(root, "out");
    const cases: [string, string, string[], 1 | 2, string[]][] = [
      // Before the fix, table1-extended created --out before it read its flags' numbers and its
      // config: these three left an empty --out behind.
      ["table1-extended --demo --dim 1", "table1_extended.ts", ["--demo", "--dim", "1"], 2, [
        "--dim",
      ]],
      ["table1-extended --demo --seed -1", "table1_extended.ts", ["--demo", "--seed", "-1"], 2, [
        "--seed",
      ]],
      [
        "table1-extended: --config that does not exist",
        "table1_extended.ts",
        ["--config", `${root}/none.yaml`],
        1,
        [`${root}/none.yaml`],
      ],
      [
        "table1-extended: feature sets missing under --data",
        "table1_extended.ts",
        ["--data", `${root}/nowhere`],
        1,
        [`${root}/nowhere/imagenet_train`],
      ],
      ["demo --steps 0", "demo.ts", ["--steps", "0"], 2, ["--steps"]],
      ["table1 --table 2", "table1.ts", ["--table", "2"], 2, ["--table"]],
      [
        "table1: feature sets missing under --data",
        "table1.ts",
        ["--data", `${root}/nowhere`],
        1,
        [`${root}/nowhere/imagenet_train`],
      ],
      ["tables: --scores missing", "tables.ts", ["--scores", `${root}/none`], 1, [
        `${root}/none/metrics.csv`,
      ]],
      ["tables: unknown flag", "tables.ts", ["--scores", root, "--bogus"], 2, ["bogus"]],
      ["groups-ablation --demo --levels 9", "groups_ablation.ts", ["--demo", "--levels", "9"], 2, [
        "level 9",
      ]],
      ["num-classes --demo --classes 1", "num_classes.ts", ["--demo", "--classes", "1"], 2, [
        "--classes",
      ]],
      ["grouping --demo --k 1", "grouping.ts", ["--demo", "--k", "1"], 2, ["--k"]],
      ["backbones --demo --dims 1", "backbones.ts", ["--demo", "--dims", "1"], 2, ["--dims"]],
      // Before the fix: an internal error (no backbone to take the OOD sets from) after --out
      // was created, which stayed behind empty.
      ["backbones --backbones ,", "backbones.ts", ["--backbones", ","], 2, ["--backbones"]],
      [
        "grouping: feature sets missing under --data",
        "grouping.ts",
        ["--data", `${root}/nowhere`],
        1,
        [`${root}/nowhere/imagenet_train`],
      ],
    ];
    for (const [name, file, args, code, mentions] of cases) {
      await t.step(name, async () => {
        // Two levels deep, so a created parent would show too.
        const out = `${nextOut()}/out`;
        await expectError(file, [...args, "--out", out], {
          code,
          mentions,
          unchanged: [out.slice(0, out.lastIndexOf("/"))],
        });
      });
    }
  });
});

Deno.test("result writers: a manifest.json another stage wrote is left alone", async () => {
  await withTempDir(async (root) => {
    // --out pointed at a directory whose features/ holds a head's manifest: before the fix the
    // synthetic benchmark deleted it (and wrote its sets beside the head's files).
    const out = `${root}/out`;
    await Deno.mkdir(`${out}/features`, { recursive: true });
    await writeManifest(
      `${out}/features`,
      buildManifest({ stage: "train_head", config: {}, inputs: {}, wallSeconds: 1 }),
    );
    const before = await snapshotTree(out);
    const args = ["--demo", "--dim", "8", "--train-per-class", "2", "--steps", "1", "--out", out];
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "tasks/groups_ablation.ts", "--levels", "0", ...args],
      cwd: REPO_ROOT,
      env: { MOS_QUIET: "1" },
      stdout: "null",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(r.stderr);
    assert.equal(r.code, 1, stderr);
    const last = stderr.trimEnd().split("\n").at(-1)!;
    assert.match(last, /^error: .*features\/manifest\.json was not written by this stage/);
    assert.match(last, /stage "train_head"/);
    assert.deepEqual(await snapshotTree(out), before, "the foreign manifest and its dir unchanged");
  });
});
