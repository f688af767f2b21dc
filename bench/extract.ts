/**
 * Extraction benchmark: backbone inference images/s for a random-weight BiT-R50x1 at 480 x 480
 * (the converter's ONNX model, batch 4, 2 threads by default) and decode-only images/s (sharp
 * decode + Pillow-exact resize to 480 x 480, and sharp's own resize) on seeded 500 x 375 JPEGs
 * (ImageNet's typical size). When Debian's /usr/bin/python3 has Pillow, the same decode + resize
 * in PIL (one process, sequential, as one torchvision DataLoader worker) is timed too and the
 * ratio pil_ms / our_ms printed (> 1: we are faster per image).
 *
 * When it has torch, bench/peers/bit_torch.py runs BiT's PyTorch ResNetV2 (weight standardisation
 * in the forward, as bit_pytorch does) on the same weights and input batch, and exports it with
 * torch.onnx.export; that export is timed here in the same onnxruntime-node, interleaved batch by
 * batch with our model so both see the same machine load. One table gives img/s, ratios to PyTorch,
 * each model's largest feature difference from PyTorch, and the load average before and after.
 * `--group-norm all` times the three GroupNorm formulations; `--pipeline` times the whole
 * `runExtraction` (decode overlapped with inference, parts written).
 *
 * Usage: deno run -A bench/extract.ts [--batch 4] [--threads 2] [--batches 5] [--size 480]
 *        [--images 32] [--group-norm instance|reduce|native|all] [--pipeline] [--no-peer]
 *
 * @module
 */
import { parseBenchArgs } from "./bench_args.ts";
import { peerEnv, PYTHON, pythonHas, runPeer } from "./peer_env.ts";
import sharp from "npm:sharp@0.35.5";
import { inferArch } from "../lib/bit/arch.ts";
import { randomBitWeights } from "../lib/bit/random_weights.ts";
import { encodeNpz } from "../lib/bit/npz.ts";
import { buildBitOnnx, type GroupNormImpl } from "../lib/bit/resnet_v2_onnx.ts";
import { runExtraction } from "../lib/extract/extract_run.ts";
import { listImageFolder } from "../lib/extract/image_list.ts";
import { configureDecoder, decodeRgb, type Resizer } from "../lib/extract/preprocess.ts";
import { createSession, f32Tensor, type ort } from "../lib/ort/session.ts";
import { encodeNpy, type NpyArray, parseNpy, toFloat32 } from "../lib/io/npy.ts";
import { createRng } from "../lib/random.ts";

const { values: args } = parseBenchArgs("bench/extract.ts", {
  options: {
    batch: { type: "string", default: "4" },
    threads: { type: "string", default: "2" },
    batches: { type: "string", default: "5" },
    size: { type: "string", default: "480" },
    images: { type: "string", default: "32" },
    "group-norm": { type: "string", default: "instance" },
    pipeline: { type: "boolean", default: false },
    "no-peer": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
  strict: true,
});
if (args.help) {
  console.log("deno run -A bench/extract.ts [--batch 4] [--threads 2] [--batches 5] [--size 480]");
  console.log("  [--images 32] [--group-norm instance|reduce|native|all] [--pipeline] [--no-peer]");
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
    const py = new Deno.Command(PYTHON, {
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
      env: peerEnv(),
    });
    try {
      const out = await py.output();
      if (out.code === 0) {
        const pilMs = Number(new TextDecoder().decode(out.stdout).trim());
        console.log(
          `  peer PIL (sequential, 1 process): ${pilMs.toFixed(1)} ms/img; ratio pil_ms / our ` +
            `sequential ms = ${(pilMs / seq).toFixed(2)}`,
        );
      } else if (out.signal) console.log(`  peer PIL: killed by ${out.signal}`);
      else console.log(`  peer PIL: not available (${PYTHON} without Pillow)`);
    } catch {
      console.log(`  peer PIL: not available (no ${PYTHON})`);
    }
  }

  // Inference: random-weight BiT-R50x1 through the converter, against PyTorch on the same weights.
  const weights = randomBitWeights({ units: [3, 4, 6, 3], rootChannels: 64, seed: 0 });
  const arch = inferArch(weights, "random-r50x1");
  const impls: GroupNormImpl[] = args["group-norm"] === "all"
    ? ["instance", "reduce", "native"]
    : [args["group-norm"] as GroupNormImpl];
  const images = new Float32Array(batch * 3 * S * S).map(() => rng.float() * 2 - 1);
  const dims = [batch, 3, S, S];
  const loadBefore = loadAverage();

  const peer = args["no-peer"] ? null : await torchPeer(tmp, weights, images, dims);
  if (peer && "error" in peer) console.log(`  PyTorch peer: ${peer.error}`);
  const torch = peer && !("error" in peer) ? peer : null;

  const rows: { name: string; session: ort.InferenceSession; times: number[]; diff: number }[] = [];
  const feed = { images: f32Tensor(images, dims) };
  const maxDiff = (a: Float32Array) => {
    if (!torch) return NaN;
    let m = 0;
    for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - torch.features[i]));
    return m;
  };
  let modelPath = "";
  for (const impl of impls) {
    const { model } = buildBitOnnx(weights, arch, { groupNorm: impl });
    if (!modelPath) {
      modelPath = `${tmp}/r50x1.onnx`;
      await Deno.writeFile(modelPath, model);
    }
    const session = await createSession(model, { threads });
    const out = await session.run(feed);
    const diff = maxDiff(out.features.data as Float32Array);
    rows.push({ name: `ours (converter, GroupNorm ${impl})`, session, times: [], diff });
  }
  if (torch?.onnx) {
    const session = await createSession(torch.onnx, { threads });
    const out = await session.run(feed);
    const diff = maxDiff(out[session.outputNames[0]].data as Float32Array);
    rows.push({ name: "onnxruntime on torch.onnx.export", session, times: [], diff });
  }
  // Round-robin, so that every model sees the same machine state.
  for (let b = 0; b < batches; b++) {
    for (const r of rows) {
      const t0 = performance.now();
      await r.session.run(feed);
      r.times.push(performance.now() - t0);
    }
  }
  for (const r of rows) await r.session.release();
  const loadAfter = loadAverage();

  const median = (t: number[]) => [...t].sort((a, b) => a - b)[t.length >> 1];
  const table = rows.map((r) => ({ name: r.name, ms: median(r.times), diff: r.diff }));
  if (torch) {
    table.push({ name: `PyTorch ${torch.version} CPU (eager)`, ms: torch.medianMs, diff: 0 });
  }
  const gflop = 2 * 4.09e9 * (S / 224) ** 2 * batch; // R50 at 224: 4.09 GMAC per image
  console.log(
    `\nBiT-R50x1 (random weights) ${S}x${S}, batch ${batch}, ${threads} threads; median of ` +
      `${batches} batches after one warm-up; load average ${loadBefore} before, ${loadAfter} after`,
  );
  console.log(
    `${"model".padEnd(40)} ${"img/s".padStart(6)} ${"ms/batch".padStart(9)} ` +
      `${"GFLOP/s".padStart(8)} ${"vs PyTorch".padStart(10)}  max|feature diff| vs PyTorch`,
  );
  for (const t of table) {
    const ratio = torch ? `${(torch.medianMs / t.ms).toFixed(2)}x` : "-";
    const diff = !torch
      ? "-"
      : t.name.startsWith("PyTorch")
      ? "(reference)"
      : t.diff.toExponential(1);
    console.log(
      `${t.name.padEnd(40)} ${(batch / (t.ms / 1000)).toFixed(2).padStart(6)} ` +
        `${t.ms.toFixed(0).padStart(9)} ${(gflop / (t.ms / 1000) / 1e9).toFixed(0).padStart(8)} ` +
        `${ratio.padStart(10)}  ${diff}`,
    );
  }
  const exportRow = table.find((t) => t.name.startsWith("onnxruntime on torch"));
  if (exportRow) {
    console.log(
      `ours (${impls[0]}) / onnxruntime-on-torch-export: ` +
        `${(exportRow.ms / table[0].ms).toFixed(2)}x (> 1: ours faster)`,
    );
  }
  console.log(
    `decode-only (${S}x${S} from 500x375 JPEG): pil-exact ${pilExact.toFixed(1)} img/s, ` +
      `sharp-linear ${vips.toFixed(1)} img/s`,
  );

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

/** The 1, 5 and 15 minute load averages as text ("?" off Linux). */
function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "?";
  }
}

interface TorchResult {
  medianMs: number;
  version: string;
  features: Float32Array;
  /** PyTorch's own ONNX export of the same model, or null when the export failed. */
  onnx: string | null;
}

/**
 * Runs bench/peers/bit_torch.py on the same weights (as a BiT-layout .npz) and input batch: its
 * median ms per batch, the batch's features and its torch.onnx.export file.
 */
async function torchPeer(
  dir: string,
  weights: Map<string, NpyArray>,
  images: Float32Array,
  dims: number[],
): Promise<TorchResult | { error: string }> {
  if (!(await pythonHas("torch"))) {
    return { error: `${PYTHON} is missing or cannot import torch (apt-get install python3-torch)` };
  }
  await Deno.writeFile(`${dir}/weights.npz`, encodeNpz(weights));
  await Deno.writeFile(`${dir}/input.npy`, encodeNpy({ dtype: "<f4", shape: dims, data: images }));
  const script = new URL("./peers/bit_torch.py", import.meta.url).pathname;
  const r = await runPeer("torch (bit_torch.py)", script, [
    `${dir}/weights.npz`,
    `${dir}/input.npy`,
    `${dir}/torch_features.npy`,
    String(batches),
    String(threads),
    `${dir}/torch_export.onnx`,
  ], { OMP_NUM_THREADS: String(threads) });
  if (!r.ok) return { error: r.reason };
  const j = JSON.parse(r.stdout);
  if (j.onnx_error) console.log(`  torch.onnx.export failed: ${j.onnx_error}`);
  const f = parseNpy(await Deno.readFile(`${dir}/torch_features.npy`), "torch_features.npy");
  return {
    medianMs: j.median_ms,
    version: j.torch,
    features: toFloat32(f),
    onnx: j.onnx,
  };
}
