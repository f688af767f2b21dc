/**
 * BiT-M end to end at real R50x1 shapes with the 21,843-way ImageNet-21k head (random weights in
 * the release's .npz layout): `fetch-bit --model BiT-M-R50x1` from a file mirror (verifies the
 * architecture and the parameter count, converts, exports the head), `extract` writing 21k logits,
 * both compared with the plain-TypeScript reference forward, and `score` running logit-based
 * detectors on the exported pretrained head. Images are 64 x 64 so the float64 reference forward
 * stays within a few seconds; the full 480 x 480 check is a one-off run (see the report).
 */
import assert from "node:assert/strict";
import sharp from "npm:sharp@0.35.5";
import { assertClose } from "./assert_close.ts";
import { exists, ok, runTask, withTempDir } from "./cli_helpers.ts";
import { inferArch } from "../lib/bit/arch.ts";
import { encodeNpz } from "../lib/bit/npz.ts";
import { randomBitWeights } from "../lib/bit/random_weights.ts";
import { referenceForward } from "../lib/bit/reference_forward.ts";
import { preprocessImage } from "../lib/extract/preprocess.ts";
import { readFeatureSet } from "../lib/io/feature_set.ts";
import { readHead } from "../lib/io/head.ts";
import { readNpy } from "../lib/io/npy.ts";
import { createRng } from "../lib/random.ts";

const SIZE = 64;
const K = 21843;

async function writeImages(root: string, seed: number, names: string[]): Promise<void> {
  const rng = createRng(seed);
  for (const name of names) {
    await Deno.mkdir(`${root}/${name.split("/")[0]}`, { recursive: true });
    const w = 40 + rng.int(60);
    const h = 40 + rng.int(60);
    const px = new Uint8Array(w * h * 3).map(() => rng.int(256));
    await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toFile(`${root}/${name}`);
  }
}

/** Max softmax of one logit row, in float64. */
function maxSoftmax(row: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < row.length; i++) m = Math.max(m, row[i]);
  let s = 0;
  for (let i = 0; i < row.length; i++) s += Math.exp(row[i] - m);
  return 1 / s;
}

Deno.test("BiT-M-R50x1 layout, 21,843-way head: fetch-bit, extract logits vs reference, score on the head", async () => {
  await withTempDir(async (tmp) => {
    const weights = randomBitWeights({
      units: [3, 4, 6, 3],
      rootChannels: 64,
      numClasses: K,
      seed: 21,
    });
    const arch = inferArch(weights, "BiT-M-R50x1.npz", "r50x1");
    assert.equal(arch.numClasses, K);
    await Deno.mkdir(`${tmp}/mirror`);
    await Deno.writeFile(`${tmp}/mirror/BiT-M-R50x1.npz`, encodeNpz(weights));
    const model = `${tmp}/models/bit_m_r50x1.onnx`;
    const fetched = await ok("fetch_bit.ts", [
      "--model",
      "BiT-M-R50x1",
      "--mirror",
      `file://${tmp}/mirror`,
      "--dest",
      `${tmp}/models`,
      "--outputs",
      "features,logits",
      "--head-out",
      `${tmp}/head`,
    ]);
    // R50x1 backbone 23.50M + head 2048 x 21,843 + 21,843 = 68.26M (bitParamCount's count).
    assert.match(fetched.stdout, /BiT-M-R50x1: downloaded .* 68\.26M parameters verified/);
    assert.match(fetched.stdout, /21843-class head ->/);

    // bit-to-onnx refuses a label space the head does not match, before writing anything.
    const wrong = await runTask("bit_to_onnx.ts", [
      "--npz",
      `${tmp}/mirror/BiT-M-R50x1.npz`,
      "--out",
      `${tmp}/wrong.onnx`,
      "--label-space",
      "imagenet1k",
    ]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /has a 21843-class head but --label-space imagenet1k has 1000/);
    assert.equal(await exists(`${tmp}/wrong.onnx`), false);

    await writeImages(`${tmp}/id`, 1, ["a/x.png", "a/y.png", "b/z.png"]);
    await writeImages(`${tmp}/ood`, 2, ["o/p.png", "o/q.png"]);
    const common = ["--model", model, "--size", String(SIZE), "--threads", "2"];
    await ok("extract.ts", [...common, "--images", `${tmp}/id`, "--out", `${tmp}/f_id`]);
    await ok("extract.ts", [...common, "--images", `${tmp}/ood`, "--out", `${tmp}/f_ood`]);
    const set = await readFeatureSet(`${tmp}/f_id`);
    assert.equal(set.features.cols, 2048);
    assert.equal(set.logits?.rows, 3);
    assert.equal(set.logits?.cols, K);

    // Independent expectation: the float64 reference forward on the same preprocessed pixels.
    for (const [i, path] of set.paths!.entries()) {
      const x = await preprocessImage(`${tmp}/id/${path}`, SIZE);
      const ref = referenceForward(weights, arch, x, [1, 3, SIZE, SIZE]);
      // The features are GroupNorm-ed, O(1); float32 convs through 50 layers vs float64.
      assertClose(set.features.data.subarray(i * 2048, (i + 1) * 2048), ref.features!, {
        atol: 2e-4,
        rtol: 1e-4,
        reason: "float32 R50 convs vs float64 reference",
      });
      // Logits sum 2048 products with weights ~ N(0, 1e-4): errors stay near float32 epsilon.
      assertClose(set.logits!.data.subarray(i * K, (i + 1) * K), ref.logits!, {
        atol: 1e-5,
        rtol: 1e-4,
        reason: "float32 head product of float32 features vs float64",
      });
    }

    // The exported head reproduces the model's logits from the features.
    const head = await readHead(`${tmp}/head`);
    assert.equal(head.info.kind, "flat");
    assert.equal(head.info.num_classes, K);
    assert.equal(head.weight.rows, K);
    assert.equal(head.weight.cols, 2048);
    const fromHead = new Float64Array(K);
    for (let k = 0; k < K; k++) {
      let s = head.bias[k];
      for (let d = 0; d < 2048; d++) s += set.features.data[d] * head.weight.data[k * 2048 + d];
      fromHead[k] = s;
    }
    assertClose(set.logits!.data.subarray(0, K), fromHead, {
      atol: 1e-5,
      rtol: 1e-4,
      reason: "ORT MatMul vs float64 loop over the same float32 numbers",
    });

    const scored = `${tmp}/scores`;
    await ok("score.ts", [
      "--head",
      `${tmp}/head`,
      "--id",
      `id=${tmp}/f_id`,
      "--ood",
      `far=${tmp}/f_ood`,
      "--methods",
      "msp,odin,energy,kl",
      "--out",
      scored,
    ]);
    const csv = (await Deno.readTextFile(`${scored}/metrics.csv`)).trim().split("\n");
    assert.deepEqual(csv.slice(1).map((l) => l.split(",").slice(0, 2).join(",")).sort(), [
      "energy,far",
      "kl,far",
      "msp,far",
      "odin,far",
    ]);
    const msp = (await readNpy(`${scored}/scores/msp/id.npy`)).data as Float32Array;
    for (let i = 0; i < 3; i++) {
      const want = maxSoftmax(set.logits!.data.subarray(i * K, (i + 1) * K));
      assertClose([msp[i]], [want], { atol: 1e-7, rtol: 1e-4, reason: "float32 softmax" });
    }
  });
});
