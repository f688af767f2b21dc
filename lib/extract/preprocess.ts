/**
 * Image preprocessing of the MOS protocol with sharp (libvips): decode, RGB, resize to S x S
 * ignoring the aspect ratio, scale to [-1, 1], NCHW float32.
 *
 * Choices made to follow the released code's PIL + torchvision pipeline
 * (`Image.open(p).convert('RGB')`, `Resize((480, 480))`, `ToTensor()`, `Normalize(0.5, 0.5)`):
 * - alpha is dropped, not composited (PIL's convert('RGB') drops it); grey is replicated to RGB;
 *   CMYK is converted to sRGB by libvips (PIL uses a naive formula; colours differ slightly);
 *   16-bit images are scaled to 8 bits (PIL clips 16-bit grey to 255, a PIL quirk not copied).
 * - embedded ICC profiles are ignored and EXIF orientation is not applied, as PIL does.
 * - resize kernel `linear`: libvips' triangle filter whose support widens with the downscale
 *   factor, like PIL's antialiased BILINEAR (sharp's `cubic`/`lanczos3` are further from it);
 *   JPEG shrink-on-load is disabled because PIL decodes at full size.
 * - scaling uses torchvision's float32 order, (x / 255 - 0.5) / 0.5, through a 256-entry table.
 * - images are rejected on decode errors and truncation (`failOn: "truncated"`), close to PIL,
 *   which raises on truncated files, while libjpeg warnings that PIL ignores are tolerated.
 *
 * @module
 */
import sharp from "npm:sharp@0.35.5";

/** What the preprocessing does, recorded in each feature set's meta.json. */
export function preprocessInfo(size: number): Record<string, unknown> {
  return {
    decoder: `sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips})`,
    color: "RGB (alpha dropped, grey replicated, CMYK via libvips, ICC ignored, no EXIF rotate)",
    resize: `${size}x${size}, aspect ratio ignored, kernel linear (antialiased, ~PIL BILINEAR)`,
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

/**
 * Decodes and resizes one image file to `size` x `size` RGB, 8 bits, HWC (interleaved), the
 * compact form kept in the decode queue. Rejects with sharp's error for unreadable images.
 */
export async function decodeRgb(path: string, size: number): Promise<Uint8Array> {
  const { data, info } = await sharp(path, {
    failOn: "truncated",
    ignoreIcc: true,
    sequentialRead: true,
  })
    .removeAlpha()
    .resize(size, size, { fit: "fill", kernel: "linear", fastShrinkOnLoad: false })
    .toColourspace("srgb")
    .raw({ depth: "uchar" })
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || info.width !== size || info.height !== size) {
    throw new Error(
      `decoded to ${info.width}x${info.height}x${info.channels}, expected ${size}x${size}x3`,
    );
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
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
export async function preprocessImage(path: string, size: number): Promise<Float32Array> {
  const out = new Float32Array(3 * size * size);
  rgbToChw(await decodeRgb(path, size), size, out);
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
