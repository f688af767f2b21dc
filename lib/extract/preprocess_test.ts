import assert from "node:assert/strict";
import sharp from "npm:sharp@0.35.5";
import { assertClose } from "../../tests/assert_close.ts";
import { createRng } from "../random.ts";
import { decodeRgb, preprocessImage, rgbToChw, scaleByte } from "./preprocess.ts";
import { resizeBilinearPil } from "./pil_resize.ts";

function pixels(seed: number, n: number): Uint8Array {
  const rng = createRng(seed);
  return new Uint8Array(n).map(() => rng.int(256));
}

Deno.test("scaleByte: torchvision's (x/255 - 0.5)/0.5 in float32 is x/127.5 - 1 to 1 ulp", () => {
  assert.equal(scaleByte(0), -1);
  assert.equal(scaleByte(255), 1);
  for (let x = 0; x < 256; x++) {
    assertClose(scaleByte(x), x / 127.5 - 1, { atol: 2.5e-7, rtol: 0, reason: "float32 rounding" });
  }
});

Deno.test("rgbToChw: HWC bytes -> planar CHW at an offset (hand-worked 1x2 image)", () => {
  const out = new Float32Array(2 + 3 * 4).fill(9);
  rgbToChw(Uint8Array.from([0, 255, 0, 255, 0, 255, 0, 255, 0, 255, 0, 255]), 2, out, 2);
  assert.deepEqual([...out], [9, 9, -1, 1, -1, 1, 1, -1, 1, -1, -1, 1, -1, 1]);
});

Deno.test("decodeRgb: alpha dropped, grey replicated, 16-bit scaled, all as Pillow-exact resize", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const [w, h, S] = [23, 17, 12];
    const rgb = pixels(1, w * h * 3);
    const expected = resizeBilinearPil(rgb, w, h, S, S);
    await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png().toFile(`${dir}/rgb.png`);
    assert.deepEqual(await decodeRgb(`${dir}/rgb.png`, S), expected);
    // RGBA with varied alpha: PIL's convert('RGB') drops alpha without compositing.
    const rgba = new Uint8Array(w * h * 4);
    const alpha = pixels(2, w * h);
    for (let i = 0; i < w * h; i++) {
      rgba.set(rgb.subarray(i * 3, i * 3 + 3), i * 4);
      rgba[i * 4 + 3] = alpha[i];
    }
    await sharp(rgba, { raw: { width: w, height: h, channels: 4 } }).png().toFile(
      `${dir}/rgba.png`,
    );
    assert.deepEqual(await decodeRgb(`${dir}/rgba.png`, S), expected);
    // 16-bit: v * 257 in 16 bits is v in 8 bits.
    await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).toColourspace("rgb16").png()
      .toFile(`${dir}/rgb16.png`);
    assert.deepEqual(await decodeRgb(`${dir}/rgb16.png`, S), expected);
    // Grey: each channel equals the grey image resized.
    const grey = pixels(3, w * h);
    await sharp(grey, { raw: { width: w, height: h, channels: 1 } }).png().toFile(`${dir}/g.png`);
    const g = resizeBilinearPil(grey, w, h, S, S, 1);
    const got = await decodeRgb(`${dir}/g.png`, S);
    for (let i = 0; i < S * S; i++) {
      assert.deepEqual([got[3 * i], got[3 * i + 1], got[3 * i + 2]], [g[i], g[i], g[i]]);
    }
    // The float tensor is the scaled bytes in CHW order.
    const x = await preprocessImage(`${dir}/rgb.png`, S);
    assert.equal(x[S * S + 5], scaleByte(expected[5 * 3 + 1]));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("decodeRgb: empty, truncated and non-image files reject", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/empty.jpg`, new Uint8Array(0));
    await Deno.writeTextFile(`${dir}/text.png`, "hello");
    const jpeg = await sharp(pixels(4, 64 * 64 * 3), {
      raw: { width: 64, height: 64, channels: 3 },
    })
      .jpeg().toBuffer();
    await Deno.writeFile(`${dir}/cut.jpg`, jpeg.subarray(0, jpeg.length >> 1));
    for (const f of ["empty.jpg", "text.png", "cut.jpg"]) {
      await assert.rejects(decodeRgb(`${dir}/${f}`, 8), f);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
