/**
 * The bad-input catalogue, second part (the first is tests/bad_input_test.ts): extract's list,
 * shard, batch, model and output checks; object-dtype arrays; feature sets of another backbone;
 * the table1 YAML config; tables' flags; read-only output directories; a disk that fills up
 * mid-write. Every case runs the task as a real subprocess and asserts the exit code (1 bad data,
 * 2 bad usage), exactly one stderr line `error: ...` naming the file / flag / value, no stack
 * trace, and that no output was created or changed (absent stays absent; an existing result
 * keeps every file byte for byte, mtimes included).
 *
 * Read-only and full file systems are real tmpfs mounts when `mount` works (root or
 * CAP_SYS_ADMIN, as in this project's CI); otherwise, or with MOS_TEST_SIMULATE_FS=1, the task
 * runs with a `--preload` module that makes every write under the directory fail with the same
 * EROFS / ENOSPC error the kernel gives. Each case's name says which was used.
 */
import assert from "node:assert/strict";
import sharp from "npm:sharp@0.35.5";
import {
  checkErrorLine,
  copyTree,
  counter,
  describeRun,
  expectError,
  type Fixture,
  FIXTURE_BACKBONE,
  FIXTURE_C,
  FIXTURE_D,
  ok,
  REPO_ROOT,
  runWith,
  snapshotTree,
  type TaskResult,
  withTempDir,
  writeFixture,
} from "./cli_helpers.ts";
import { readOnlyDir, smallDisk } from "./hostile_fs.ts";
import { writeFeatureSet } from "../lib/io/feature_set.ts";
import { writeHead } from "../lib/io/head.ts";
import { buildModel, floatConst, node } from "../lib/ort/graph.ts";
import { createRng } from "../lib/random.ts";

// ---------------------------------------------------------------------------------------------
// Read-only and full file systems.

/** Every path under `dir` whose name marks an unfinished write. */
async function tempFiles(dir: string): Promise<string[]> {
  const snap = await snapshotTree(dir);
  return Object.keys(snap ?? {}).filter((p) => p.includes(".tmp-"));
}

/**
 * Snapshot entries of `before`'s files only: a failed run may leave resume state beside the
 * previous output, but every file of the previous output must be exactly as it was.
 */
function sameFilesAs(
  before: Record<string, unknown> | null,
  after: Record<string, unknown> | null,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(before ?? {})) out[k] = after?.[k];
  return out;
}

// ---------------------------------------------------------------------------------------------
// Fixtures.

/** A `.npy` v1.0 file with a hand-written header dict (padded like NumPy) and raw data bytes. */
function rawNpy(dict: string, data: Uint8Array): Uint8Array {
  let len = dict.length + 1;
  len += (64 - ((10 + len) % 64)) % 64;
  const out = new Uint8Array(10 + len + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, len, true);
  for (let i = 0; i < dict.length; i++) out[10 + i] = dict.charCodeAt(i);
  out.fill(0x20, 10 + dict.length, 10 + len - 1);
  out[10 + len - 1] = 0x0a;
  out.set(data, 10 + len);
  return out;
}

/** features.npy of `rows` x D Python objects (NumPy writes a pickle after such a header). */
function objectNpy(rows: number): Uint8Array {
  const pickle = new TextEncoder().encode("\x80\x04\x95 pickled python objects .");
  return rawNpy(
    `{'descr': '|O', 'fortran_order': False, 'shape': (${rows}, ${FIXTURE_D}), }`,
    pickle,
  );
}

/** Copies the files of feature set `src` into a new dir `dst`. */
async function copySet(src: string, dst: string): Promise<string> {
  await Deno.mkdir(dst, { recursive: true });
  for await (const e of Deno.readDir(src)) {
    if (e.isFile) await Deno.copyFile(`${src}/${e.name}`, `${dst}/${e.name}`);
  }
  return dst;
}

/** An unlabelled set of `rows` x `dim` seeded features from `backbone`. */
async function writeSet(
  dir: string,
  rows: number,
  opts: { dim?: number; backbone?: string; seed?: number } = {},
): Promise<string> {
  const dim = opts.dim ?? FIXTURE_D;
  const rng = createRng(opts.seed ?? 9);
  const data = new Float32Array(rows * dim).map(() => rng.float());
  await writeFeatureSet(dir, {
    meta: { dataset: "bad", backbone: opts.backbone ?? FIXTURE_BACKBONE, num_classes: FIXTURE_C },
    features: { data, rows, cols: dim },
    labels: new Int32Array(rows).fill(-1),
  });
  return dir;
}

/** A flat head with seeded random weights (scoring needs no trained head). */
async function writeRandomHead(dir: string): Promise<string> {
  const rng = createRng(11);
  await writeHead(dir, {
    info: { kind: "flat", num_classes: FIXTURE_C, groups: [], backbone: FIXTURE_BACKBONE },
    weight: {
      data: new Float32Array(FIXTURE_C * FIXTURE_D).map(() => rng.normal()),
      rows: FIXTURE_C,
      cols: FIXTURE_D,
    },
    bias: new Float32Array(FIXTURE_C),
  });
  return dir;
}

/** The images input of every test model: N x 3 x H x W. */
const IMAGES = { name: "images", type: "float32" as const, shape: ["N", 3, "H", "W"] };

/** A valid backbone: global average pool -> 3 x 8 projection: `features` N x 8. */
function goodModel(): Uint8Array {
  const w = Array.from({ length: 24 }, (_, i) => ((i * 7) % 5) - 2);
  return buildModel({
    name: "gap_projection",
    inputs: [IMAGES],
    outputs: [{ name: "features", type: "float32", shape: ["N", 8] }],
    nodes: [
      node("GlobalAveragePool", ["images"], ["gap"]),
      node("Flatten", ["gap"], ["flat"], { axis: 1 }),
      node("MatMul", ["flat", "w"], ["features"]),
    ],
    initializers: [floatConst("w", [3, 8], w)],
  });
}

/** Backbones whose `features` is not N x D: the pooled map (N x 3 x 1 x 1) and a vector (N). */
function badModels(): Record<string, { bytes: Uint8Array; shape: string }> {
  return {
    "N x 3 x 1 x 1": {
      shape: "N x 3 x 1 x 1",
      bytes: buildModel({
        name: "pooled_map",
        inputs: [IMAGES],
        outputs: [{ name: "features", type: "float32", shape: ["N", 3, 1, 1] }],
        nodes: [node("GlobalAveragePool", ["images"], ["features"])],
      }),
    },
    "N (a vector)": {
      shape: "N",
      bytes: buildModel({
        name: "vector",
        inputs: [IMAGES],
        outputs: [{ name: "features", type: "float32", shape: ["N"] }],
        nodes: [node("ReduceMean", ["images"], ["features"], { axes: [1, 2, 3], keepdims: 0 })],
      }),
    },
  };
}

/** An ImageFolder of 2 classes x 2 small PNGs. */
async function writeImages(root: string): Promise<string> {
  for (const [c, cls] of ["ant", "bee"].entries()) {
    await Deno.mkdir(`${root}/${cls}`, { recursive: true });
    for (let i = 0; i < 2; i++) {
      const rng = createRng(10 * c + i);
      const px = new Uint8Array(40 * 30 * 3).map(() => rng.int(256));
      await sharp(px, { raw: { width: 40, height: 30, channels: 3 } }).png()
        .toFile(`${root}/${cls}/${i}.png`);
    }
  }
  return root;
}

// ---------------------------------------------------------------------------------------------

Deno.test("bad input (more): extract fails cleanly and writes nothing", async (t) => {
  await withTempDir(async (root) => {
    const images = await writeImages(`${root}/images`);
    const model = `${root}/good.onnx`;
    await Deno.writeFile(model, goodModel());
    const nextOut = counter(root, "out");
    const base = (out: string, extra: string[] = []) => [
      "--model",
      model,
      "--images",
      images,
      "--out",
      out,
      "--size",
      "32",
      ...extra,
    ];
    const existing = `${root}/existing`;
    await ok("extract.ts", base(existing));
    const prior = () => copyTree(existing, nextOut());
    const listCase = (name: string, lines: string[]) => {
      const path = `${root}/${name}.txt`;
      return Deno.writeTextFile(path, lines.join("\n") + "\n").then(() => path);
    };
    const withList = (list: string, out: string) => [
      "--model",
      model,
      "--list",
      list,
      "--root",
      images,
      "--out",
      out,
      "--size",
      "32",
    ];

    await t.step("--list with a duplicate path", async () => {
      const list = await listCase("dup", ["ant/0.png 0", "bee/0.png 1", "ant/./0.png 0"]);
      const out = nextOut();
      await expectError("extract.ts", withList(list, out), {
        code: 1,
        mentions: [list, "line 3", "duplicates line 1"],
        unchanged: [out],
      });
    });

    await t.step("--list entry that escapes --root (../)", async () => {
      const list = await listCase("escape", ["ant/0.png 0", "../secret.png 1"]);
      const out = nextOut();
      await expectError("extract.ts", withList(list, out), {
        code: 1,
        mentions: [list, "line 2", '"../secret.png"', "--root"],
        unchanged: [out],
      });
    });

    await t.step("--list entry that escapes --root deeper (ant/../../x)", async () => {
      const list = await listCase("escape2", ["ant/../../x.png"]);
      const out = nextOut();
      await expectError("extract.ts", withList(list, out), {
        code: 1,
        mentions: [list, "line 1", "ant/../../x.png"],
        unchanged: [out],
      });
    });

    await t.step("--list entry with an absolute path", async () => {
      const list = await listCase("absolute", ["/etc/hostname 0"]);
      const out = nextOut();
      await expectError("extract.ts", withList(list, out), {
        code: 1,
        mentions: [list, "line 1", "/etc/hostname"],
        unchanged: [out],
      });
    });

    for (const shard of ["0/0", "3/2", "abc"]) {
      await t.step(`usage: --shard ${shard}`, async () => {
        const out = nextOut();
        await expectError("extract.ts", base(out, ["--shard", shard]), {
          code: 2,
          mentions: ["--shard", shard],
          unchanged: [out],
        });
      });
    }

    await t.step("usage: --batch 0", async () => {
      const out = nextOut();
      await expectError("extract.ts", base(out, ["--batch", "0"]), {
        code: 2,
        mentions: ["--batch", '"0"'],
        unchanged: [out],
      });
    });

    await t.step("--out is an existing file", async () => {
      const file = `${root}/a_file.txt`;
      await Deno.writeTextFile(file, "keep me\n");
      await expectError("extract.ts", base(file), {
        code: 1,
        mentions: [file, "--out"],
        unchanged: [file],
      });
    });

    await t.step("--images that does not exist", async () => {
      const out = nextOut();
      const missing = `${root}/no_such_images`;
      await expectError("extract.ts", ["--model", model, "--images", missing, "--out", out], {
        code: 1,
        mentions: ["--images", missing],
        unchanged: [out],
      });
    });

    // Regression (was a bug in lib/extract/extract_run.ts runExtraction): --out is created (ensureWritableDir) before
    // the model is looked at, and the missing model is reported by hashFile as "Input FILE not
    // found", which names neither --model nor the fix. Expected: openBackbone's "--model FILE not
    // found; create it with `deno task bit-to-onnx`", before --out is touched.
    await t.step("--model that does not exist", async () => {
      const out = nextOut();
      const missing = `${root}/no_such_model.onnx`;
      await expectError("extract.ts", ["--model", missing, "--images", images, "--out", out], {
        code: 1,
        mentions: ["--model", missing, "bit-to-onnx"],
        unchanged: [out],
      });
    });

    // Regression (was a bug in lib/extract/extract_run.ts runExtraction): meta.json of the existing complete output is
    // removed and .parts/ created before openBackbone fails, so a bad --model destroys a good
    // result. Expected: open (and check) the model before touching --out.
    await t.step("--model that is not ONNX, over an existing output", async () => {
      const junk = `${root}/junk.onnx`;
      await Deno.writeTextFile(junk, "not a protobuf\n");
      const out = await prior();
      await expectError("extract.ts", ["--model", junk, ...base(out).slice(2)], {
        code: 1,
        mentions: ["--model", junk],
        unchanged: [out],
      });
    });

    // Regression (was a bug in lib/extract/extract_run.ts flush, lib/extract/backbone_session.ts): an output is only
    // checked for `length % batch === 0`, so N x 3 x 1 x 1 is silently stored as D = 3 and a
    // length-N vector as D = 1. Expected: openBackbone rejects a declared rank other than 2, and
    // flush checks `t.dims.length === 2 && t.dims[0] === batch`, both naming --model and the
    // output, before --out is touched.
    for (const [what, bad] of Object.entries(badModels())) {
      await t.step(`--model whose features output is ${what}`, async () => {
        const path = `${root}/bad_${bad.shape.replaceAll(" ", "")}.onnx`;
        await Deno.writeFile(path, bad.bytes);
        for (const out of [nextOut(), await prior()]) {
          await expectError("extract.ts", ["--model", path, ...base(out).slice(2)], {
            code: 1,
            mentions: ["--model", path, "features"],
            matches: [/N x D/],
            unchanged: [out],
          });
        }
      });
    }

    const ro = await readOnlyDir(`${root}/readonly`, root);
    try {
      await t.step(`read-only --out (${ro.kind})`, async () => {
        for (const out of [ro.dir, `${ro.dir}/new`]) {
          await expectError("extract.ts", base(out), {
            code: 1,
            mentions: ["--out", out],
            matches: [/read-only/i],
            unchanged: [ro.dir],
          }, ro);
        }
      });
    } finally {
      await ro.release();
    }
  });
});

Deno.test("bad input (more): train-head and score fail cleanly and write nothing", async (t) => {
  await withTempDir(async (root) => {
    const fx: Fixture = await writeFixture(`${root}/features`);
    const head = await writeRandomHead(`${root}/head`);
    const nextOut = counter(root, "out");
    const nextSet = counter(root, "set");
    const train = (features: string, out: string) => [
      "--features",
      features,
      "--out",
      out,
      "--steps",
      "20",
    ];
    const score = (o: { ood?: string[]; out: string }) => [
      "--head",
      head,
      "--id",
      fx.val,
      ...(o.ood ?? [`far=${fx.ood.far}`]).flatMap((s) => ["--ood", s]),
      "--methods",
      "msp,energy",
      "--out",
      o.out,
    ];
    const existingScore = `${root}/existing_score`;
    await ok("score.ts", score({ out: existingScore }));

    await t.step("train-head: features.npy of object dtype", async () => {
      const set = await copySet(fx.train, nextSet());
      await Deno.writeFile(`${set}/features.npy`, objectNpy(400));
      const out = nextOut();
      await expectError("train_head.ts", train(set, out), {
        code: 1,
        mentions: [`${set}/features.npy`, "'|O'", "object"],
        unchanged: [out],
      });
    });

    // Regression (was a bug in lib/train/groups_spec.ts): JSON.parse's message quotes the start of the file, newlines
    // included, so a text file passed as --groups gives a two-line error. Expected: whitespace
    // in the quoted reason collapsed to single spaces.
    await t.step("train-head: --groups file that is a text list, not JSON", async () => {
      const path = `${root}/groups.txt`;
      await Deno.writeTextFile(path, "ant bee\nwolf dog\n");
      const out = nextOut();
      await expectError("train_head.ts", [...train(fx.train, out), "--groups", path], {
        code: 1,
        mentions: [path, "not valid JSON"],
        unchanged: [out],
      });
    });

    await t.step("score: OOD features.npy of object dtype", async () => {
      const set = await copySet(fx.ood.far, nextSet());
      await Deno.writeFile(`${set}/features.npy`, objectNpy(80));
      const out = nextOut();
      await expectError("score.ts", score({ ood: [`far=${set}`], out }), {
        code: 1,
        mentions: [`${set}/features.npy`, "object"],
        unchanged: [out],
      });
    });

    await t.step("score: a feature set from another backbone (existing output)", async () => {
      const set = await writeSet(nextSet(), 30, { backbone: "bit-m-r50x1" });
      const out = await copyTree(existingScore, nextOut());
      await expectError("score.ts", score({ ood: [`other=${set}`], out }), {
        code: 1,
        mentions: [set, '"bit-m-r50x1"', `"${FIXTURE_BACKBONE}"`, head],
        unchanged: [out],
      });
    });

    const ro = await readOnlyDir(`${root}/readonly`, root);
    try {
      await t.step(`train-head: read-only --out (${ro.kind})`, async () => {
        for (const out of [ro.dir, `${ro.dir}/head`]) {
          await expectError("train_head.ts", train(fx.train, out), {
            code: 1,
            mentions: ["--out", out],
            matches: [/read-only/i],
            unchanged: [ro.dir],
          }, ro);
        }
      });
      await t.step(`score: read-only --out (${ro.kind})`, async () => {
        for (const out of [ro.dir, `${ro.dir}/score`]) {
          await expectError("score.ts", score({ out }), {
            code: 1,
            mentions: ["--out", out],
            matches: [/read-only/i],
            unchanged: [ro.dir],
          }, ro);
        }
      });
    } finally {
      await ro.release();
    }
  });
});

/**
 * A disk that fills up while a run replaces an existing result. The previous output is made on a
 * small file system, the file system is filled to `free` bytes, and a run whose output is larger
 * than that fails part-way through writing.
 */
async function diskFullCase(
  root: string,
  opts: {
    file: string;
    previous: (out: string) => string[];
    bigger: (out: string) => string[];
  },
): Promise<
  { kind: string; r: TaskResult; args: string[]; before: unknown; after: unknown; temps: string[] }
> {
  const disk = await smallDisk(`${root}/disk`, root, 2 << 20);
  try {
    const out = `${disk.dir}/out`;
    await ok(opts.file, opts.previous(out));
    await disk.fill({ tmpfs: 16 << 10, simulated: 16 << 10 });
    const before = await snapshotTree(out);
    const args = opts.bigger(out);
    const r = await runWith(opts.file, args, disk);
    const after = await snapshotTree(out);
    return {
      kind: disk.kind,
      r,
      args,
      before,
      after: sameFilesAs(before, after),
      temps: await tempFiles(out),
    };
  } finally {
    await disk.release();
  }
}

Deno.test("bad input (more): a disk that fills up mid-write", async (t) => {
  await withTempDir(async (root) => {
    const fx: Fixture = await writeFixture(`${root}/features`);
    const wide = `${root}/wide`;
    const wideLabels = Int32Array.from({ length: 200 }, (_, i) => i % FIXTURE_C);
    const wideData = new Float32Array(200 * 2048).map((_, k) => (k % 2048) % 7);
    await writeFeatureSet(wide, {
      meta: { dataset: "wide", backbone: FIXTURE_BACKBONE, num_classes: FIXTURE_C },
      features: { data: wideData, rows: 200, cols: 2048 },
      labels: wideLabels,
    });
    const bigOod = await writeSet(`${root}/big_ood`, 50_000);
    const head = await writeRandomHead(`${root}/head`);
    const score = (ood: string) => (out: string) => [
      "--head",
      head,
      "--id",
      fx.val,
      "--ood",
      `far=${ood}`,
      "--methods",
      "msp,energy",
      "--out",
      out,
    ];
    const cases = {
      "train-head": {
        file: "train_head.ts",
        previous: (out: string) => ["--features", fx.train, "--out", out, "--steps", "20"],
        // D = 2048: the checkpoint and weight.npy (80 KiB each) do not fit in 16 KiB.
        bigger: (out: string) => ["--features", wide, "--out", out, "--steps", "20"],
      },
      score: { file: "score.ts", previous: score(fx.ood.far), bigger: score(bigOod) },
    };
    const results: Record<string, Awaited<ReturnType<typeof diskFullCase>>> = {};
    for (const [name, c] of Object.entries(cases)) results[name] = await diskFullCase(root, c);

    for (const [name, res] of Object.entries(results)) {
      // Regression (was a bug in lib/io/atomic.ts writeFileAtomic): ENOSPC surfaces as the internal error "No space
      // left on device (os error 28) (rerun with --debug for details)" naming no file. Expected:
      // a DataError naming the file and --out, e.g. "cannot write DIR/weight.npy: no space left
      // on device; free space or choose another --out".
      await t.step(
        `${name}: one clean error line naming the output, no temp files (${res.kind})`,
        () => {
          checkErrorLine(cases[name as keyof typeof cases].file, res.args, res.r, {
            code: 1,
            mentions: [`${root}/disk/out`],
            matches: [/no space left/i],
            unchanged: [],
          });
          assert.deepEqual(res.temps, [], "temp files of the failed write were left behind");
        },
      );
    }
    for (const [name, res] of Object.entries(results)) {
      // New files are staged under a temp directory and renamed into place only when all of
      // them exist (lib/io/staging.ts), so a full disk costs the new result, not the old one.
      await t.step(`${name}: the previous output is left intact (${res.kind})`, () => {
        assert.deepEqual(res.after, res.before, describeRun(name, res.args, res.r));
      });
    }
  });
});

Deno.test("bad input (more): table1 config and tables flags", async (t) => {
  await withTempDir(async (root) => {
    const nextOut = counter(root, "out");
    const good = await Deno.readTextFile(`${REPO_ROOT}/experiments/table1.yaml`);
    const config = async (name: string, text: string) => {
      const path = `${root}/${name}.yaml`;
      await Deno.writeTextFile(path, text);
      return path;
    };
    const table1 = (cfg: string, out: string, extra: string[] = []) => [
      "--config",
      cfg,
      "--data",
      `${root}/no_features`,
      "--out",
      out,
      ...extra,
    ];

    // Regression (was a bug in lib/config/paper_experiment.ts): the yaml library's first message line ends in ":"
    // (it introduces a source excerpt on the following lines), so the error ends "... at line 3,
    // column 1:". Expected: the trailing colon dropped.
    await t.step("YAML with a syntax error", async () => {
      const cfg = await config("syntax", "data_root: x\nsets: [train, id\nout: y\n");
      const out = nextOut();
      await expectError("table1.ts", table1(cfg, out), {
        code: 1,
        mentions: [cfg, "not valid YAML", "line 3"],
        unchanged: [out],
      });
    });

    await t.step("YAML with an unknown top-level key", async () => {
      const cfg = await config("unknown_top", good.replace(/^train:/m, "trian:"));
      const out = nextOut();
      await expectError("table1.ts", table1(cfg, out), {
        code: 1,
        mentions: [cfg, 'unknown key "trian"', "allowed: data_root, sets, train, score, out"],
        unchanged: [out],
      });
    });

    await t.step("YAML with an unknown nested key", async () => {
      const cfg = await config(
        "unknown_nested",
        good.replace("odin_temperature: 1000", "odin_temp: 1000"),
      );
      const out = nextOut();
      await expectError("table1.ts", table1(cfg, out), {
        code: 1,
        mentions: [cfg, '"score.odin_temp"'],
        unchanged: [out],
      });
    });

    await t.step("YAML with a negative step count", async () => {
      const cfg = await config("negative", good.replace("seed: 0", "seed: 0\n  steps: -5"));
      const out = nextOut();
      await expectError("table1.ts", table1(cfg, out), {
        code: 1,
        mentions: [cfg, '"train.steps"', "-5"],
        unchanged: [out],
      });
    });

    await t.step("--config that does not exist", async () => {
      const cfg = `${root}/no_such.yaml`;
      const out = nextOut();
      await expectError("table1.ts", table1(cfg, out), {
        code: 1,
        mentions: [cfg, "--config"],
        unchanged: [out],
      });
    });

    await t.step("feature sets missing under --data", async () => {
      const out = nextOut();
      await expectError("table1.ts", table1(`${REPO_ROOT}/experiments/table1.yaml`, out), {
        code: 1,
        mentions: [`${root}/no_features/imagenet_train`, "deno task extract", "deno task demo"],
        unchanged: [out],
      });
    });

    await t.step("usage: --table 2", async () => {
      const out = nextOut();
      await expectError(
        "table1.ts",
        table1(`${REPO_ROOT}/experiments/table1.yaml`, out, [
          "--table",
          "2",
        ]),
        { code: 2, mentions: ["--table", '"2"'], unchanged: [out] },
      );
    });

    // tables needs a score directory.
    const fx = await writeFixture(`${root}/features`);
    const head = await writeRandomHead(`${root}/head`);
    const scores = `${root}/scores`;
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

    await t.step("tables: --out is an existing file", async () => {
      const file = `${root}/a_file.txt`;
      await Deno.writeTextFile(file, "keep me\n");
      await expectError("tables.ts", ["--scores", scores, "--out", file], {
        code: 1,
        mentions: [file, "--out"],
        unchanged: [file],
      });
    });

    await t.step("tables: --datasets names a set no metrics.csv has", async () => {
      const out = nextOut();
      await expectError("tables.ts", ["--scores", scores, "--out", out, "--datasets", "far,sun"], {
        code: 1,
        mentions: ["--datasets", '"sun"'],
        unchanged: [out],
      });
    });

    await t.step("usage: tables --paper-map without =", async () => {
      const out = nextOut();
      await expectError("tables.ts", ["--scores", scores, "--out", out, "--paper-map", "far"], {
        code: 2,
        mentions: ["--paper-map", '"far"'],
        unchanged: [out],
      });
    });

    const ro = await readOnlyDir(`${root}/readonly`, root);
    try {
      await t.step(`tables: read-only --out (${ro.kind})`, async () => {
        for (const out of [ro.dir, `${ro.dir}/tables`]) {
          await expectError("tables.ts", ["--scores", scores, "--out", out], {
            code: 1,
            mentions: ["--out", out],
            matches: [/read-only/i],
            unchanged: [ro.dir],
          }, ro);
        }
      });
    } finally {
      await ro.release();
    }
  });
});
