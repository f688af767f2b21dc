/**
 * Containment, ownership, staging and bounds of `extract`, `extract-all` and `merge-shards`, run
 * as real subprocesses (issue 11). Each case is a class of the audit's attacks:
 * - a shard's meta.json naming files outside the shard or `--out` (`../`), and model output names
 *   that are not file names: refused, nothing outside `--out` changes;
 * - foreign files in `--out` (a head directory, a user's arrays): left alone and named in a
 *   warning, or refused when the result would overwrite them or a reader would take them for
 *   part of the set; files of the previous result are still replaced or removed;
 * - `--out` equal to, inside or around an input (also through a symlink): exit 2, nothing created;
 * - a disk that fills up while the final arrays are written: the previous result stays
 *   byte-identical, the error names the file, and a rerun finishes from the kept chunks;
 * - an image above Pillow's pixel limit: skipped from its header, before any decode (peak RSS
 *   under 512 MB where GNU time is installed);
 * - memory estimates and numeric bounds; a failed run leaves no `--out` it created.
 */
import assert from "node:assert/strict";
import sharp from "npm:sharp@0.35.5";
import {
  checkErrorLine,
  copyTree,
  counter,
  describeRun,
  exists,
  expectError,
  ok,
  REPO_ROOT,
  runTask,
  runWith,
  snapshotTree,
  withTempDir,
} from "./cli_helpers.ts";
import { readFeatureSet } from "../lib/io/feature_set.ts";
import { writeHead } from "../lib/io/head.ts";
import { buildManifest } from "../lib/io/manifest.ts";
import { writeNpy } from "../lib/io/npy.ts";
import { MAX_IMAGE_PIXELS } from "../lib/extract/preprocess.ts";
import { buildModel, floatConst, node } from "../lib/ort/graph.ts";
import { createRng } from "../lib/random.ts";

const IMAGES = { name: "images", type: "float32" as const, shape: ["N", 3, "H", "W"] };

/**
 * A backbone: global average pool -> `features` N x 8, and with `extra` a second output of that
 * name, N x 2 (a `logits`, or a hostile name).
 */
function model(extra?: string): Uint8Array {
  const w = Array.from({ length: 24 }, (_, i) => ((i * 7) % 5) - 2);
  const v = Array.from({ length: 6 }, (_, i) => i - 2.5);
  return buildModel({
    name: "gap",
    inputs: [IMAGES],
    outputs: [
      { name: "features", type: "float32", shape: ["N", 8] },
      ...(extra ? [{ name: extra, type: "float32" as const, shape: ["N", 2] }] : []),
    ],
    nodes: [
      node("GlobalAveragePool", ["images"], ["gap"]),
      node("Flatten", ["gap"], ["flat"], { axis: 1 }),
      node("MatMul", ["flat", "w"], ["features"]),
      ...(extra ? [node("MatMul", ["flat", "v"], [extra])] : []),
    ],
    initializers: [floatConst("w", [3, 8], w), ...(extra ? [floatConst("v", [3, 2], v)] : [])],
  });
}

/** An ImageFolder of 2 classes x `per` small PNGs. */
async function writeImages(root: string, per = 2): Promise<string> {
  for (const [c, cls] of ["ant", "bee"].entries()) {
    await Deno.mkdir(`${root}/${cls}`, { recursive: true });
    for (let i = 0; i < per; i++) {
      const rng = createRng(10 * c + i);
      const px = new Uint8Array(40 * 30 * 3).map(() => rng.int(256));
      await sharp(px, { raw: { width: 40, height: 30, channels: 3 } }).png()
        .toFile(`${root}/${cls}/${i}.png`);
    }
  }
  return root;
}

async function bytesOf(path: string): Promise<Uint8Array> {
  return await Deno.readFile(path);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * A `--preload` module that makes the disk under MOS_SIM_DIR "full" for files whose path matches
 * MOS_SIM_FAIL (a regular expression): their first write fails with the kernel's ENOSPC error, as
 * tests/bad_input_more_test.ts simulates a full disk. Everything else is untouched.
 */
const ENOSPC_SOURCE = `
const dir = Deno.env.get("MOS_SIM_DIR");
const match = new RegExp(Deno.env.get("MOS_SIM_FAIL"));
const abs = (p) => { const s = p instanceof URL ? p.pathname : String(p); return s.startsWith("/") ? s : Deno.cwd() + "/" + s; };
const hit = (p) => { const a = abs(p); return a.startsWith(dir + "/") && match.test(a); };
const fail = () => Object.assign(new Error("No space left on device (os error 28)"), { code: "ENOSPC" });
const tracked = new WeakSet();
for (const n of ["writeFile", "writeTextFile"]) {
  const orig = Deno[n];
  Deno[n] = function (p, ...rest) { if (hit(p)) return Promise.reject(fail()); return orig.call(Deno, p, ...rest); };
}
const open = Deno.open;
Deno.open = async function (p, o) {
  const f = await open.call(Deno, p, o);
  if (o && (o.write || o.create || o.createNew) && hit(p)) tracked.add(f);
  return f;
};
const w = Deno.FsFile.prototype.write;
Deno.FsFile.prototype.write = function (b) { if (tracked.has(this)) return Promise.reject(fail()); return w.call(this, b); };
`;

Deno.test("extract / merge-shards: containment, foreign files, staging, pixel limit, bounds", async (t) => {
  await withTempDir(async (root) => {
    const images = await writeImages(`${root}/images`);
    const one = `${root}/one.onnx`;
    const two = `${root}/two.onnx`;
    await Deno.writeFile(one, model());
    await Deno.writeFile(two, model("logits"));
    const nextOut = counter(root, "out");
    const extract = (m: string, out: string, extra: string[] = []) => [
      "--model",
      m,
      "--images",
      images,
      "--out",
      out,
      "--size",
      "32",
      ...extra,
    ];
    // Two shards of two images each (equal counts: one victim array fits both).
    const shards = [`${root}/shard0`, `${root}/shard1`];
    for (let i = 0; i < 2; i++) {
      await ok("extract.ts", extract(two, shards[i], ["--shard", `${i}/2`]));
    }

    // Regression (merge.ts took output file names from a shard's meta.json): a `file` of
    // "../victim/target.npy" was read from beside the shards and the merged array written to
    // <out>/../victim/target.npy, overwriting it, with exit 0.
    await t.step("merge-shards: a meta.json output file with ../ is refused", async () => {
      const victim = `${root}/victim`;
      await Deno.mkdir(victim, { recursive: true });
      await writeNpy(`${victim}/target.npy`, {
        dtype: "<f4",
        shape: [2, 2],
        data: new Float32Array([1, 2, 3, 4]),
      });
      const forged = [`${root}/forged/a/s0`, `${root}/forged/a/s1`];
      for (let i = 0; i < 2; i++) {
        await copyTree(shards[i], forged[i]);
        const meta = JSON.parse(await Deno.readTextFile(`${forged[i]}/meta.json`));
        meta.outputs[1].file = "../../../victim/target.npy";
        await Deno.writeTextFile(`${forged[i]}/meta.json`, JSON.stringify(meta));
      }
      const out = `${root}/forged/merged/x`;
      await expectError("merge_shards.ts", ["--out", out, ...forged], {
        code: 1,
        mentions: [`${forged[0]}/meta.json`, "outputs[1].file", "../../../victim/target.npy"],
        unchanged: [victim, out, `${root}/forged/merged`],
      });
    });

    await t.step("merge-shards: other forged output entries are refused", async () => {
      const cases: [string, (o: Record<string, unknown>[]) => void, string][] = [
        ["absolute file", (o) => (o[1].file = `${root}/victim/target.npy`), "outputs[1].file"],
        ["primary renamed", (o) => (o[0].file = "logits.npy"), "outputs[0].file"],
        ["name with a slash", (o) => {
          o[1].name = "../logits";
          o[1].file = "../logits.npy";
        }, "outputs[1].name"],
        ["name labels", (o) => {
          o[1].name = "labels";
          o[1].file = "labels.npy";
        }, "outputs[1].name"],
        ["name listed twice", (o) => o.push({ ...o[1] }), "listed twice"],
        ["dim not an integer", (o) => (o[1].dim = 1e300), "outputs[1].dim"],
      ];
      for (const [what, edit, mention] of cases) {
        const forged = [`${root}/forged2/${what}/s0`, `${root}/forged2/${what}/s1`];
        for (let i = 0; i < 2; i++) {
          await copyTree(shards[i], forged[i]);
          const meta = JSON.parse(await Deno.readTextFile(`${forged[i]}/meta.json`));
          edit(meta.outputs);
          await Deno.writeTextFile(`${forged[i]}/meta.json`, JSON.stringify(meta));
        }
        const out = nextOut();
        await expectError("merge_shards.ts", ["--out", out, ...forged], {
          code: 1,
          mentions: [mention],
          unchanged: [out, `${root}/victim`],
        });
      }
    });

    // Regression (extract wrote `<out>/<output name>.npy` for any model output name): an output
    // named "../escape" crashed with an internal error after --out and .parts were created.
    await t.step("extract: a model output name that is not a file name is refused", async () => {
      const bad = `${root}/escape.onnx`;
      await Deno.writeFile(bad, model("../escape"));
      const out = nextOut();
      await expectError("extract.ts", extract(bad, out), {
        code: 1,
        mentions: ["--model", bad, '"../escape"'],
        unchanged: [out, `${root}/escape.npy`],
      });
    });

    // Regression (extract removed every top-level *.npy of --out that was not one of its
    // outputs): weight.npy, bias.npy and my_embeddings.npy vanished without a word.
    await t.step("extract: foreign files in --out survive and are named in a warning", async () => {
      const out = nextOut();
      await writeHead(out, {
        info: { kind: "flat", num_classes: 2, groups: [], backbone: "x" },
        weight: { data: new Float32Array(16).fill(0.5), rows: 2, cols: 8 },
        bias: new Float32Array([1, -1]),
      });
      await writeNpy(`${out}/my_embeddings.npy`, {
        dtype: "<f4",
        shape: [3],
        data: new Float32Array([7, 8, 9]),
      });
      const before = await snapshotTree(out);
      const r = await runTask("extract.ts", extract(one, out));
      assert.equal(r.code, 0, describeRun("extract.ts", [], r));
      const warning = r.stderr.split("\n").find((l) => l.startsWith("warning: "));
      assert.ok(warning, `no warning: ${r.stderr}`);
      for (const f of ["bias.npy", "head.json", "my_embeddings.npy", "weight.npy"]) {
        assert.ok(warning.includes(f), `warning should name ${f}: ${warning}`);
      }
      const after = await snapshotTree(out);
      for (const f of Object.keys(before!)) assert.deepEqual(after![f], before![f], f);
      assert.equal((await readFeatureSet(out)).meta.count, 4);
      // A rerun that is up to date warns again and still touches nothing of theirs.
      const again = await runTask("extract.ts", extract(one, out));
      assert.match(again.stdout, /up to date/);
      assert.match(again.stderr, /warning: .*my_embeddings\.npy/);
      const third = await snapshotTree(out);
      for (const f of Object.keys(before!)) assert.deepEqual(third![f], before![f], f);
    });

    await t.step("merge-shards: foreign files in --out survive and are named", async () => {
      const out = nextOut();
      await Deno.mkdir(out);
      await Deno.writeTextFile(`${out}/notes.txt`, "mine\n");
      const r = await runTask("merge_shards.ts", ["--out", out, ...shards]);
      assert.equal(r.code, 0, describeRun("merge_shards.ts", [], r));
      assert.match(r.stderr, /^warning: .*notes\.txt/m);
      assert.equal(await Deno.readTextFile(`${out}/notes.txt`), "mine\n");
      assert.equal((await readFeatureSet(out)).meta.count, 4);
    });

    // A head directory written by train-head has a manifest.json, which extract would replace;
    // a foreign logits.npy or features.npy would be overwritten or read as part of the set.
    await t.step(
      "extract: foreign files it would overwrite or a reader would read: refused",
      async () => {
        const head = nextOut();
        await writeHead(head, {
          info: { kind: "flat", num_classes: 2, groups: [], backbone: "x" },
          weight: { data: new Float32Array(16), rows: 2, cols: 8 },
          bias: new Float32Array(2),
        });
        await Deno.writeTextFile(
          `${head}/manifest.json`,
          JSON.stringify(
            buildManifest({ stage: "train_head", config: {}, inputs: {}, wallSeconds: 1 }),
          ),
        );
        await expectError("extract.ts", extract(one, head), {
          code: 1,
          mentions: [head, "manifest.json", "overwrite"],
          unchanged: [head],
        });
        for (const name of ["logits.npy", "features.npy", "paths.txt"]) {
          const out = nextOut();
          await Deno.mkdir(out);
          await Deno.writeTextFile(`${out}/${name}`, "a user's file\n");
          await expectError("extract.ts", extract(one, out), {
            code: 1,
            mentions: [out, name],
            unchanged: [out],
          });
        }
        const out = nextOut();
        await Deno.mkdir(out);
        await Deno.writeTextFile(`${out}/labels.npy`, "a user's file\n");
        await expectError("merge_shards.ts", ["--out", out, ...shards], {
          code: 1,
          mentions: [out, "labels.npy"],
          unchanged: [out],
        });
      },
    );

    await t.step(
      "extract: files of its own previous result are still replaced or removed",
      async () => {
        const out = nextOut();
        await ok("extract.ts", extract(two, out));
        assert.ok(await exists(`${out}/logits.npy`));
        await ok("extract.ts", extract(one, out));
        assert.ok(!await exists(`${out}/logits.npy`), "stale logits.npy of the older run kept");
        const set = await readFeatureSet(out);
        assert.equal(set.logits, undefined);
        const manifest = JSON.parse(await Deno.readTextFile(`${out}/manifest.json`));
        assert.deepEqual(manifest.files, [
          "features.npy",
          "labels.npy",
          "paths.txt",
          "skipped.tsv",
          "manifest.json",
          "meta.json",
        ]);
      },
    );

    // Regression (no containment check): --out inside --images was created and written, exit 0.
    await t.step("--out equal to, inside or around an input: exit 2, nothing created", async () => {
      const link = `${root}/images_link`;
      await Deno.symlink(images, link);
      const list = `${root}/lists/list.txt`;
      await Deno.mkdir(`${root}/lists`);
      await Deno.writeTextFile(list, "ant/0.png 0\nbee/1.png 1\n");
      const modelDir = `${root}/models`;
      await Deno.mkdir(modelDir);
      await Deno.copyFile(one, `${modelDir}/m.onnx`);
      const cases: [string, string[], string, string[]][] = [
        ["extract.ts", extract(one, `${images}/out`), `${images}/out`, ["--images"]],
        ["extract.ts", extract(one, images), `${images}/.lock`, ["--images"]],
        ["extract.ts", extract(one, `${link}/ant/out`), `${images}/ant/out`, ["--images"]],
        ["extract.ts", extract(one, root), `${root}/.lock`, ["contains"]],
        [
          "extract.ts",
          [...extract(`${modelDir}/m.onnx`, modelDir)],
          `${modelDir}/features.npy`,
          ["--model"],
        ],
        [
          "extract.ts",
          ["--model", one, "--list", list, "--root", images, "--out", `${root}/lists`],
          `${root}/lists/features.npy`,
          ["--list"],
        ],
        ["merge_shards.ts", ["--out", `${shards[0]}/merged`, ...shards], `${shards[0]}/merged`, [
          "shard directory 1",
        ]],
        ["merge_shards.ts", ["--out", shards[1], ...shards], `${shards[1]}/.lock`, ["is"]],
      ];
      for (const [file, args, created, mentions] of cases) {
        const watched = [images, `${root}/lists`, modelDir, ...shards];
        const before = await Promise.all(watched.map((p) => snapshotTree(p)));
        const r = await runTask(file, args);
        checkErrorLine(file, args, r, { code: 2, mentions: ["--out", ...mentions], unchanged: [] });
        assert.ok(!await exists(created), `${created} was created: ${describeRun(file, args, r)}`);
        const after = await Promise.all(watched.map((p) => snapshotTree(p)));
        watched.forEach((p, i) => assert.deepEqual(after[i], before[i], `${p} changed`));
      }
    });

    await t.step(
      "extract-all: a set output over another set's images, or named ..: refused",
      async () => {
        const plan = (outRoot: string, name = "a") =>
          `model: ${one}\nbackbone: gap\nout_root: ${outRoot}\n` +
          `sets:\n  ${name}:\n    images: ${images}/ant\n    count: 2\n    size: 32\n` +
          `  b:\n    images: ${images}/bee\n    count: 2\n    size: 32\n`;
        const inside = `${root}/plan_inside.yaml`;
        await Deno.writeTextFile(inside, plan(`${images}/ant`));
        const before = await snapshotTree(images);
        const r = await runTask("extract_all.ts", ["--config", inside]);
        checkErrorLine("extract_all.ts", [], r, {
          code: 2,
          mentions: ["output of set a", "images of set a"],
          unchanged: [],
        });
        assert.deepEqual(await snapshotTree(images), before);
        const dots = `${root}/plan_dots.yaml`;
        const outRoot = `${root}/all/sub`;
        await Deno.writeTextFile(dots, plan(outRoot, '".."'));
        await expectError("extract_all.ts", ["--config", dots], {
          code: 1,
          mentions: [dots, '".."'],
          unchanged: [`${root}/all`],
        });
      },
    );

    // Regression (assemble wrote the final arrays straight into --out after removing meta.json):
    // a full disk destroyed the previous result. Now the arrays are staged and committed.
    await t.step(
      "extract / merge-shards: a full disk keeps the previous result byte-identical",
      async () => {
        const preload = `${root}/enospc.ts`;
        await Deno.writeTextFile(preload, ENOSPC_SOURCE);
        const reference = nextOut();
        await ok("extract.ts", extract(two, reference, ["--dtype", "f16"]));
        for (const task of ["extract.ts", "merge_shards.ts"]) {
          const out = nextOut();
          // extract: an f32 result replaced by an f16 one; merge-shards: a merge redone.
          const previous = task === "extract.ts" ? extract(two, out) : ["--out", out, ...shards];
          const next = task === "extract.ts"
            ? extract(two, out, ["--dtype", "f16"])
            : ["--out", out, ...shards];
          await ok(task, previous);
          const before = await snapshotTree(out);
          const env = { MOS_SIM_DIR: out, MOS_SIM_FAIL: "/features\\.npy\\.tmp-" };
          const r = await runWith(task, next, { preload, env });
          checkErrorLine(task, next, r, {
            code: 1,
            mentions: [`${out}/features.npy`],
            matches: [/no space left/i],
            unchanged: [],
          });
          const after = await snapshotTree(out);
          for (const f of Object.keys(before!)) {
            assert.deepEqual(after![f], before![f], `${task}: ${f} changed after ENOSPC`);
          }
          const temps = Object.keys(after!).filter((f) => /\.tmp-|\.staging/.test(f));
          assert.deepEqual(temps, [], `${task}: temp files left`);
          if (task === "extract.ts") {
            // Regression (a part record was trusted as it stood): a damaged record's skipped
            // position outside its chunk crashed the assembly. Now it is recomputed.
            const damaged = nextOut();
            await copyTree(out, damaged);
            const rec = `${damaged}/.parts/part-000000.json`;
            const record = JSON.parse(await Deno.readTextFile(rec));
            record.ok -= 1;
            record.skipped.push([999_999, "forged"]);
            await Deno.writeTextFile(rec, JSON.stringify(record));
            const fixed = await ok(task, extract(two, damaged, ["--dtype", "f16"]));
            assert.doesNotMatch(fixed.stdout, /resumed/);
            assert.ok(sameBytes(
              await bytesOf(`${damaged}/features.npy`),
              await bytesOf(`${reference}/features.npy`),
            ));
          }
          // The rerun (disk freed) finishes; extract reuses its finished chunks.
          const again = await ok(task, next);
          const expected = task === "extract.ts" ? reference : shards[0];
          if (task === "extract.ts") {
            assert.match(again.stdout, /4 resumed/);
            assert.ok(!await exists(`${out}/.parts`));
            for (const f of ["features.npy", "logits.npy", "labels.npy", "paths.txt"]) {
              assert.ok(
                sameBytes(await bytesOf(`${out}/${f}`), await bytesOf(`${expected}/${f}`)),
                `${f} differs from an uninterrupted run`,
              );
            }
          } else {
            assert.equal((await readFeatureSet(out)).meta.count, 4);
          }
        }
      },
    );

    // Regression (decodeRgbSizes decoded any image sharp accepts): an image of more pixels than
    // Pillow's limit was decoded in full (16000 x 16000: 890 MB peak RSS). Now it is skipped
    // from its header with a stable reason.
    await t.step("an image above Pillow's pixel limit is skipped before decoding", async () => {
      const big = `${root}/big`;
      await Deno.mkdir(`${big}/x`, { recursive: true });
      // Just over the limit: 13380 x 13376 = 178,970,880 > 178,956,970.
      assert.ok(13380 * 13376 > MAX_IMAGE_PIXELS);
      await sharp({
        create: { width: 13380, height: 13376, channels: 3, background: { r: 9, g: 99, b: 199 } },
      }).png({ compressionLevel: 1 }).toFile(`${big}/x/huge.png`);
      await Deno.copyFile(`${images}/ant/0.png`, `${big}/x/small.png`);
      const out = nextOut();
      const args = ["--model", one, "--images", big, "--out", out, "--size", "32"];
      const timed = await gnuTime(args);
      const r = timed?.r ?? await runTask("extract.ts", args);
      assert.equal(r.code, 0, describeRun("extract.ts", args, r));
      assert.match(r.stdout, /extracted 1 of 2 images/);
      const tsv = await Deno.readTextFile(`${out}/skipped.tsv`);
      assert.equal(
        tsv,
        "path\treason\nx/huge.png\timage is 13380 x 13376 = 178970880 pixels, above the " +
          "178956970-pixel limit (Pillow's decompression-bomb limit); not decoded\n",
      );
      if (timed) {
        assert.ok(timed.maxRssKb < 512 * 1024, `peak RSS ${timed.maxRssKb} kB`);
      } else {
        console.log("GNU time not installed: peak RSS not measured");
      }
      await Deno.remove(big, { recursive: true });
    });

    // Regression (no estimate): --batch 256 at --size 1024 allocated a 3 GiB input batch.
    await t.step("extract: a run whose buffers do not fit in memory is refused first", async () => {
      const out = nextOut();
      // runWith passes an environment only with a preload: an empty module.
      const nothing = `${root}/nothing.ts`;
      await Deno.writeTextFile(nothing, "export {};\n");
      const args = extract(one, out, ["--batch", "256", "--size", "1024"]);
      await expectError("extract.ts", args, {
        code: 1,
        mentions: ["batch 256", "1024x1024", "--batch"],
        matches: [/needs about 3\.\d GiB of memory but only 256\.0 MiB/],
        unchanged: [out],
      }, { preload: nothing, env: { MOS_MEMORY_LIMIT: "268435456" } });
    });

    await t.step("extract: numeric bounds are usage errors", async () => {
      for (
        const extra of [
          ["--shard", "0/2000000"],
          ["--shard-count", "2000000"],
          ["--threads", "100000"],
          ["--chunk", "2000000"],
          ["--views", "65"],
        ]
      ) {
        const out = nextOut();
        await expectError("extract.ts", extract(one, out, extra), {
          code: 2,
          mentions: [extra[0]],
          unchanged: [out],
        });
      }
    });

    // Regression (a failed run kept the --out it created, with .parts/run.json in it).
    await t.step("extract: a failed run leaves no --out it created", async () => {
      const bad = `${root}/bad_images`;
      await Deno.mkdir(`${bad}/x`, { recursive: true });
      await Deno.writeTextFile(`${bad}/x/a.png`, "not a png\n");
      await Deno.copyFile(`${images}/ant/0.png`, `${bad}/x/b.png`);
      const out = `${root}/fresh/deeper/out`;
      await expectError(
        "extract.ts",
        ["--model", one, "--images", bad, "--out", out, "--size", "32", "--strict"],
        { code: 1, mentions: [`${bad}/x/a.png`], unchanged: [`${root}/fresh`] },
      );
    });
  });
});

/** Runs extract under GNU time; null when `/usr/bin/time` is not installed. */
async function gnuTime(
  args: string[],
): Promise<{ r: { code: number; stdout: string; stderr: string }; maxRssKb: number } | null> {
  try {
    await Deno.stat("/usr/bin/time");
  } catch {
    return null;
  }
  const out = await new Deno.Command("/usr/bin/time", {
    args: ["-f", "MAXRSS %M", Deno.execPath(), "run", "-A", "tasks/extract.ts", ...args],
    cwd: REPO_ROOT,
    env: { MOS_QUIET: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  const m = /MAXRSS (\d+)/.exec(stderr);
  if (!m) return null;
  return {
    r: {
      code: out.code,
      stdout: new TextDecoder().decode(out.stdout),
      stderr: stderr.replace(/^MAXRSS \d+\n?/m, ""),
    },
    maxRssKb: Number(m[1]),
  };
}
