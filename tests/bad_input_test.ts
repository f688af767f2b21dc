/**
 * Bad input through the command line, as real subprocesses: every case must exit 1 (bad data) or
 * 2 (bad usage), print exactly one stderr line `error: ...` naming the file / flag / value, print
 * no stack trace, and leave the output directory as it was (absent stays absent; an existing
 * result keeps every file byte for byte, mtimes included).
 */
import assert from "node:assert/strict";
import {
  copyTree,
  counter,
  describeRun,
  expectError,
  type Fixture,
  FIXTURE_BACKBONE,
  FIXTURE_C,
  FIXTURE_D,
  FIXTURE_GROUPS,
  runTask,
  withTempDir,
  writeFixture,
} from "./cli_helpers.ts";
import { writeFeatureSet } from "../lib/io/feature_set.ts";
import { writeHead } from "../lib/io/head.ts";
import { encodeNpyHeader } from "../lib/io/npy.ts";
import { createRng } from "../lib/random.ts";

/** A `.npy` v1.0 file with a hand-written header dict (padded like NumPy) and raw data bytes. */
function rawNpy(dict: string, data: Uint8Array, headerLenOverride?: number): Uint8Array {
  let len = dict.length + 1;
  len += (64 - ((10 + len) % 64)) % 64;
  const out = new Uint8Array(10 + len + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, headerLenOverride ?? len, true);
  for (let i = 0; i < dict.length; i++) out[10 + i] = dict.charCodeAt(i);
  out.fill(0x20, 10 + dict.length, 10 + len - 1);
  out[10 + len - 1] = 0x0a;
  out.set(data, 10 + len);
  return out;
}

function npyDict(descr: string, shape: number[], fortran = false): string {
  return `{'descr': '${descr}', 'fortran_order': ${fortran ? "True" : "False"}, ` +
    `'shape': (${shape.join(", ")}${shape.length === 1 ? "," : ""}), }`;
}

/** The five malformed `features.npy` variants of an N x D float32 matrix. */
function badFeatureFiles(rows: number): Record<string, { bytes: Uint8Array; mentions: string[] }> {
  const shape = [rows, FIXTURE_D];
  const n = rows * FIXTURE_D;
  const f8 = new Float64Array(n).fill(0.5);
  const f4 = new Float32Array(n).fill(0.5);
  const be = new Uint8Array(f4.byteLength);
  const view = new DataView(be.buffer);
  for (let i = 0; i < n; i++) view.setFloat32(4 * i, 0.5, false);
  const f4Bytes = new Uint8Array(f4.buffer);
  const good = new Uint8Array([...encodeNpyHeader("<f4", shape), ...f4Bytes]);
  return {
    f8: {
      bytes: rawNpy(npyDict("<f8", shape), new Uint8Array(f8.buffer)),
      mentions: ["'<f8'"],
    },
    bigEndian: { bytes: rawNpy(npyDict(">f4", shape), be), mentions: ["'>f4'", "big-endian"] },
    fortran: { bytes: rawNpy(npyDict("<f4", shape, true), f4Bytes), mentions: ["Fortran"] },
    truncated: { bytes: good.subarray(0, good.length - 100), mentions: ["truncated"] },
    headerLength: {
      bytes: rawNpy(npyDict("<f4", shape), new Uint8Array(0), 0xfff0),
      mentions: ["header length"],
    },
  };
}

/** Copies the files of feature set `src` into a new dir `dst` (no subdirectories in sets). */
async function copySet(src: string, dst: string): Promise<void> {
  await Deno.mkdir(dst, { recursive: true });
  for await (const e of Deno.readDir(src)) {
    if (e.isFile) await Deno.copyFile(`${src}/${e.name}`, `${dst}/${e.name}`);
  }
}

/** Writes an unlabelled (or labelled) set of `rows` x `dim` copies of one row pattern. */
async function writeSet(
  dir: string,
  rows: number,
  opts: { dim?: number; fill?: (i: number, j: number) => number; labels?: Int32Array } = {},
): Promise<string> {
  const dim = opts.dim ?? FIXTURE_D;
  const data = new Float32Array(rows * dim);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < dim; j++) data[i * dim + j] = opts.fill?.(i, j) ?? ((i + j) % 7) / 7;
  }
  await writeFeatureSet(dir, {
    meta: { dataset: "bad", backbone: FIXTURE_BACKBONE, num_classes: FIXTURE_C },
    features: { data, rows, cols: dim },
    labels: opts.labels ?? new Int32Array(rows).fill(-1),
  });
  return dir;
}

/** A set of 20 labelled rows, classes 0..9 twice, with `patch` applied to the features. */
function labelledSet(dir: string, patch?: (data: Float32Array) => void, labels?: Int32Array) {
  const rows = 20;
  const base = new Float32Array(rows * FIXTURE_D);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < FIXTURE_D; j++) base[i * FIXTURE_D + j] = j === i % FIXTURE_C ? 6 : 0.25;
  }
  patch?.(base);
  return writeSet(dir, rows, {
    fill: (i, j) => base[i * FIXTURE_D + j],
    labels: labels ?? Int32Array.from({ length: rows }, (_, i) => i % FIXTURE_C),
  });
}

/** Writes a head with seeded random weights: enough for scoring, no training needed. */
async function writeRandomHead(dir: string, kind: "flat" | "group"): Promise<string> {
  const groups = kind === "group" ? FIXTURE_GROUPS : [];
  const O = FIXTURE_C + groups.length;
  const rng = createRng(kind === "flat" ? 11 : 12);
  const w = new Float32Array(O * FIXTURE_D).map(() => rng.normal());
  await writeHead(dir, {
    info: { kind, num_classes: FIXTURE_C, groups, backbone: FIXTURE_BACKBONE },
    weight: { data: w, rows: O, cols: FIXTURE_D },
    bias: new Float32Array(O),
  });
  return dir;
}

Deno.test("bad input: train-head fails cleanly and writes nothing", async (t) => {
  await withTempDir(async (root) => {
    const fx: Fixture = await writeFixture(`${root}/features`);
    const nextOut = counter(root, "out");
    const nextSet = counter(root, "set");
    const train = (features: string, out: string, extra: string[] = []) => [
      "--features",
      features,
      "--out",
      out,
      "--steps",
      "20",
      ...extra,
    ];
    // An existing good head: a failed retrain over it must leave it byte for byte.
    const existing = `${root}/existing_head`;
    {
      const r = await runTask("train_head.ts", train(fx.train, existing));
      assert.equal(r.code, 0, describeRun("train_head.ts", train(fx.train, existing), r));
    }

    for (const [name, bad] of Object.entries(badFeatureFiles(400))) {
      await t.step(`features.npy: ${name}`, async () => {
        const set = nextSet();
        await copySet(fx.train, set);
        await Deno.writeFile(`${set}/features.npy`, bad.bytes);
        const out = nextOut();
        await expectError("train_head.ts", train(set, out), {
          code: 1,
          mentions: [`${set}/features.npy`, ...bad.mentions],
          unchanged: [out],
        });
      });
    }

    await t.step("NaN features (over an existing head)", async () => {
      const set = await labelledSet(nextSet(), (d) => (d[5 * FIXTURE_D + 3] = NaN));
      await expectError("train_head.ts", train(set, existing, ["--force"]), {
        code: 1,
        mentions: [`${set}/features.npy`, "NaN", "row 5"],
        unchanged: [existing],
      });
    });

    await t.step("Inf features", async () => {
      const set = await labelledSet(nextSet(), (d) => (d[7 * FIXTURE_D] = -Infinity));
      const out = nextOut();
      await expectError("train_head.ts", train(set, out), {
        code: 1,
        mentions: [`${set}/features.npy`, "Infinity", "row 7"],
        unchanged: [out],
      });
    });

    await t.step("NaN in --val features", async () => {
      const val = await labelledSet(nextSet(), (d) => (d[0] = NaN));
      const out = nextOut();
      await expectError("train_head.ts", train(fx.train, out, ["--val", val]), {
        code: 1,
        mentions: [`${val}/features.npy`, "NaN"],
        unchanged: [out],
      });
    });

    await t.step("label 10 with C = 10", async () => {
      const labels = Int32Array.from({ length: 20 }, (_, i) => i % FIXTURE_C);
      labels[13] = FIXTURE_C;
      const set = await labelledSet(nextSet(), undefined, labels);
      const out = nextOut();
      await expectError("train_head.ts", train(set, out), {
        code: 1,
        mentions: [`${set}/labels.npy`, "label 10", "13"],
        unchanged: [out],
      });
    });

    await t.step("label -1 in training features", async () => {
      const labels = Int32Array.from({ length: 20 }, (_, i) => i % FIXTURE_C);
      labels[4] = -1;
      const set = await labelledSet(nextSet(), undefined, labels);
      const out = nextOut();
      await expectError("train_head.ts", train(set, out), {
        code: 1,
        mentions: [`${set}/labels.npy`, "label -1"],
        unchanged: [out],
      });
    });

    const groupCases: [string, string, string[]][] = [
      ["misses a class", "[[0,1,2],[3,4,5,6],[7,8]]", ["class 9", "no group"]],
      ["repeats a class", "[[0,1,2],[3,4,5,6],[6,7,8,9]]", ["class 6", "again"]],
      ["has an out-of-range class", "[[0,1,2],[3,4,5,6],[7,8,9,10]]", ["class id 10"]],
      ["is invalid JSON", "[[0,1,2],[3,4,5,6],[7,8,9]", ["not valid JSON"]],
      ["is an empty group list", "[]", ["non-empty"]],
    ];
    for (const [k, [what, text, mentions]] of groupCases.entries()) {
      await t.step(`groups file ${what}`, async () => {
        const path = `${root}/groups_${k}.json`;
        await Deno.writeTextFile(path, text);
        const out = nextOut();
        await expectError("train_head.ts", train(fx.train, out, ["--groups", path]), {
          code: 1,
          mentions: [path, ...mentions],
          unchanged: [out],
        });
      });
    }

    await t.step("groups file that does not exist", async () => {
      const out = nextOut();
      const path = `${root}/no_such_groups.json`;
      await expectError("train_head.ts", train(fx.train, out, ["--groups", path]), {
        code: 1,
        mentions: [path],
        unchanged: [out],
      });
    });

    const usageCases: [string, string[], string[]][] = [
      ["--steps 0", ["--steps", "0"], ["--steps", '"0"']],
      ["--steps=-1", ["--steps=-1"], ["--steps", '"-1"']],
      ["--steps -1 (dash value)", ["--steps", "-1"], ["--steps", '"-1"']],
      ["--batch 0", ["--batch", "0"], ["--batch", '"0"']],
      ["--lr abc", ["--lr", "abc"], ["--lr", '"abc"']],
      ["--lr 0", ["--lr", "0"], ["--lr", '"0"']],
      ["--steps 1.5", ["--steps", "1.5"], ["--steps", '"1.5"']],
      ["--seed -3", ["--seed=-3"], ["--seed", '"-3"']],
      ["--warmup longer than --steps", ["--warmup", "50"], ["--warmup 50", "--steps 20"]],
      ["unknown flag", ["--bogus", "1"], ["--bogus"]],
    ];
    for (const [what, extra, mentions] of usageCases) {
      await t.step(`usage: ${what}`, async () => {
        const out = nextOut();
        // Later flags win in parseArgs, so the bad value given last is the one parsed.
        await expectError("train_head.ts", train(fx.train, out, extra), {
          code: 2,
          mentions,
          unchanged: [out],
        });
      });
    }

    await t.step("usage: missing --features", async () => {
      const out = nextOut();
      await expectError("train_head.ts", ["--out", out], {
        code: 2,
        mentions: ["--features", "required"],
        unchanged: [out],
      });
    });

    await t.step("usage: missing --out", async () => {
      await expectError("train_head.ts", ["--features", fx.train], {
        code: 2,
        mentions: ["--out", "required"],
        unchanged: [],
      });
    });

    await t.step("missing feature set directory", async () => {
      const out = nextOut();
      const missing = `${root}/no_such_set`;
      await expectError("train_head.ts", train(missing, out), {
        code: 1,
        mentions: [missing, "deno task demo"],
        unchanged: [out],
      });
    });

    await t.step("incomplete feature set (no complete: true)", async () => {
      const set = nextSet();
      await copySet(fx.train, set);
      const meta = JSON.parse(await Deno.readTextFile(`${set}/meta.json`));
      delete meta.complete;
      await Deno.writeTextFile(`${set}/meta.json`, JSON.stringify(meta));
      const out = nextOut();
      await expectError("train_head.ts", train(set, out), {
        code: 1,
        mentions: [`${set}/meta.json`, "complete"],
        unchanged: [out],
      });
    });

    await t.step("--out is an existing file", async () => {
      const file = `${root}/a_file.txt`;
      await Deno.writeTextFile(file, "keep me\n");
      await expectError("train_head.ts", train(fx.train, file), {
        code: 1,
        mentions: [file, "--out"],
        unchanged: [file],
      });
    });

    await t.step("--val with another D", async () => {
      const val = await writeSet(nextSet(), 10, {
        dim: 8,
        labels: Int32Array.from({ length: 10 }, (_, i) => i),
      });
      const out = nextOut();
      await expectError("train_head.ts", train(fx.train, out, ["--val", val]), {
        code: 1,
        mentions: [val, "D = 8", "D = 16"],
        unchanged: [out],
      });
    });

    // BUG (tasks/_shared/stages.ts runTrainStage): a 0-row training set reaches hyperRule, whose
    // RangeError surfaces as "error: Dataset size must be a positive integer, got 0 (rerun with
    // --debug for details)": an internal error that does not name the feature set. Expected: a
    // DataError naming --features DIR right after readFeatureSet.
    await t.step({
      name: "empty training set (0 rows)",
      fn: async () => {
        const set = await writeSet(nextSet(), 0);
        const out = nextOut();
        await expectError("train_head.ts", train(set, out), {
          code: 1,
          mentions: [set],
          unchanged: [out],
        });
      },
    });
  });
});

Deno.test("bad input: score fails cleanly and writes nothing", async (t) => {
  await withTempDir(async (root) => {
    const fx: Fixture = await writeFixture(`${root}/features`);
    const flat = await writeRandomHead(`${root}/head_flat`, "flat");
    const group = await writeRandomHead(`${root}/head_group`, "group");
    const nextOut = counter(root, "out");
    const nextSet = counter(root, "set");
    const score = (o: { head?: string; id?: string; ood?: string[]; out: string }) => [
      "--head",
      o.head ?? flat,
      "--id",
      o.id ?? fx.val,
      ...(o.ood ?? [`faint=${fx.ood.faint}`, `far=${fx.ood.far}`]).flatMap((s) => ["--ood", s]),
      "--out",
      o.out,
    ];
    // An existing good result; each case that fails over one gets its own copy, which must keep
    // every file byte for byte (manifest.json included, or the next run recomputes for nothing).
    const pristine = `${root}/existing_score`;
    {
      const args = score({ out: pristine });
      const r = await runTask("score.ts", args);
      assert.equal(r.code, 0, describeRun("score.ts", args, r));
    }
    const prior = () => copyTree(pristine, nextOut());

    for (const [name, bad] of Object.entries(badFeatureFiles(80))) {
      await t.step(`OOD features.npy: ${name}`, async () => {
        const set = nextSet();
        await copySet(fx.ood.far, set);
        await Deno.writeFile(`${set}/features.npy`, bad.bytes);
        const out = nextOut();
        await expectError("score.ts", score({ ood: [`far=${set}`], out }), {
          code: 1,
          mentions: [`${set}/features.npy`, ...bad.mentions],
          unchanged: [out],
        });
      });
    }

    const narrowArgs = async (out: string) => {
      const set = await writeSet(nextSet(), 30, { dim: 12 });
      return { set, args: score({ ood: [`narrow=${set}`], out }) };
    };
    await t.step("feature set D differs from the head's (message)", async () => {
      const { set, args } = await narrowArgs(nextOut());
      await expectError("score.ts", args, {
        code: 1,
        mentions: [set, "D = 12", "D = 16"],
        unchanged: [],
      });
    });

    // BUG (tasks/_shared/stages.ts runScoreStage): the D and empty-set checks live in scoreSets,
    // which runs after ensureWritableDir(--out) and after manifest.json is removed, so a failed
    // run leaves a new empty --out dir behind, and over an existing result it deletes that
    // result's manifest.json. Expected: validate every set (D, rows) before touching --out.
    await t.step({
      name: "feature set D differs from the head's: --out untouched",
      fn: async () => {
        for (const out of [nextOut(), await prior()]) {
          const { set, args } = await narrowArgs(out);
          await expectError("score.ts", args, { code: 1, mentions: [set], unchanged: [out] });
        }
      },
    });

    await t.step("NaN features in the ID set (existing output)", async () => {
      const id = await labelledSet(nextSet(), (d) => (d[2 * FIXTURE_D + 1] = NaN));
      const out = await prior();
      await expectError("score.ts", score({ id, out }), {
        code: 1,
        mentions: [`${id}/features.npy`, "NaN", "row 2"],
        unchanged: [out],
      });
    });

    await t.step("Inf features in an OOD set", async () => {
      const set = await writeSet(nextSet(), 30, {
        fill: (i, j) => (i === 9 && j === 0 ? Infinity : 1),
      });
      const out = nextOut();
      await expectError("score.ts", score({ ood: [`inf=${set}`], out }), {
        code: 1,
        mentions: [`${set}/features.npy`, "Infinity", "row 9"],
        unchanged: [out],
      });
    });

    await t.step("label -2 in the ID set", async () => {
      const labels = Int32Array.from({ length: 20 }, (_, i) => i % FIXTURE_C);
      labels[3] = -2;
      const id = await labelledSet(nextSet(), undefined, labels);
      const out = nextOut();
      await expectError("score.ts", score({ id, out }), {
        code: 1,
        mentions: [`${id}/labels.npy`, "label -2"],
        unchanged: [out],
      });
    });

    await t.step("label 10 (= C) in the ID set", async () => {
      const labels = Int32Array.from({ length: 20 }, (_, i) => i % FIXTURE_C);
      labels[0] = FIXTURE_C;
      const id = await labelledSet(nextSet(), undefined, labels);
      const out = nextOut();
      await expectError("score.ts", score({ id, out }), {
        code: 1,
        mentions: [`${id}/labels.npy`, "label 10"],
        unchanged: [out],
      });
    });

    await t.step("empty OOD set (0 rows) (message)", async () => {
      const set = await writeSet(nextSet(), 0);
      await expectError("score.ts", score({ ood: [`empty=${set}`], out: nextOut() }), {
        code: 1,
        mentions: [set, "empty"],
        unchanged: [],
      });
    });

    // BUG: same as the D check above (tasks/_shared/stages.ts runScoreStage): the 0-row check runs
    // inside scoreSets after --out is created and manifest.json removed.
    await t.step({
      name: "empty OOD set (0 rows): --out untouched",
      fn: async () => {
        for (const out of [nextOut(), await prior()]) {
          const set = await writeSet(nextSet(), 0);
          await expectError("score.ts", score({ ood: [`empty=${set}`], out }), {
            code: 1,
            mentions: [set, "empty"],
            unchanged: [out],
          });
        }
      },
    });

    await t.step("missing feature set directory", async () => {
      const missing = `${root}/no_such_set`;
      const out = nextOut();
      await expectError("score.ts", score({ ood: [`gone=${missing}`], out }), {
        code: 1,
        mentions: [missing, "deno task demo"],
        unchanged: [out],
      });
    });

    await t.step("incomplete feature set (complete: false)", async () => {
      const set = nextSet();
      await copySet(fx.ood.far, set);
      const meta = JSON.parse(await Deno.readTextFile(`${set}/meta.json`));
      meta.complete = false;
      await Deno.writeTextFile(`${set}/meta.json`, JSON.stringify(meta));
      const out = nextOut();
      await expectError("score.ts", score({ ood: [`far=${set}`], out }), {
        code: 1,
        mentions: [`${set}/meta.json`, "complete"],
        unchanged: [out],
      });
    });

    await t.step("missing head directory", async () => {
      const head = `${root}/no_such_head`;
      const out = nextOut();
      await expectError("score.ts", score({ head, out }), {
        code: 1,
        mentions: [head, "train-head"],
        unchanged: [out],
      });
    });

    await t.step("--out is an existing file", async () => {
      const file = `${root}/a_file.txt`;
      await Deno.writeTextFile(file, "keep me\n");
      await expectError("score.ts", score({ out: file }), {
        code: 1,
        mentions: [file, "--out"],
        unchanged: [file],
      });
    });

    await t.step("flat-head method (msp) on a group head", async () => {
      const out = nextOut();
      await expectError("score.ts", [...score({ head: group, out }), "--methods", "msp"], {
        code: 1,
        mentions: ['"msp"', group, "group head"],
        unchanged: [out],
      });
    });

    await t.step("mos on a flat head", async () => {
      const out = nextOut();
      await expectError("score.ts", [...score({ out }), "--methods", "mos"], {
        code: 1,
        mentions: ['"mos"', flat, "flat head"],
        unchanged: [out],
      });
    });

    // BUG (tasks/score.ts + lib/scoring/score_sets.ts): explicit --methods mahalanobis without
    // --train fails inside scoreSets: exit 1 instead of 2, stderr has the "score: mahalanobis"
    // progress line before the error (two lines), and --out was already created. Expected: a
    // UsageError from parseScoreFlags/main ("--methods mahalanobis needs --train DIR") before
    // any work.
    await t.step({
      name: "mahalanobis without --train",
      fn: async () => {
        const out = nextOut();
        await expectError("score.ts", [...score({ out }), "--methods", "mahalanobis"], {
          code: 2,
          mentions: ["--train", "mahalanobis"],
          unchanged: [out],
        });
      },
    });

    // BUG (lib/scoring/score_sets.ts kl, via tasks/_shared/stages.ts): KL (paper variant) with an
    // unlabelled ID set is detected after the "score: logits of 2 sets" and "score: kl" progress
    // lines (three stderr lines) and after --out is created / its manifest.json removed.
    // Expected: check the ID labels up front (before progress output and before touching --out).
    await t.step({
      name: "kl with an unlabelled ID set",
      fn: async () => {
        for (const out of [nextOut(), await prior()]) {
          const args = [
            ...score({ id: fx.ood.far, ood: [`faint=${fx.ood.faint}`], out }),
            "--methods",
            "kl",
          ];
          await expectError("score.ts", args, {
            code: 1,
            mentions: [`${fx.ood.far}/labels.npy`, "-1"],
            unchanged: [out],
          });
        }
      },
    });

    // BUG (tasks/_shared/stages.ts runScoreStage / lib/io/manifest.ts hashInputs): a missing
    // --train dir is found by hashInputs after --out is created, and the message, "error: Input
    // DIR not found", neither names --train nor says what to do. Expected: readFeatureMeta-style
    // "Feature set not found: DIR; ..." (naming --train) before --out is touched.
    await t.step({
      name: "missing --train directory",
      fn: async () => {
        const missing = `${root}/no_such_train`;
        const out = nextOut();
        await expectError(
          "score.ts",
          [...score({ out }), "--methods", "mahalanobis", "--train", missing],
          { code: 1, mentions: [missing, "--train"], unchanged: [out] },
        );
      },
    });

    // BUG (lib/ort/mahalanobis_kernel.ts fit, via runScoreStage): a --train set with -1 labels
    // fails with "error: Label -1 of row 0 is outside [0, 10); fit on labelled ID training rows
    // only." which names no file, after a "score: mahalanobis" progress line (two lines) and after
    // --out is created. Expected: one line naming DIR/labels.npy, before touching --out.
    await t.step({
      name: "unlabelled --train set",
      fn: async () => {
        const out = nextOut();
        await expectError(
          "score.ts",
          [...score({ out }), "--methods", "mahalanobis", "--train", fx.ood.far],
          { code: 1, mentions: [`${fx.ood.far}/labels.npy`, "-1"], unchanged: [out] },
        );
      },
    });

    const usageCases: [string, (out: string) => string[], string[]][] = [
      ["unknown method", (out) => [...score({ out }), "--methods", "msp,foo"], ['"foo"']],
      ["unknown flag", (out) => [...score({ out }), "--bogus"], ["--bogus"]],
      [
        "missing --head",
        (out) => score({ out }).slice(2),
        ["--head", "required"],
      ],
      ["missing --ood", (out) => score({ ood: [], out }), ["--ood", "required"]],
      ["--ood without NAME=", (out) => score({ ood: [fx.ood.far], out }), ["--ood", fx.ood.far]],
      [
        "duplicate OOD names",
        (out) => score({ ood: [`x=${fx.ood.far}`, `x=${fx.ood.faint}`], out }),
        ['"x"'],
      ],
      ["OOD named like the ID set", (out) => score({ ood: [`id=${fx.ood.far}`], out }), ['"id"']],
      ["bad --kl-variant", (out) => [...score({ out }), "--kl-variant", "nope"], ['"nope"']],
      [
        "--odin-temperature 0",
        (out) => [...score({ out }), "--odin-temperature", "0"],
        ["--odin-temperature", '"0"'],
      ],
    ];
    for (const [what, args, mentions] of usageCases) {
      await t.step(`usage: ${what}`, async () => {
        const out = nextOut();
        await expectError("score.ts", args(out), { code: 2, mentions, unchanged: [out] });
      });
    }
  });
});

Deno.test("bad input: tables fails cleanly and writes nothing", async (t) => {
  await withTempDir(async (root) => {
    await t.step("--scores directory without metrics.csv", async () => {
      const scores = `${root}/empty_scores`;
      await Deno.mkdir(scores);
      const out = `${root}/tables_0`;
      await expectError("tables.ts", ["--scores", scores, "--out", out], {
        code: 1,
        mentions: [`${scores}/metrics.csv`, "deno task score"],
        unchanged: [out],
      });
    });

    await t.step("malformed metrics.csv", async () => {
      const scores = `${root}/bad_scores`;
      await Deno.mkdir(scores);
      await Deno.writeTextFile(`${scores}/metrics.csv`, "method,dataset,auroc\nmsp,x,abc\n");
      const out = `${root}/tables_1`;
      await expectError("tables.ts", ["--scores", scores, "--out", out], {
        code: 1,
        mentions: [`${scores}/metrics.csv`],
        unchanged: [out],
      });
    });

    await t.step("usage: missing --scores", async () => {
      const out = `${root}/tables_2`;
      await expectError("tables.ts", ["--out", out], {
        code: 2,
        mentions: ["--scores"],
        unchanged: [out],
      });
    });
  });
});
