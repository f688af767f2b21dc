/**
 * End to end: a tiny random BiT checkpoint -> `bit-to-onnx` -> `extract` (as subprocesses) on a
 * generated ImageFolder with every awkward image kind, then resume after SIGKILL and 3 shards
 * merged, each compared byte for byte with an uninterrupted single run.
 */
import assert from "node:assert/strict";
import sharp from "npm:sharp@0.35.5";
import { assertClose } from "./assert_close.ts";
import { encodeNpz } from "../lib/bit/npz.ts";
import { randomBitWeights } from "../lib/bit/random_weights.ts";
import { preprocessImage } from "../lib/extract/preprocess.ts";
import { readFeatureSet } from "../lib/io/feature_set.ts";
import { createSession, f32Tensor } from "../lib/ort/session.ts";
import { createRng } from "../lib/random.ts";

const SIZE = 32;
const env = { MOS_QUIET: "1" };

function task(file: string, args: string[]): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `tasks/${file}`, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  });
}

async function run(file: string, args: string[]) {
  const out = await task(file, args).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

async function ok(file: string, args: string[]): Promise<string> {
  const r = await run(file, args);
  assert.equal(r.code, 0, `${file} ${args.join(" ")} failed:\n${r.stderr}`);
  return r.stdout;
}

function noise(seed: number, w: number, h: number, ch: number): Uint8Array {
  const rng = createRng(seed);
  // Smooth gradient plus noise: compresses well and has real structure for the resize.
  const px = new Uint8Array(w * h * ch);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < ch; c++) {
        const base = ((x * 255) / Math.max(1, w - 1) + (y * 97) / Math.max(1, h - 1) + c * 60) %
          256;
        px[(y * w + x) * ch + c] = Math.min(255, Math.max(0, base + rng.int(31) - 15));
      }
    }
  }
  return px;
}

function raw(seed: number, w: number, h: number, ch: 1 | 3 | 4) {
  return sharp(noise(seed, w, h, ch), { raw: { width: w, height: h, channels: ch } });
}

/** The fixture: 3 classes, 13 readable images of every kind, 3 unreadable, 1 ignored file. */
async function makeDataset(root: string): Promise<{ good: string[]; bad: string[] }> {
  for (const c of ["ant", "bee", "cat"]) await Deno.mkdir(`${root}/${c}`, { recursive: true });
  await Deno.mkdir(`${root}/bee/nested`, { recursive: true });
  await raw(1, 64, 48, 3).jpeg().toFile(`${root}/ant/rgb.jpg`);
  await raw(2, 40, 70, 3).png().toFile(`${root}/ant/rgb.png`);
  await raw(3, 50, 50, 1).png().toFile(`${root}/ant/gray.png`);
  await raw(4, 50, 30, 1).jpeg().toFile(`${root}/ant/gray.jpg`);
  await raw(5, 33, 44, 4).png().toFile(`${root}/bee/rgba.png`);
  await raw(6, 60, 45, 3).toColourspace("cmyk").jpeg().toFile(`${root}/bee/cmyk.jpg`);
  await raw(7, 45, 35, 3).toColourspace("rgb16").png().toFile(`${root}/bee/deep16.png`);
  await raw(8, 1, 1, 3).png().toFile(`${root}/bee/one_pixel.png`);
  await raw(9, 20, 20, 3).webp().toFile(`${root}/bee/nested/pic.webp`);
  await raw(10, 4000, 3000, 3).jpeg({ quality: 70 }).toFile(`${root}/cat/huge.jpg`);
  await raw(11, 100, 80, 3).jpeg().toFile(`${root}/cat/a.JPEG`);
  await raw(12, 80, 100, 3).tiff().toFile(`${root}/cat/b.tif`);
  await raw(13, 30, 30, 3).png().toFile(`${root}/cat/c.png`);
  const jpeg = await raw(14, 200, 150, 3).jpeg().toBuffer();
  await Deno.writeFile(`${root}/bee/corrupt.jpg`, jpeg.subarray(0, Math.floor(jpeg.length / 3)));
  await Deno.writeFile(`${root}/cat/empty.jpg`, new Uint8Array(0));
  await Deno.writeTextFile(`${root}/cat/text.png`, "this is a text file, not a PNG\n");
  await Deno.writeTextFile(`${root}/cat/notes.txt`, "ignored: not an image extension\n");
  // torchvision order: class folders sorted, files sorted per folder, sub-folders after files.
  const good = [
    "ant/gray.jpg",
    "ant/gray.png",
    "ant/rgb.jpg",
    "ant/rgb.png",
    "bee/cmyk.jpg",
    "bee/deep16.png",
    "bee/one_pixel.png",
    "bee/rgba.png",
    "bee/nested/pic.webp",
    "cat/a.JPEG",
    "cat/b.tif",
    "cat/c.png",
    "cat/huge.jpg",
  ];
  return { good, bad: ["bee/corrupt.jpg", "cat/empty.jpg", "cat/text.png"] };
}

async function makeModel(dir: string): Promise<string> {
  const npz = `${dir}/tiny.npz`;
  await Deno.writeFile(
    npz,
    encodeNpz(randomBitWeights({ units: [1, 1, 1, 1], rootChannels: 32, numClasses: 5, seed: 7 })),
  );
  await ok("bit_to_onnx.ts", [
    "--npz",
    npz,
    "--out",
    `${dir}/tiny.onnx`,
    "--outputs",
    "features,logits",
  ]);
  return `${dir}/tiny.onnx`;
}

async function same(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([Deno.readFile(a), Deno.readFile(b)]);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("extract e2e: every image kind, skipped files, strict, shards merged, resume after SIGKILL", async (t) => {
  const tmp = await Deno.makeTempDir({ prefix: "mos_extract_e2e_" });
  try {
    const images = `${tmp}/images`;
    const { good, bad } = await makeDataset(images);
    const model = await makeModel(tmp);
    const base = [
      "--model",
      model,
      "--images",
      images,
      "--size",
      String(SIZE),
      "--batch",
      "3",
      "--threads",
      "2",
    ];

    await t.step(
      "one run: counts, labels, paths, skipped.tsv, features = direct inference",
      async () => {
        const out = `${tmp}/one`;
        const stdout = await ok("extract.ts", [...base, "--out", out]);
        assert.match(stdout, /extracted 13 of 16 images/);
        assert.match(stdout, /3 skipped/);
        const set = await readFeatureSet(out);
        assert.equal(set.meta.count, 13);
        assert.equal(set.meta.dim, 1024);
        assert.deepEqual(set.paths, good);
        const expectedLabels = good.map((p) => ["ant", "bee", "cat"].indexOf(p.split("/")[0]));
        assert.deepEqual([...set.labels], expectedLabels);
        assert.equal(set.logits?.cols, 5);
        const tsv = (await Deno.readTextFile(`${out}/skipped.tsv`)).trim().split("\n");
        assert.equal(tsv[0], "path\treason");
        assert.deepEqual(tsv.slice(1).map((l) => l.split("\t")[0]).sort(), [...bad].sort());
        assert.deepEqual((set.meta.source as { classes: string[] }).classes, ["ant", "bee", "cat"]);
        // Independent path: preprocess each image here and run the model one image at a time.
        const session = await createSession(model, { threads: 2 });
        for (const i of [0, 4, 5, 7, 12]) {
          const x = await preprocessImage(`${images}/${good[i]}`, SIZE);
          const r = await session.run({ images: f32Tensor(x, [1, 3, SIZE, SIZE]) });
          assertClose(
            set.features.data.subarray(i * 1024, (i + 1) * 1024),
            r.features.data as Float32Array,
            { atol: 1e-5, rtol: 1e-5, reason: "same model; batch of 3 vs batch of 1" },
          );
        }
        await session.release();
        // A rerun with the same arguments is a no-op.
        assert.match(await ok("extract.ts", [...base, "--out", out]), /up to date/);
      },
    );

    await t.step("--strict fails with exit 1 naming the first unreadable image", async () => {
      const r = await run("extract.ts", [...base, "--out", `${tmp}/strict`, "--strict"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /bee\/corrupt\.jpg/);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.ok(!await exists(`${tmp}/strict/meta.json`));
    });

    await t.step(
      "3 shards merged equal one run byte for byte; bad merges are refused",
      async () => {
        const dirs = [0, 1, 2].map((i) => `${tmp}/shard${i}`);
        for (let i = 0; i < 3; i++) {
          await ok("extract.ts", [...base, "--out", dirs[i], "--shard", `${i}/3`]);
        }
        await ok("merge_shards.ts", ["--out", `${tmp}/merged`, dirs[2], dirs[0], dirs[1]]);
        for (const f of ["features.npy", "labels.npy", "logits.npy", "paths.txt", "skipped.tsv"]) {
          assert.ok(await same(`${tmp}/merged/${f}`, `${tmp}/one/${f}`), `${f} differs`);
        }
        const missing = await run("merge_shards.ts", ["--out", `${tmp}/m2`, dirs[0], dirs[2]]);
        assert.equal(missing.code, 1);
        assert.match(missing.stderr, /shards 1\/3 are missing/);
        const other = await run("merge_shards.ts", [
          "--out",
          `${tmp}/m3`,
          dirs[0],
          dirs[1],
          `${tmp}/one`,
        ]);
        assert.equal(other.code, 1);
        assert.match(other.stderr, /different shard count/);
      },
    );

    await t.step(
      "SIGKILL at two points, then rerun: features.npy identical to one run",
      async () => {
        const many = `${tmp}/many`;
        await Deno.mkdir(`${many}/x`, { recursive: true });
        // 24 medium JPEGs in chunks of 4: each chunk takes long enough to be killed inside a run.
        for (let i = 0; i < 24; i++) {
          await raw(100 + i, 1200, 900, 3).jpeg().toFile(`${many}/x/${i}.jpg`);
        }
        const args = [
          "--model",
          model,
          "--images",
          many,
          "--size",
          String(SIZE),
          "--batch",
          "3",
          "--chunk",
          "4",
        ];
        await ok("extract.ts", [...args, "--out", `${tmp}/ref`]);
        const out = `${tmp}/killed`;
        for (const part of ["part-000000.json", "part-000002.json"]) {
          const child = task("extract.ts", [...args, "--out", out]).spawn();
          const deadline = Date.now() + 60_000;
          while (!await exists(`${out}/.parts/${part}`) && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, 2));
          }
          child.kill("SIGKILL");
          const status = await child.status;
          await child.stdout.cancel();
          await child.stderr.cancel();
          assert.equal(status.signal, "SIGKILL");
          assert.ok(!await exists(`${out}/meta.json`), `run finished before the kill at ${part}`);
        }
        const stdout = await ok("extract.ts", [...args, "--out", out]);
        assert.match(stdout, /resumed/);
        assert.ok(await same(`${out}/features.npy`, `${tmp}/ref/features.npy`));
        assert.ok(await same(`${out}/labels.npy`, `${tmp}/ref/labels.npy`));
        assert.ok(!await exists(`${out}/.parts`));
      },
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
