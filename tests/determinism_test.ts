/**
 * Determinism, through the command line: the same command run twice (same thread count) writes
 * byte-identical heads (flat and group), scores, metrics, tables and extracted features. Only the
 * fields that record time differ: `manifest.json`'s `wall_seconds` / `created` and the seconds in
 * `timings.csv` (and so the "Test time" column of tables built from two separate score runs).
 *
 * The thread count is a different matter: onnxruntime promises nothing across `--threads`, so
 * the test requires only closeness there and logs whether the bytes happened to agree.
 */
import assert from "node:assert/strict";
import sharp from "npm:sharp@0.35.5";
import { assertClose } from "./assert_close.ts";
import { bytesEqual, listFiles, ok, withTempDir, writeFixture } from "./cli_helpers.ts";
import { inferArch } from "../lib/bit/arch.ts";
import { randomBitWeights } from "../lib/bit/random_weights.ts";
import { buildBitOnnx } from "../lib/bit/resnet_v2_onnx.ts";
import { writeFeatureSet } from "../lib/io/feature_set.ts";
import { readNpy, toFloat32 } from "../lib/io/npy.ts";
import { createRng } from "../lib/random.ts";

/**
 * Asserts two result directories hold the same files, byte for byte, except the time fields:
 * manifest.json is compared without `wall_seconds` and `created`, timings.csv by its rows.
 */
async function assertSameResult(a: string, b: string): Promise<void> {
  const [fa, fb] = await Promise.all([listFiles(a), listFiles(b)]);
  assert.deepEqual(fa, fb, "file sets differ");
  for (const rel of fa) {
    const [x, y] = await Promise.all([Deno.readFile(`${a}/${rel}`), Deno.readFile(`${b}/${rel}`)]);
    const dec = new TextDecoder();
    if (rel.endsWith("manifest.json")) {
      const strip = (u: Uint8Array) => {
        const m = JSON.parse(dec.decode(u));
        assert.equal(typeof m.wall_seconds, "number");
        assert.ok(!Number.isNaN(Date.parse(m.created)));
        delete m.wall_seconds;
        delete m.created;
        return m;
      };
      assert.deepEqual(strip(x), strip(y), `${rel} differs beyond its time fields`);
    } else if (rel.endsWith("timings.csv")) {
      const rows = (u: Uint8Array) =>
        dec.decode(u).trimEnd().split("\n").map((l) => l.split(",")[0]);
      assert.deepEqual(rows(x), rows(y), `${rel} lists other methods`);
    } else {
      assert.ok(bytesEqual(x, y), `${rel} is not byte-identical`);
    }
  }
}

/**
 * Compares `.npy` files of two directories across thread counts: close within `rtol`, and
 * returns which were byte-identical and the worst relative difference.
 */
async function compareAcrossThreads(
  a: string,
  b: string,
  files: string[],
): Promise<{ identical: string[]; differ: string[]; worst: number }> {
  const identical: string[] = [];
  const differ: string[] = [];
  let worst = 0;
  for (const f of files) {
    const [x, y] = await Promise.all([readNpy(`${a}/${f}`), readNpy(`${b}/${f}`)]);
    const [u, v] = [toFloat32(x), toFloat32(y)];
    const err = assertClose(u, v, {
      atol: 1e-5,
      rtol: 1e-4,
      reason: "float32 sums may be split differently across threads; a few ulps per step, " +
        "accumulated over the run",
    });
    for (let i = 0; i < u.length; i++) {
      if (u[i] !== v[i]) worst = Math.max(worst, Math.abs(u[i] - v[i]) / Math.abs(v[i]));
    }
    (err === 0 && bytesEqual(
        new Uint8Array(u.buffer, u.byteOffset, u.byteLength),
        new Uint8Array(v.buffer, v.byteOffset, v.byteLength),
      )
      ? identical
      : differ).push(f);
  }
  return { identical, differ, worst };
}

Deno.test("determinism: train-head, score and tables twice give byte-identical results", async (t) => {
  await withTempDir(async (root) => {
    const fx = await writeFixture(`${root}/features`);
    const train = (out: string, extra: string[]) => [
      "--features",
      fx.train,
      "--val",
      fx.val,
      "--out",
      out,
      "--steps",
      "400",
      "--threads",
      "2",
      ...extra,
    ];
    // Mixup on: its draws are part of what must repeat.
    for (
      const [kind, extra] of [["flat", ["--mixup", "0.2"]], ["group", ["--groups", fx.groups]]]
    ) {
      await t.step(`train-head (${kind} head)`, async () => {
        await ok("train_head.ts", train(`${root}/head_${kind}_a`, extra as string[]));
        await ok("train_head.ts", train(`${root}/head_${kind}_b`, extra as string[]));
        await assertSameResult(`${root}/head_${kind}_a`, `${root}/head_${kind}_b`);
      });
    }
    const score = (head: string, out: string, methods: string) => [
      "--head",
      head,
      "--id",
      fx.val,
      "--ood",
      `faint=${fx.ood.faint}`,
      "--ood",
      `far=${fx.ood.far}`,
      "--train",
      fx.train,
      "--methods",
      methods,
      "--threads",
      "2",
      "--out",
      out,
    ];
    await t.step("score (five flat methods, MOS)", async () => {
      for (const run of ["a", "b"]) {
        const flatArgs = score(
          `${root}/head_flat_a`,
          `${root}/score_flat_${run}`,
          "msp,odin,mahalanobis,energy,kl",
        );
        await ok("score.ts", flatArgs);
        await ok("score.ts", score(`${root}/head_group_a`, `${root}/score_group_${run}`, "mos"));
      }
      await assertSameResult(`${root}/score_flat_a`, `${root}/score_flat_b`);
      await assertSameResult(`${root}/score_group_a`, `${root}/score_group_b`);
    });
    await t.step("tables", async () => {
      const tables = (out: string) => [
        "--scores",
        `${root}/score_flat_a`,
        "--scores",
        `${root}/score_group_a`,
        "--flat-head",
        `${root}/head_flat_a`,
        "--group-head",
        `${root}/head_group_a`,
        "--out",
        out,
      ];
      await ok("tables.ts", tables(`${root}/tables_a`));
      await ok("tables.ts", tables(`${root}/tables_b`));
      await assertSameResult(`${root}/tables_a`, `${root}/tables_b`);
      assert.deepEqual(await listFiles(`${root}/tables_a`), [
        "table1.csv",
        "table1.md",
        "table3.csv",
        "table3.md",
      ]);
    });
  });
});

/** `rows` x `dim` features of 10 classes (class c: +4 on dim c) or OOD rows (label -1). */
async function wideSet(
  dir: string,
  seed: number,
  labelled: boolean,
  rows: number,
  dim: number,
): Promise<string> {
  const rng = createRng(seed);
  const data = new Float32Array(rows * dim).map(() => rng.float());
  const labels = new Int32Array(rows).fill(-1);
  for (let i = 0; i < rows; i++) {
    if (labelled) labels[i] = i % 10;
    data[i * dim + (labelled ? i % 10 : 10 + (i % 20))] += 4;
  }
  await writeFeatureSet(dir, {
    meta: { dataset: `wide-${seed}`, backbone: "wide", num_classes: 10 },
    features: { data, rows, cols: dim },
    labels,
  });
  return dir;
}

Deno.test("determinism: --threads 1 vs 2 (close; byte-identity measured, not promised)", async () => {
  await withTempDir(async (root) => {
    // The fixture's D = 16 gives the kernels little to divide; use D = 512 here.
    const D = 512;
    const fx = {
      train: await wideSet(`${root}/train`, 1, true, 2000, D),
      val: await wideSet(`${root}/val`, 2, true, 500, D),
      ood: { far: await wideSet(`${root}/far`, 3, false, 500, D) },
    };
    const lines: string[] = [];
    const heads: string[] = [];
    for (const threads of ["1", "2"]) {
      const out = `${root}/head_t${threads}`;
      heads.push(out);
      await ok("train_head.ts", [
        "--features",
        fx.train,
        "--out",
        out,
        "--steps",
        "400",
        "--mixup",
        "0.2",
        "--threads",
        threads,
      ]);
    }
    const h = await compareAcrossThreads(heads[0], heads[1], ["weight.npy", "bias.npy"]);
    lines.push(
      `train-head: identical ${h.identical.join(",") || "-"}; differ ` +
        `${h.differ.join(",") || "-"}; worst rel diff ${h.worst.toExponential(2)}`,
    );

    const scores: string[] = [];
    for (const threads of ["1", "2"]) {
      const out = `${root}/score_t${threads}`;
      scores.push(out);
      await ok("score.ts", [
        "--head",
        heads[0],
        "--id",
        fx.val,
        "--ood",
        `far=${fx.ood.far}`,
        "--train",
        fx.train,
        "--threads",
        threads,
        "--out",
        out,
      ]);
    }
    const files = (await listFiles(`${scores[0]}/scores`)).map((f) => `scores/${f}`);
    const s = await compareAcrossThreads(scores[0], scores[1], files);
    lines.push(
      `score: ${s.identical.length}/${files.length} score files identical; worst rel ` +
        `diff ${s.worst.toExponential(2)}`,
    );

    // Extraction: a small random BiT on 6 images, batches of 3.
    const images = `${root}/images/x`;
    await Deno.mkdir(images, { recursive: true });
    for (let i = 0; i < 6; i++) {
      const rng = createRng(i);
      const px = new Uint8Array(96 * 72 * 3).map(() => rng.int(256));
      await sharp(px, { raw: { width: 96, height: 72, channels: 3 } }).png()
        .toFile(`${images}/${i}.png`);
    }
    const weights = randomBitWeights({ units: [1, 1, 1, 1], rootChannels: 32, seed: 3 });
    const model = `${root}/tiny.onnx`;
    await Deno.writeFile(model, buildBitOnnx(weights, inferArch(weights, "random")).model);
    const extract = (out: string, threads: string) => [
      "--model",
      model,
      "--images",
      `${root}/images`,
      "--out",
      out,
      "--size",
      "64",
      "--batch",
      "3",
      "--threads",
      threads,
    ];
    await ok("extract.ts", extract(`${root}/ext_t1`, "1"));
    await ok("extract.ts", extract(`${root}/ext_t2`, "2"));
    await ok("extract.ts", extract(`${root}/ext_t2_again`, "2"));
    await assertSameResult(`${root}/ext_t2`, `${root}/ext_t2_again`);
    const e = await compareAcrossThreads(`${root}/ext_t1`, `${root}/ext_t2`, ["features.npy"]);
    lines.push(
      `extract: features.npy ${e.identical.length ? "identical" : "differs"}; worst rel ` +
        `diff ${e.worst.toExponential(2)}`,
    );
    console.log(`--threads 1 vs 2 on this machine:\n  ${lines.join("\n  ")}`);
  });
});
