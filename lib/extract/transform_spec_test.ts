import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { reference64 } from "../../tests/torchvision_reference.ts";
import { scaleByte } from "./preprocess.ts";
import {
  centerCropOffsets,
  normalizeTables,
  type PreprocessKind,
  resizedSize,
  transformRgb,
  transformSpec,
  writeInput,
} from "./transform_spec.ts";

/**
 * SHA-256 of the float32 CHW tensor of the torchvision / CLIP pipeline on {@linkcode pattern}
 * images, recorded once with Pillow 9.4.0 + NumPy float32 (not available to the tests):
 * `img.resize(size, BILINEAR | BICUBIC)` with torchvision's size rule, `crop` at
 * `int(round((H - 224) / 2.0))`, then `(np.float32(x) / 255 - mean) / std` in float32.
 */
const RECORDED: Record<string, { sha256: string; top: number; left: number }> = {
  "torchvision_300x200": {
    sha256: "bda19991f70ee812f77b25231c83af0022b04e1fa9e1cb4cad822ebd26854a08",
    top: 16,
    left: 80,
  },
  "clip_300x200": {
    sha256: "8df9971c29100eb94c2426df0501e74ad17f2126cd6aa58a5afcb4e1da6f78a0",
    top: 0,
    left: 56,
  },
  "torchvision_181x260": {
    sha256: "a93b397c3530e6892c997192c9a0de73c2d302de7f563e00a6048adb419c24b0",
    top: 72,
    left: 16,
  },
  "clip_181x260": {
    sha256: "fec69a5212385cef1f073d4dc4bf846b287ebbe6fb94cf3a663b71eba4827d4f",
    top: 48,
    left: 0,
  },
  "torchvision_90x100": {
    sha256: "3dddcc5cf40b1ef569fc1b572ded71ffe093363c523f604b436ccb191b7b8956",
    top: 30,
    left: 16,
  },
  "clip_90x100": {
    sha256: "fb42350f8fa62f9d9015290577ab72fbcf76a1634d1783f707181f43154a81d9",
    top: 12,
    left: 0,
  },
};

/** The recorded test image (as in pil_bicubic_test.ts): byte i is (7 i^2 + 13 i + 5 floor(i / 3)) mod 256. */
function pattern(w: number, h: number): Uint8Array {
  return Uint8Array.from(
    { length: w * h * 3 },
    (_, i) => (7 * i * i + 13 * i + 5 * Math.floor(i / 3)) % 256,
  );
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function tensor(kind: PreprocessKind, w: number, h: number): Float32Array {
  const t = transformSpec(kind, 224);
  const out = new Float32Array(3 * 224 * 224);
  writeInput(transformRgb(pattern(w, h), w, h, t), t, normalizeTables(t), out);
  return out;
}

Deno.test("torchvision / clip transforms: bit-identical to Pillow + float32 normalisation", () => {
  for (const [key, rec] of Object.entries(RECORDED)) {
    const [kind, size] = key.split("_") as [PreprocessKind, string];
    const [w, h] = size.split("x").map(Number);
    const t = transformSpec(kind, 224);
    const r = resizedSize(w, h, t.resize);
    assert.deepEqual(centerCropOffsets(r.w, r.h, 224), { top: rec.top, left: rec.left }, key);
    assert.equal(sha256(new Uint8Array(tensor(kind, w, h).buffer)), rec.sha256, key);
  }
});

Deno.test("torchvision / clip transforms: within one grey level of a float64 reference", () => {
  for (const kind of ["torchvision", "clip"] as const) {
    const t = transformSpec(kind, 224);
    for (const [w, h] of [[300, 200], [181, 260], [90, 100]]) {
      const ours = tensor(kind, w, h);
      const ref = reference64(kind, pattern(w, h), w, h, 224);
      const plane = 224 * 224;
      let worst = 0;
      for (let i = 0; i < ours.length; i++) {
        const std = t.std[Math.floor(i / plane)];
        worst = Math.max(worst, Math.abs(ours[i] - ref[i]) * 255 * std);
      }
      // Pillow rounds to 8 bits after each pass: <= 0.5 grey level from the vertical pass plus
      // the horizontal pass's 0.5 carried through weights whose absolute values sum to <= 1.1
      // (Keys' cubic), so <= 1.05 grey levels; 1.1 leaves room for the 22-bit fixed point.
      assert.ok(worst <= 1.1, `${kind} ${w}x${h}: worst ${worst} grey levels`);
    }
  }
});

Deno.test("resizedSize and centerCropOffsets: torchvision's rules (hand-worked)", () => {
  // 181 x 260 -> shorter side 256, longer int(256 * 260 / 181) = int(367.7) = 367.
  assert.deepEqual(resizedSize(181, 260, 256), { w: 256, h: 367 });
  assert.deepEqual(resizedSize(300, 200, 256), { w: 384, h: 256 });
  assert.deepEqual(resizedSize(256, 256, 256), { w: 256, h: 256 });
  // (367 - 224) / 2 = 71.5 -> 72 (half to even), (256 - 224) / 2 = 16; 48.5 -> 48; 1.5 -> 2.
  assert.deepEqual(centerCropOffsets(256, 367, 224), { top: 72, left: 16 });
  assert.deepEqual(centerCropOffsets(224, 321, 224), { top: 48, left: 0 });
  assert.deepEqual(centerCropOffsets(227, 224, 224), { top: 0, left: 2 });
});

Deno.test("transformSpec: sizes, filters and constants of the three kinds", () => {
  assert.deepEqual(
    [transformSpec("torchvision", 224).resize, transformSpec("torchvision", 384).resize],
    [256, 438],
  );
  assert.equal(transformSpec("clip", 336).resize, 336);
  assert.equal(transformSpec("clip", 224).filter, "bicubic");
  assert.equal(transformSpec("bit", 480).resize, 480);
  // The bit table is the protocol's x / 127.5 - 1 of preprocess.ts, value for value.
  const [r, g, b] = normalizeTables(transformSpec("bit", 480));
  for (let x = 0; x < 256; x++) {
    assert.equal(r[x], scaleByte(x));
    assert.equal(g[x], r[x]);
    assert.equal(b[x], r[x]);
  }
});

Deno.test("writeInput: NCHW planes and NHWC interleaving of a 2x1 image (hand-worked)", () => {
  // Pixels (0, 51, 255) and (102, 153, 204); x / 127.5 - 1 gives -1, -0.6, 1 and -0.2, 0.2, 0.6.
  const rgb = Uint8Array.from([0, 51, 255, 102, 153, 204]);
  const round = (a: Float32Array) => [...a].map((v) => Math.round(v * 1e6) / 1e6 + 0);
  const nchw = { ...transformSpec("bit", 480), size: 1 };
  const planar = new Float32Array(2 + 3);
  writeInput(rgb.subarray(3), nchw, normalizeTables(nchw), planar, 2);
  assert.deepEqual(round(planar), [0, 0, -0.2, 0.2, 0.6]);
  // A 1-row, 2-pixel image is not square; use side 1 twice to check both offsets and layouts.
  const nhwc = { ...nchw, layout: "NHWC" as const };
  const inter = new Float32Array(6);
  writeInput(rgb.subarray(0, 3), nhwc, normalizeTables(nhwc), inter, 0);
  writeInput(rgb.subarray(3), nhwc, normalizeTables(nhwc), inter, 3);
  assert.deepEqual(round(inter), [-1, -0.6, 1, -0.2, 0.2, 0.6]);
});
