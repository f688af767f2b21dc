import assert from "node:assert/strict";
import { assertClose } from "../../tests/assert_close.ts";
import { DataError, UsageError } from "../errors.ts";
import { createRng } from "../random.ts";
import { createSession, f32Tensor, ort } from "../ort/session.ts";
import { inferArch } from "./arch.ts";
import { encodeNpz, parseNpz } from "./npz.ts";
import { randomBitWeights } from "./random_weights.ts";
import { referenceForward } from "./reference_forward.ts";
import {
  BIT_OUTPUTS,
  type BitOutput,
  buildBitOnnx,
  type GroupNormImpl,
  standardizeKernel,
} from "./resnet_v2_onnx.ts";

function randomImages(seed: number, n: number, h: number, w: number): Float32Array {
  const rng = createRng(seed);
  return new Float32Array(n * 3 * h * w).map(() => rng.float() * 2 - 1);
}

async function runOnnx(
  model: Uint8Array | string,
  images: Float32Array,
  dims: number[],
): Promise<Record<string, Float32Array>> {
  const session = await createSession(model, { threads: 2 });
  const out = await session.run({ images: f32Tensor(images, dims) });
  const res: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(out)) res[k] = v.data as Float32Array;
  await session.release();
  return res;
}

/** Converts through the .npz bytes (as the task does) and compares every output. */
async function checkParity(
  opts: {
    units: [number, number, number, number];
    rootChannels: number;
    numClasses: number;
    seed: number;
    h: number;
    w: number;
    impls: GroupNormImpl[];
  },
): Promise<number[]> {
  const npz = encodeNpz(randomBitWeights(opts));
  const weights = parseNpz(npz, "tiny.npz");
  const arch = inferArch(weights, "tiny.npz");
  const outputs: BitOutput[] = BIT_OUTPUTS.filter((o) => o !== "logits" || opts.numClasses > 0);
  const N = 3;
  const images = randomImages(opts.seed + 100, N, opts.h, opts.w);
  const ref = referenceForward(weights, arch, images, [N, 3, opts.h, opts.w]);
  const worst: number[] = [];
  for (const impl of opts.impls) {
    const { model } = buildBitOnnx(weights, arch, { outputs, groupNorm: impl });
    const got = await runOnnx(model, images, [N, 3, opts.h, opts.w]);
    let w = 0;
    for (const o of outputs) {
      assert.equal(got[o].length, ref[o]!.length, `${impl} ${o} size`);
      // Features are GroupNorm-ed (O(1)); the pooled stages are raw residual streams whose
      // magnitude grows with depth (up to ~50 here), so they also get a float32-relative term.
      const tol = o === "features" || o === "logits"
        ? { atol: 1e-4, rtol: 0, reason: "float32 convs vs float64 reference" }
        : { atol: 1e-4, rtol: 1e-5, reason: "float32 convs vs float64, values up to ~50" };
      w = Math.max(w, assertClose(got[o], ref[o]!, tol));
    }
    worst.push(w);
  }
  return worst;
}

Deno.test("bit onnx: units [1,1,1,1], 32 root channels, head; every GroupNorm form matches the reference", async () => {
  const worst = await checkParity({
    units: [1, 1, 1, 1],
    rootChannels: 32,
    numClasses: 10,
    seed: 1,
    h: 32,
    w: 32,
    impls: ["instance", "reduce", "native"],
  });
  assert.ok(worst.every((w) => w < 1e-3));
});

Deno.test("bit onnx: units [2,1,2,1], 64 root channels, no head, non-square odd input", async () => {
  await checkParity({
    units: [2, 1, 2, 1],
    rootChannels: 64,
    numClasses: 0,
    seed: 2,
    h: 37,
    w: 29,
    impls: ["instance"],
  });
});

Deno.test("bit onnx: external data file gives the same outputs as the inline model", async () => {
  const weights = randomBitWeights({ units: [1, 1, 1, 1], rootChannels: 32, seed: 3 });
  const arch = inferArch(weights, "w.npz");
  const inline = buildBitOnnx(weights, arch);
  const ext = buildBitOnnx(weights, arch, { externalDataName: "m.onnx.data" });
  assert.ok(ext.externalData.length > 0);
  assert.ok(ext.model.length < inline.model.length / 10);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/m.onnx`, ext.model);
    const total = ext.externalData.reduce((s, c) => s + c.length, 0);
    const data = new Uint8Array(total);
    let off = 0;
    for (const c of ext.externalData) {
      data.set(c, off);
      off += c.length;
    }
    await Deno.writeFile(`${dir}/m.onnx.data`, data);
    const images = randomImages(9, 2, 32, 32);
    const a = await runOnnx(inline.model, images, [2, 3, 32, 32]);
    const b = await runOnnx(`${dir}/m.onnx`, images, [2, 3, 32, 32]);
    assert.deepEqual(b.features, a.features);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bit onnx: the model exposes the requested outputs in order", async () => {
  const weights = randomBitWeights({ units: [1, 1, 1, 1], rootChannels: 32, numClasses: 4 });
  const arch = inferArch(weights, "w.npz");
  const { model } = buildBitOnnx(weights, arch, { outputs: ["features", "logits", "block2"] });
  const session = await ort.InferenceSession.create(model);
  assert.deepEqual([...session.outputNames], ["features", "logits", "block2"]);
  assert.deepEqual([...session.inputNames], ["images"]);
  await session.release();
});

Deno.test("standardizeKernel: hand-worked 1x1x2x2 kernel, HWIO -> OIHW", () => {
  // HWIO (1,1,2,2): w[i][o]; output 0 has inputs [1, 3] (mean 2, var 1), output 1 [2, 2] (var 0).
  const out = standardizeKernel(new Float32Array([1, 2, 3, 2]), [1, 1, 2, 2]);
  assertClose(out, [-1, 1, 0, 0], { atol: 1e-6, reason: "eps 1e-10 shifts by ~5e-11" });
});

Deno.test("inferArch: R50x1 layout is named r50x1; a wrong --arch and a missing key are refused", () => {
  const weights = randomBitWeights({ units: [3, 4, 6, 3], rootChannels: 64, numClasses: 0 });
  const arch = inferArch(weights, "r50.npz");
  assert.equal(arch.name, "r50x1");
  assert.deepEqual(arch.outChannels, [256, 512, 1024, 2048]);
  assert.throws(() => inferArch(weights, "r50.npz", "r101x1"), UsageError);
  assert.equal(inferArch(weights, "r50.npz", "r50x1").name, "r50x1");
  weights.delete("resnet/block3/unit02/b/group_norm/beta");
  assert.throws(
    () => inferArch(weights, "r50.npz"),
    (e: unknown) => e instanceof DataError && e.message.includes("block3/unit02/b/group_norm/beta"),
  );
});

Deno.test("npz: stored and deflated archives round-trip; garbage is a DataError", () => {
  const rng = createRng(4);
  const a = {
    dtype: "<f4" as const,
    shape: [2, 3],
    data: new Float32Array(6).map(() => rng.float()),
  };
  const b = { dtype: "<i4" as const, shape: [4], data: Int32Array.from([1, -2, 3, 4]) };
  for (const compress of [false, true]) {
    const m = parseNpz(encodeNpz({ "x/a": a, b }, compress), "t.npz");
    assert.deepEqual([...m.keys()].sort(), ["b", "x/a"]);
    assert.deepEqual(m.get("x/a")!.data, a.data);
    assert.deepEqual(m.get("b")!.data, b.data);
  }
  assert.throws(() => parseNpz(new Uint8Array([1, 2, 3, 4]), "bad.npz"), DataError);
});
