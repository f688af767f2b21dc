/**
 * Extraction benchmark: backbone inference images/s for a random-weight BiT-R50x1 at 480 x 480
 * (the converter's ONNX model, batch 4, 2 threads by default) and decode-only images/s (sharp
 * decode + Pillow-exact resize to 480 x 480, and sharp's own resize) on seeded 500 x 375 JPEGs
 * (ImageNet's typical size). When Debian's /usr/bin/python3 has Pillow, the same decode + resize
 * in PIL (one process, sequential, as one torchvision DataLoader worker) is timed too and the
 * ratio pil_ms / our_ms printed (> 1: we are faster per image). `--group-norm all` also times the
 * three GroupNorm formulations; `--pipeline` times the whole `runExtraction` (decode overlapped
 * with inference, parts written).
 *
 * Usage: deno run -A bench/extract.ts [--batch 4] [--threads 2] [--batches 3] [--size 480]
 *        [--images 32] [--group-norm reduce|instance|native|all] [--pipeline] [--no-peer]
 *
 * @module
 */
import { parseArgs } from "node:util";
import sharp from "sharp";
import { inferArch } from "../lib/bit/arch.ts";
import { randomBitWeights } from "../lib/bit/random_weights.ts";
import { buildBitOnnx, type GroupNormImpl } from "../lib/bit/resnet_v2_onnx.ts";
import { runExtraction } from "../lib/extract/extract_run.ts";
import { listImageFolder } from "../lib/extract/image_list.ts";
import { configureDecoder, decodeRgb, type Resizer } from "../lib/extract/preprocess.ts";
import { createSession, f32Tensor } from "../lib/ort/session.ts";
import { createRng } from "../lib/random.ts";

const { values: args } = parseArgs({
  options: {
    batch: { type: "string", default: "4" },
    threads: { type: "string", default: "2" },
    batches: { type: "string", default: "3" },
    size: { type: "string", default: "480" },
    images: { type: "string", default: "32" },
    "group-norm": { type: "string", default: "reduce" },
    pipeline: { type: "boolean", default: false },
    "no-peer": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
  strict: true,
});
if (args.help) {
  console.log("deno run -A bench/extract.ts [--batch 4] [--threads 2] [--batches 3] [--size 480]");
  console.log("  [--images 32] [--group-norm reduce|instance|native|all] [--pipeline] [--no-peer]");
  Deno.exit(0);
}
const batch = Number(args.batch);
const threads = Number(args.threads);
const batches = Number(args.batches);
const S = Number(args.size);
const nImages = Number(args.images);

const tmp = await Deno.makeTempDir({ prefix: "mos_bench_extract_" });
try {
  // Seeded JPEGs: smooth structure plus noise, 500 x 375, quality 90.
  await Deno.mkdir(`${tmp}/images/x`, { recursive: true });
  const rng = createRng(1);
  const files: string[] = [];
  for (let i = 0; i < nImages; i++) {
    const [w, h] = [500, 375];
    const px = new Uint8Array(w * h * 3);
    for (let j = 0; j < px.length; j++) {
      const x = (j / 3) % w;
      const y = Math.floor(j / 3 / w);
      px[j] = (x + 2 * y + 40 * (j % 3) + i * 13 + rng.int(24)) & 255;
    }
    const f = `${tmp}/images/x/${String(i).padStart(4, "0")}.jpg`;
    await sharp(px, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90 }).toFile(f);
    files.push(f);
  }

  // Decode-only, as the extractor runs it: several decodes in flight, one libvips thread each.
  configureDecoder(1);
  const decodeRate = async (resizer: Resizer) => {
    const inFlight = Math.max(2, navigator.hardwareConcurrency ?? 2);
    await decodeRgb(files[0], S, resizer);
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < files.length) await decodeRgb(files[next++], S, resizer);
      }),
    );
    return files.length / ((performance.now() - t0) / 1000);
  };
  const pilExact = await decodeRate("pil");
  const vips = await decodeRate("sharp");
  let seq = 0;
  {
    const t0 = performance.now();
    for (const f of files) await decodeRgb(f, S, "pil");
    seq = (performance.now() - t0) / files.length;
  }
  console.log(
    `decode+resize ${S}x${S} (500x375 JPEG): pil-exact ${pilExact.toFixed(1)} img/s, ` +
      `sharp-linear ${vips.toFixed(1)} img/s (concurrent); sequential pil-exact ` +
      `${seq.toFixed(1)} ms/img`,
  );
  if (!args["no-peer"]) {
    const py = new Deno.Command("/usr/bin/python3", {
      args: [
        "-c",
        "import sys, time\nfrom PIL import Image\nfiles = sys.argv[2:]\nS = int(sys.argv[1])\n" +
        "Image.open(files[0]).convert('RGB').resize((S, S), Image.BILINEAR)\n" +
        "t = time.perf_counter()\nfor f in files:\n" +
        "    Image.open(f).convert('RGB').resize((S, S), Image.BILINEAR)\n" +
        "print((time.perf_counter() - t) / len(files) * 1000)",
        String(S),
        ...files,
      ],
      stdout: "piped",
      stderr: "piped",
    });
    try {
      const out = await py.output();
      if (out.code === 0) {
        const pilMs = Number(new TextDecoder().decode(out.stdout).trim());
        console.log(
          `  peer PIL (sequential, 1 process): ${pilMs.toFixed(1)} ms/img; ratio pil_ms / our ` +
            `sequential ms = ${(pilMs / seq).toFixed(2)}`,
        );
      } else console.log("  peer PIL: not available (/usr/bin/python3 without Pillow)");
    } catch {
      console.log("  peer PIL: not available (no /usr/bin/python3)");
    }
  }

  // Inference: random-weight BiT-R50x1 through the converter.
  const weights = randomBitWeights({ units: [3, 4, 6, 3], rootChannels: 64, seed: 0 });
  const arch = inferArch(weights, "random-r50x1");
  const impls: GroupNormImpl[] = args["group-norm"] === "all"
    ? ["reduce", "instance", "native"]
    : [args["group-norm"] as GroupNormImpl];
  const images = new Float32Array(batch * 3 * S * S).map(() => rng.float() * 2 - 1);
  let modelPath = "";
  for (const impl of impls) {
    const { model } = buildBitOnnx(weights, arch, { groupNorm: impl });
    if (!modelPath) {
      modelPath = `${tmp}/r50x1.onnx`;
      await Deno.writeFile(modelPath, model);
    }
    const session = await createSession(model, { threads });
    const feed = { images: f32Tensor(images, [batch, 3, S, S]) };
    await session.run(feed);
    const times: number[] = [];
    for (let b = 0; b < batches; b++) {
      const t0 = performance.now();
      await session.run(feed);
      times.push(performance.now() - t0);
    }
    await session.release();
    times.sort((a, b) => a - b);
    const med = times[times.length >> 1];
    const gflop = 2 * 4.09e9 * (S / 224) ** 2 * batch; // R50 at 224: 4.09 GMAC per image
    console.log(
      `BiT-R50x1 ${S}x${S} batch ${batch}, ${threads} threads, GroupNorm ${impl}: ` +
        `${(batch / (med / 1000)).toFixed(2)} img/s (median ${med.toFixed(0)} ms/batch, ` +
        `~${(gflop / (med / 1000) / 1e9).toFixed(0)} GFLOP/s)`,
    );
  }

  if (args.pipeline) {
    const list = await listImageFolder(`${tmp}/images`);
    const t0 = performance.now();
    const s = await runExtraction({
      modelPath,
      list,
      outDir: `${tmp}/out`,
      dataset: "bench",
      backbone: "random-r50x1",
      batch,
      threads,
      device: "cpu",
      dtype: "f32",
      size: S,
      shard: { index: 0, count: 1 },
      strict: true,
    });
    const sec = (performance.now() - t0) / 1000;
    console.log(
      `pipeline (decode overlapped, parts + assembly): ${(s.count / sec).toFixed(2)} img/s ` +
        `over ${s.count} images`,
    );
  }
} finally {
  await Deno.remove(tmp, { recursive: true });
}
