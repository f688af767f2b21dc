/**
 * End to end: `import-torch` on the PyTorch fixtures (tests/fixtures/torch, made once by its
 * make.py with PyTorch; no Python here) in both torch.save formats and three dtypes; the imported
 * ONNX model's features and logits, and the imported head applied to the features, against the
 * PyTorch forward saved beside each fixture; then `extract` with the imported backbone on
 * generated images and `score` with the imported head, checked against a float64 recomputation
 * from the extracted features.
 */
import assert from "node:assert/strict";
import sharp from "npm:sharp@0.35.5";
import { readHead } from "../lib/io/head.ts";
import { readNpy, toFloat32 } from "../lib/io/npy.ts";
import { createSession, f32Tensor } from "../lib/ort/session.ts";
import { createRng } from "../lib/random.ts";
import { assertClose } from "./assert_close.ts";
import { checkErrorLine, exists, ok, REPO_ROOT, runTask, withTempDir } from "./cli_helpers.ts";

const FIX = `${REPO_ROOT}/tests/fixtures/torch`;

/** Checkpoint file -> the name of its saved PyTorch forward, and its head kind. */
const CASES = [
  ["group_f32_zip.pth.tar", "group_f32", "group"],
  ["group_f32_legacy.pth.tar", "group_f32", "group"],
  ["flat_f16_zip.pth", "flat_f16", "flat"],
  ["flat_bf16_legacy.pth", "flat_bf16", "flat"],
] as const;

/**
 * PyTorch and onnxruntime sum the convolutions and GroupNorm statistics in different orders in
 * float32; measured differences are ~3e-6 on values of size ~1, so 1e-4 (the acceptance bound) has
 * ample room and still catches any layout or standardisation error (those are >= 1e-2).
 */
const TOL_REASON = "float32 summation order, PyTorch vs onnxruntime";
const tol = (what: string) => ({ atol: 1e-4, rtol: 0, reason: `${TOL_REASON} (${what})` });

/** features . W^T + b in float64. */
function applyHead(feats: Float32Array, n: number, w: Float32Array, b: Float32Array): Float64Array {
  const d = feats.length / n;
  const o = b.length;
  const out = new Float64Array(n * o);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < o; k++) {
      let s = b[k];
      for (let j = 0; j < d; j++) s += feats[i * d + j] * w[k * d + j];
      out[i * o + k] = s;
    }
  }
  return out;
}

Deno.test("import-torch: both formats, three dtypes, logits and head equal PyTorch's", async () => {
  const x = await readNpy(`${FIX}/inputs.npy`);
  const n = x.shape[0];
  await withTempDir(async (tmp) => {
    for (const [file, ref, kind] of CASES) {
      const out = `${tmp}/${file}`;
      const r = await ok("import_torch.ts", ["--pth", `${FIX}/${file}`, "--out", out]);
      assert.match(r.stdout, new RegExp(`head \\(${kind}, 1000 classes`));
      const session = await createSession(await Deno.readFile(`${out}/backbone.onnx`), {
        threads: 1,
      });
      const res = await session.run({ images: f32Tensor(toFloat32(x), x.shape) });
      const wantLogits = toFloat32(await readNpy(`${FIX}/${ref}.logits.npy`));
      const wantFeats = toFloat32(await readNpy(`${FIX}/${ref}.features.npy`));
      const feats = res.features.data as Float32Array;
      assertClose(feats, wantFeats, tol(`${file} features`));
      assertClose(res.logits.data as Float32Array, wantLogits, tol(`${file} logits`));
      const head = await readHead(`${out}/head`);
      assert.equal(head.info.kind, kind);
      assert.equal(head.weight.rows, kind === "group" ? 1008 : 1000);
      if (kind === "group") {
        assert.deepEqual(head.info.groups.map((g) => g.length), [398, 521, 9, 7, 52, 8, 3, 2]);
      }
      const viaHead = applyHead(feats, n, head.weight.data, head.bias);
      assertClose(viaHead, wantLogits, tol(`${file} head(features)`));
    }
  });
});

/** A smooth RGB pattern with noise, `w` x `h`. */
function image(seed: number, w: number, h: number) {
  const rng = createRng(seed);
  const px = new Uint8Array(w * h * 3);
  for (let i = 0; i < px.length; i++) {
    const p = Math.floor(i / 3);
    px[i] = ((p % w) * 5 + Math.floor(p / w) * 3 + (i % 3) * 70 + rng.int(40) + seed * 17) % 256;
  }
  return sharp(px, { raw: { width: w, height: h, channels: 3 } });
}

/** The MOS score -min_k p_k(others) in float64 from logits rows in the group layout. */
function mosScores(logits: Float64Array, n: number, groups: number[][]): Float64Array {
  const o = logits.length / n;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let start = 0;
    let least = Infinity;
    for (const g of groups) {
      const row = logits.subarray(i * o + start, i * o + start + g.length + 1);
      const m = Math.max(...row);
      const z = row.reduce((s, v) => s + Math.exp(v - m), 0);
      least = Math.min(least, Math.exp(row[0] - m) / z);
      start += g.length + 1;
    }
    out[i] = -least;
  }
  return out;
}

Deno.test("import-torch -> extract -> score on fixture images", async () => {
  await withTempDir(async (tmp) => {
    const model = `${tmp}/mos`;
    await ok("import_torch.ts", ["--pth", `${FIX}/group_f32_legacy.pth.tar`, "--out", model]);
    for (const [k, wnid] of ["n01440764", "n01443537"].entries()) {
      await Deno.mkdir(`${tmp}/id/${wnid}`, { recursive: true });
      for (let j = 0; j < 3; j++) {
        await image(10 * k + j, 40 + 7 * j, 36).png().toFile(`${tmp}/id/${wnid}/${j}.png`);
      }
    }
    await Deno.mkdir(`${tmp}/ood`);
    for (let j = 0; j < 4; j++) await image(100 + j, 30, 50).jpeg().toFile(`${tmp}/ood/${j}.jpg`);
    const backbone = `${model}/backbone.onnx`;
    for (const set of ["id", "ood"]) {
      await ok("extract.ts", [
        "--model",
        backbone,
        "--images",
        `${tmp}/${set}`,
        "--out",
        `${tmp}/f_${set}`,
        "--size",
        "64",
        "--threads",
        "1",
      ]);
    }
    await ok("score.ts", [
      "--head",
      `${model}/head`,
      "--id",
      `${tmp}/f_id`,
      "--ood",
      `ood=${tmp}/f_ood`,
      "--methods",
      "mos",
      "--out",
      `${tmp}/scores`,
    ]);
    const metrics = await Deno.readTextFile(`${tmp}/scores/metrics.csv`);
    assert.match(metrics, /^method,dataset,auroc,fpr95,aupr_in,aupr_out/);
    assert.match(metrics, /\nmos,ood,/);
    const head = await readHead(`${model}/head`);
    for (const [set, n] of [["id", 6], ["ood", 4]] as const) {
      const feats = toFloat32(await readNpy(`${tmp}/f_${set}/features.npy`));
      assert.equal(feats.length, n * 64);
      const logits = applyHead(feats, n, head.weight.data, head.bias);
      // The backbone's own logits output (stored by extract) is the same head.
      const stored = toFloat32(await readNpy(`${tmp}/f_${set}/logits.npy`));
      assertClose(stored, logits, tol(`${set} logits.npy`));
      const scores = toFloat32(await readNpy(`${tmp}/scores/scores/mos/${set}.npy`));
      assertClose(scores, mosScores(logits, n, head.info.groups), {
        atol: 1e-5,
        rtol: 0,
        reason: "float32 softmax in score vs float64 here",
      });
    }
  });
});

Deno.test("import-torch: bad flags and files end in one error line", async () => {
  await withTempDir(async (tmp) => {
    const cases: [string[], 1 | 2, string][] = [
      [["--pth", `${FIX}/flat_f16_zip.pth`, "--out", `${tmp}/a`, "--head", "maybe"], 2, "--head"],
      [["--pth", `${tmp}/missing.pth`, "--out", `${tmp}/b`], 1, "missing.pth"],
      [["--pth", `${FIX}/inputs.npy`, "--out", `${tmp}/c`], 1, "inputs.npy"],
      [["--pth", `${FIX}/flat_f16_zip.pth`, "--out", FIX], 2, "--out"],
    ];
    for (const [args, code, mention] of cases) {
      const r = await runTask("import_torch.ts", args);
      checkErrorLine("import_torch.ts", args, r, { code, mentions: [mention], unchanged: [] });
    }
    assert.equal(await exists(`${tmp}/b`), false, "a failed first run leaves no --out behind");
    // Another stage's result directory is refused, its files left as they were.
    await Deno.mkdir(`${tmp}/scored`);
    const foreign = JSON.stringify({ tool: "mos-toolkit", stage: "score" });
    await Deno.writeTextFile(`${tmp}/scored/manifest.json`, foreign);
    const args = ["--pth", `${FIX}/flat_f16_zip.pth`, "--out", `${tmp}/scored`];
    const r0 = await runTask("import_torch.ts", args);
    checkErrorLine("import_torch.ts", args, r0, {
      code: 1,
      mentions: ["manifest.json"],
      unchanged: [],
    });
    assert.equal(await Deno.readTextFile(`${tmp}/scored/manifest.json`), foreign);
    assert.equal(await exists(`${tmp}/scored/backbone.onnx`), false);
    // --head none: the backbone alone, features only.
    const out = `${tmp}/backbone_only`;
    const r = await ok("import_torch.ts", [
      "--pth",
      `${FIX}/flat_bf16_legacy.pth`,
      "--out",
      out,
      "--head",
      "none",
    ]);
    assert.match(r.stdout, /outputs features\)/);
    assert.equal(await exists(`${out}/head`), false);
  });
});
