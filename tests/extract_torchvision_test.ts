/**
 * Any ONNX backbone end to end: a small torchvision-style model built in code (NCHW 224 x 224
 * input, 1x1 conv + ReLU + global average pool -> `embedding`, a linear head -> `class_logits`)
 * run by `deno task extract --preprocess torchvision | clip` on fixture images in wnid folders.
 * Features and logits are compared with a float64 reference (tests/torchvision_reference.ts:
 * Pillow's filter definitions, crop, normalise, then the same network in float64), labels with
 * the ImageNet-1k indices of the folders; ambiguous outputs give one error listing them.
 */
import assert from "node:assert/strict";
import sharp from "npm:sharp@0.35.5";
import { readNpy, toFloat32 } from "../lib/io/npy.ts";
import { buildModel, floatConst, node } from "../lib/ort/graph.ts";
import { createRng } from "../lib/random.ts";
import { describeRun, runTask } from "./cli_helpers.ts";
import { reference64 } from "./torchvision_reference.ts";

const D = 8;
const C = 5;
/** Folders: tench (index 0) and toilet tissue (index 999) of data/imagenet1k_classes.tsv. */
const FOLDERS = [["n01440764", 0], ["n15075141", 999]] as const;
const IMAGES: [string, number, number][] = [
  ["n01440764/wide.png", 300, 200],
  ["n01440764/odd.png", 181, 260],
  ["n15075141/small.png", 90, 100],
];

/** Seeded weights of the fixture network. */
function weights() {
  const rng = createRng(7);
  const conv = Float64Array.from({ length: D * 3 }, () => rng.normal() * 0.5);
  const convB = Float64Array.from({ length: D }, () => rng.normal() * 0.1);
  const fc = Float64Array.from({ length: C * D }, () => rng.normal() * 0.5);
  const fcB = Float64Array.from({ length: C }, () => rng.normal() * 0.1);
  return { conv, convB, fc, fcB };
}

/**
 * The fixture network; `nhwcBatch` declares an N x 224 x 224 x 3 input with that fixed batch
 * size instead (transposed to NCHW inside), as TensorFlow exports do.
 */
function buildFixtureModel(outputNames: [string, string], nhwcBatch?: number): Uint8Array {
  const w = weights();
  const input = nhwcBatch === undefined
    ? { name: "pixel_values", type: "float32" as const, shape: ["batch", 3, 224, 224] }
    : { name: "pixel_values", type: "float32" as const, shape: [nhwcBatch, 224, 224, 3] };
  const first = nhwcBatch === undefined ? [] : [
    node("Transpose", ["pixel_values"], ["nchw"], { perm: [0, 3, 1, 2] }),
  ];
  return buildModel({
    name: "torchvision_style",
    inputs: [input],
    outputs: [
      { name: outputNames[0], type: "float32", shape: ["batch", D] },
      { name: outputNames[1], type: "float32", shape: ["batch", C] },
    ],
    initializers: [
      floatConst("conv_w", [D, 3, 1, 1], Float32Array.from(w.conv)),
      floatConst("conv_b", [D], Float32Array.from(w.convB)),
      floatConst("fc_w", [C, D], Float32Array.from(w.fc)),
      floatConst("fc_b", [C], Float32Array.from(w.fcB)),
    ],
    nodes: [
      ...first,
      node("Conv", [first.length ? "nchw" : "pixel_values", "conv_w", "conv_b"], ["conv"], {
        kernel_shape: [1, 1],
      }),
      node("Relu", ["conv"], ["act"]),
      node("GlobalAveragePool", ["act"], ["pooled"]),
      node("Flatten", ["pooled"], [outputNames[0]], { axis: 1 }),
      node("Gemm", [outputNames[0], "fc_w", "fc_b"], [outputNames[1]], { transB: 1 }),
    ],
  });
}

/** Smooth colour gradients with seeded noise: real structure for the resize. */
async function writeImages(root: string): Promise<void> {
  for (const [folder] of FOLDERS) await Deno.mkdir(`${root}/${folder}`, { recursive: true });
  for (const [i, [path, w, h]] of IMAGES.entries()) {
    const rng = createRng(100 + i);
    const px = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let c = 0; c < 3; c++) {
          const v = 128 + 100 * Math.sin((x * (c + 1)) / 17 + y / 23 + i) + rng.int(21) - 10;
          px[(y * w + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
        }
      }
    }
    await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toFile(`${root}/${path}`);
  }
}

/** The network in float64 on a CHW input: features (D) and logits (C). */
function network64(x: Float64Array, size: number) {
  const w = weights();
  const plane = size * size;
  const f = new Float64Array(D);
  for (let j = 0; j < D; j++) {
    let sum = 0;
    for (let p = 0; p < plane; p++) {
      const z = w.conv[j * 3] * x[p] + w.conv[j * 3 + 1] * x[plane + p] +
        w.conv[j * 3 + 2] * x[2 * plane + p] + w.convB[j];
      sum += Math.max(0, z);
    }
    f[j] = sum / plane;
  }
  const l = new Float64Array(C);
  for (let k = 0; k < C; k++) {
    l[k] = w.fcB[k];
    for (let j = 0; j < D; j++) l[k] += w.fc[k * D + j] * f[j];
  }
  return { f, l };
}

/**
 * Bounds of |ours - reference|: Pillow's 8-bit passes put each input value within 1.1 grey
 * levels of the float64 resize (lib/extract/transform_spec_test.ts), i.e. 1.1 / (255 std) after
 * Normalize; ReLU and the average are 1-Lipschitz, so feature j moves by at most
 * sum_c |W_jc| times that, and logit k by sum_j |V_kj| times the feature bound; 1e-4 covers
 * float32 arithmetic in onnxruntime.
 */
function bounds(minStd: number) {
  const w = weights();
  const delta = 1.1 / (255 * minStd);
  const fb = Array.from(
    { length: D },
    (_, j) =>
      delta * (Math.abs(w.conv[j * 3]) + Math.abs(w.conv[j * 3 + 1]) + Math.abs(w.conv[j * 3 + 2])),
  );
  const maxF = Math.max(...fb);
  const lb = Array.from({ length: C }, (_, k) => {
    let s = 0;
    for (let j = 0; j < D; j++) s += Math.abs(w.fc[k * D + j]);
    return s * maxF;
  });
  return { fb: fb.map((b) => b + 1e-4), lb: lb.map((b) => b + 1e-4) };
}

async function decodeFull(path: string) {
  const { data, info } = await sharp(path).removeAlpha().raw().toBuffer({
    resolveWithObject: true,
  });
  return { rgb: new Uint8Array(data), w: info.width, h: info.height };
}

Deno.test("extract --preprocess torchvision | clip: any ONNX model vs a float64 reference", async (t) => {
  const root = await Deno.makeTempDir({ prefix: "mos_tv_" });
  try {
    const images = `${root}/images`;
    await writeImages(images);
    const model = `${root}/tv.onnx`;
    await Deno.writeFile(model, buildFixtureModel(["embedding", "class_logits"]));
    for (const kind of ["torchvision", "clip"] as const) {
      await t.step(`${kind}: features and logits within the bounds, wnid labels`, async () => {
        const out = `${root}/out_${kind}`;
        const args = ["--model", model, "--images", images, "--out", out, "--preprocess", kind];
        const r = await runTask("extract.ts", [...args, "--batch", "2"]);
        assert.equal(r.code, 0, describeRun("extract.ts", args, r));
        assert.match(r.stdout, /wnid folders -> ImageNet-1k class indices/);
        const feats = await readNpy(`${out}/features.npy`);
        const logits = await readNpy(`${out}/logits.npy`);
        const labels = await readNpy(`${out}/labels.npy`);
        assert.deepEqual(feats.shape, [3, D]);
        assert.deepEqual(logits.shape, [3, C]);
        assert.deepEqual([...labels.data as Int32Array], [0, 0, 999]);
        const meta = JSON.parse(await Deno.readTextFile(`${out}/meta.json`));
        assert.deepEqual(meta.model_outputs, { features: "embedding", logits: "class_logits" });
        assert.equal(meta.preprocess.kind, kind);
        assert.equal(meta.source.label_order, "imagenet1k");
        const f = toFloat32(feats);
        const l = toFloat32(logits);
        const b = bounds(kind === "clip" ? 0.26130258 : 0.224);
        let worstF = 0;
        // Rows follow the ImageFolder order (sorted paths), given by paths.txt.
        const rows = (await Deno.readTextFile(`${out}/paths.txt`)).trim().split("\n");
        assert.deepEqual(rows, IMAGES.map(([p]) => p).sort());
        for (const [i, path] of rows.entries()) {
          const img = await decodeFull(`${images}/${path}`);
          const ref = network64(reference64(kind, img.rgb, img.w, img.h, 224), 224);
          for (let j = 0; j < D; j++) {
            const d = Math.abs(f[i * D + j] - ref.f[j]);
            worstF = Math.max(worstF, d);
            assert.ok(d <= b.fb[j], `${kind} ${path} feature ${j}: |diff| ${d} > ${b.fb[j]}`);
          }
          for (let k = 0; k < C; k++) {
            const d = Math.abs(l[i * C + k] - ref.l[k]);
            assert.ok(d <= b.lb[k], `${kind} ${path} logit ${k}: |diff| ${d} > ${b.lb[k]}`);
          }
        }
        console.log(
          `${kind}: worst feature |diff| vs float64 reference ${worstF.toExponential(2)}`,
        );
      });
    }
    await t.step("an NHWC model with a fixed batch of 2 gives the same features", async () => {
      const nhwc = `${root}/nhwc.onnx`;
      await Deno.writeFile(nhwc, buildFixtureModel(["embedding", "class_logits"], 2));
      const out = `${root}/out_nhwc`;
      // --batch 4 gives way to the model's fixed 2; the third image runs in a padded batch.
      const args = ["--model", nhwc, "--images", images, "--out", out, "--batch", "4"];
      const r = await runTask("extract.ts", [...args, "--preprocess", "torchvision"]);
      assert.equal(r.code, 0, describeRun("extract.ts", args, r));
      const a = toFloat32(await readNpy(`${out}/features.npy`));
      const b = toFloat32(await readNpy(`${root}/out_torchvision/features.npy`));
      assert.equal(a.length, b.length);
      // Same values through a transpose; only the conv's summation order may differ.
      for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-5, `${i}`);
    });
    await t.step("ambiguous outputs: one error listing them and the flag", async () => {
      const amb = `${root}/amb.onnx`;
      await Deno.writeFile(amb, buildFixtureModel(["embedding", "scores"]));
      const out = `${root}/out_amb`;
      const args = ["--model", amb, "--images", images, "--out", out, "--preprocess", "clip"];
      const r = await runTask("extract.ts", args);
      assert.equal(r.code, 1, describeRun("extract.ts", args, r));
      assert.match(r.stderr, /embedding \(batch, 8\), scores \(batch, 5\).*--features-output NAME/);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      await assert.rejects(Deno.stat(out));
      const named = await runTask("extract.ts", [...args, "--features-output", "embedding"]);
      assert.equal(named.code, 0, describeRun("extract.ts", args, named));
      const meta = JSON.parse(await Deno.readTextFile(`${out}/meta.json`));
      assert.deepEqual(meta.model_outputs, { features: "embedding" });
    });
    await t.step("--size contradicting the model's 224 x 224 input is refused", async () => {
      const args = ["--model", model, "--images", images, "--out", `${root}/out_size`];
      const r = await runTask("extract.ts", [
        ...args,
        "--preprocess",
        "torchvision",
        "--size",
        "256",
      ]);
      assert.equal(r.code, 1, describeRun("extract.ts", args, r));
      assert.match(r.stderr, /--size 256: --model .* takes 224 x 224 inputs/);
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

const CUDA_PROVIDER = new URL(
  "../node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so",
  import.meta.url,
);

function hasCudaProvider(): boolean {
  try {
    Deno.statSync(CUDA_PROVIDER);
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name: "extract --device cuda without onnxruntime's CUDA provider: one error line with the fix",
  ignore: hasCudaProvider(),
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "mos_cuda_" });
    try {
      await writeImages(`${root}/images`);
      await Deno.writeFile(`${root}/m.onnx`, buildFixtureModel(["features", "logits"]));
      const args = ["--model", `${root}/m.onnx`, "--images", `${root}/images`, "--out"];
      const r = await runTask("extract.ts", [...args, `${root}/out`, "--device", "cuda"]);
      assert.equal(r.code, 1, describeRun("extract.ts", args, r));
      // onnxruntime's own log of the missing library is silenced: exactly one line.
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.match(
        r.stderr,
        /^error: --device cuda: .*ONNXRUNTIME_NODE_INSTALL=cuda12 .*--device cpu/,
      );
      await assert.rejects(Deno.stat(`${root}/out`));
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
