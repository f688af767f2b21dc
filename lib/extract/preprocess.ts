/**
 * Image preprocessing of the MOS protocol with sharp (libvips): decode, RGB, resize to S x S
 * ignoring the aspect ratio, scale to [-1, 1], NCHW float32.
 *
 * Choices made to follow the released code's PIL + torchvision pipeline
 * (`Image.open(p).convert('RGB')`, `Resize((480, 480))`, `ToTensor()`, `Normalize(0.5, 0.5)`):
 * - alpha is dropped, not composited (PIL's convert('RGB') drops it); grey is replicated to RGB;
 *   CMYK uses Pillow's integer formula (not libvips' profile conversion);
 *   16-bit images are scaled to 8 bits (PIL clips 16-bit grey to 255, a PIL quirk not copied).
 * - embedded ICC profiles are ignored and EXIF orientation is not applied, as PIL does.
 * - resize: Pillow's BILINEAR reproduced exactly (lib/extract/pil_resize.ts) on the full-size
 *   decode. Of sharp's own kernels `linear` is the closest (antialiased triangle when shrinking:
 *   mean |diff| 0.24 grey levels vs PIL at 1000x800 -> 480; but ~5 when enlarging, as libvips
 *   aligns pixel centres differently), available as the faster `sharp` resizer. JPEG
 *   shrink-on-load is disabled there because PIL decodes at full size.
 * - scaling uses torchvision's float32 order, (x / 255 - 0.5) / 0.5, through a 256-entry table.
 * - images are rejected on decode errors and truncation (`failOn: "truncated"`), close to PIL,
 *   which raises on truncated files, while libjpeg warnings that PIL ignores are tolerated.
 *
 * @module
 */
import sharp from "sharp";
import { resizeBilinearPil } from "./pil_resize.ts";

/** What the preprocessing does, recorded in each feature set's meta.json. */
export function preprocessInfo(size: number, resizer: Resizer = "pil"): Record<string, unknown> {
  return {
    decoder: `sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips})`,
    color: "RGB (alpha dropped, grey replicated, CMYK as Pillow, ICC ignored, no EXIF rotate)",
    resize: `${size}x${size}, aspect ratio ignored, ` +
      (resizer === "pil" ? "Pillow BILINEAR (exact)" : "libvips linear kernel (~PIL BILINEAR)"),
    scale: "(x / 255 - 0.5) / 0.5 in float32 = x / 127.5 - 1",
    layout: "NCHW float32",
  };
}

/** float32 value of each byte after torchvision's ToTensor + Normalize(0.5, 0.5). */
const SCALE = (() => {
  const t = new Float32Array(256);
  for (let x = 0; x < 256; x++) t[x] = Math.fround(Math.fround(x / 255) - 0.5) / 0.5;
  return t;
})();

/** The [-1, 1] value of byte `x` (exposed for tests). */
export function scaleByte(x: number): number {
  return SCALE[x];
}

/** Which resize implementation: Pillow-exact bilinear (default) or libvips' `linear` kernel. */
export type Resizer = "pil" | "sharp";

/**
 * Decodes and resizes one image file to `size` x `size` RGB, 8 bits, HWC (interleaved), the
 * compact form kept in the decode queue. `pil` (default) decodes at full size with sharp and
 * resizes with {@linkcode resizeBilinearPil}; `sharp` resizes inside libvips with its `linear`
 * kernel (faster for very large images, not bit-identical to PIL). Rejects with sharp's error for
 * unreadable images.
 */
export async function decodeRgb(
  path: string,
  size: number,
  resizer: Resizer = "pil",
): Promise<Uint8Array> {
  const bytes = await Deno.readFile(path);
  if (bytes.length === 0) throw new Error("empty file");
  const options = { failOn: "truncated", ignoreIcc: true, sequentialRead: true } as const;
  const meta = await sharp(bytes, options).metadata();
  if (meta.space === "cmyk" && meta.channels === 4) return decodeCmyk(bytes, size, resizer);
  let img = sharp(bytes, options).removeAlpha();
  if (resizer === "sharp") {
    img = img.resize(size, size, { fit: "fill", kernel: "linear", fastShrinkOnLoad: false });
  }
  const { data, info } = await img.toColourspace("srgb").raw({ depth: "uchar" })
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
  return finishResize(data, info.width, info.height, size, resizer);
}

function finishResize(
  data: Uint8Array,
  w: number,
  h: number,
  size: number,
  resizer: Resizer,
): Uint8Array {
  const rgb = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (w === size && h === size) return rgb;
  if (resizer === "sharp") throw new Error(`decoded to ${w}x${h}, expected ${size}x${size}`);
  return resizeBilinearPil(rgb, w, h, size, size, 3);
}

/**
 * CMYK JPEGs: raw ink values from libvips (Adobe-inverted files un-inverted, as PIL does), then
 * Pillow's `cmyk2rgb` (R = nk - c * nk / 255 with nk = 255 - k, in its integer rounding), then
 * the resize; libvips' own CMYK -> sRGB profile conversion differs by ~27 grey levels on average.
 */
async function decodeCmyk(bytes: Uint8Array, size: number, resizer: Resizer): Promise<Uint8Array> {
  // A cmyk pipeline colourspace keeps the decoded ink values; toColourspace alone would round
  // trip them through sRGB.
  const { data, info } = await sharp(bytes, { failOn: "truncated", ignoreIcc: true })
    .pipelineColourspace("cmyk").toColourspace("cmyk").raw({ depth: "uchar" })
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 4) throw new Error(`CMYK image decoded to ${info.channels} channels`);
  const n = info.width * info.height;
  const rgb = new Uint8Array(n * 3);
  const muldiv255 = (a: number, b: number) => {
    const t = a * b + 128;
    return ((t >> 8) + t) >> 8;
  };
  for (let i = 0; i < n; i++) {
    const nk = 255 - data[i * 4 + 3];
    for (let c = 0; c < 3; c++) rgb[i * 3 + c] = Math.max(0, nk - muldiv255(data[i * 4 + c], nk));
  }
  if (resizer === "sharp") {
    const out = await sharp(rgb, { raw: { width: info.width, height: info.height, channels: 3 } })
      .resize(size, size, { fit: "fill", kernel: "linear" }).raw().toBuffer();
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }
  return finishResize(rgb, info.width, info.height, size, resizer);
}

/**
 * Writes an HWC RGB byte image into `out` at `offset` as CHW float32 in [-1, 1]
 * (`3 * size * size` values).
 */
export function rgbToChw(rgb: Uint8Array, size: number, out: Float32Array, offset = 0): void {
  const plane = size * size;
  if (rgb.length !== 3 * plane) throw new RangeError(`rgbToChw: ${rgb.length} bytes for ${size}`);
  if (out.length < offset + 3 * plane) throw new RangeError("rgbToChw: out is too short");
  const r = offset;
  const g = offset + plane;
  const b = offset + 2 * plane;
  for (let i = 0, j = 0; i < plane; i++, j += 3) {
    out[r + i] = SCALE[rgb[j]];
    out[g + i] = SCALE[rgb[j + 1]];
    out[b + i] = SCALE[rgb[j + 2]];
  }
}

/** {@linkcode decodeRgb} then {@linkcode rgbToChw}: one image as (3, size, size) float32. */
export async function preprocessImage(
  path: string,
  size: number,
  resizer: Resizer = "pil",
): Promise<Float32Array> {
  const out = new Float32Array(3 * size * size);
  rgbToChw(await decodeRgb(path, size, resizer), size, out);
  return out;
}

/**
 * Sets libvips threads per image and turns off its operation cache: the extractor decodes
 * several images at once, one thread each, and never repeats an operation.
 */
export function configureDecoder(threadsPerImage = 1): void {
  sharp.concurrency(threadsPerImage);
  sharp.cache(false);
}
