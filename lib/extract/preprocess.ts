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
 * - images above Pillow's decompression-bomb limit ({@linkcode MAX_IMAGE_PIXELS}) are rejected
 *   from their header, before any pixel is decoded, as `Image.open` raises DecompressionBombError.
 *
 * @module
 */
import sharp from "npm:sharp@0.35.5";
import { createRng, deriveSeed } from "../random.ts";
import { resizeBilinearPil } from "./pil_resize.ts";

/**
 * Pillow's default decompression-bomb limit: `Image.open` raises DecompressionBombError above
 * 2 x `Image.MAX_IMAGE_PIXELS` (89,478,485) pixels. A decode at this size already takes
 * 537 MB as 8-bit RGB; above it an image is refused from its header alone.
 */
export const MAX_IMAGE_PIXELS = 178_956_970;

/** An image whose header declares more than {@linkcode MAX_IMAGE_PIXELS} pixels. */
export class PixelLimitError extends Error {
  /** Width and height from the image header. */
  readonly width: number;
  readonly height: number;
  constructor(width: number, height: number) {
    super(
      `image is ${width} x ${height} = ${width * height} pixels, above the ${MAX_IMAGE_PIXELS}-` +
        "pixel limit (Pillow's decompression-bomb limit); not decoded",
    );
    this.name = "PixelLimitError";
    this.width = width;
    this.height = height;
  }
}

/**
 * Reads an image's dimensions from its header (sharp's `metadata()` parses the header only; no
 * pixel is decoded) and throws {@linkcode PixelLimitError} above the limit.
 */
export function assertPixelLimit(width: number | undefined, height: number | undefined): void {
  if (width === undefined || height === undefined) return;
  if (width * height > MAX_IMAGE_PIXELS) throw new PixelLimitError(width, height);
}

/** Random stream of the training views (lib/train/sampler.ts uses 1 and 2). */
const STREAM_VIEWS = 101;

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
  return (await decodeRgbSizes(path, [size], resizer))[0];
}

/** A decoded image: full-size HWC RGB bytes. */
export interface DecodedRgb {
  rgb: Uint8Array;
  width: number;
  height: number;
}

const DECODE_OPTIONS = {
  failOn: "truncated",
  ignoreIcc: true,
  sequentialRead: true,
  limitInputPixels: MAX_IMAGE_PIXELS,
} as const;

/**
 * Reads `path`, checks the pixel limit from the header and returns the sharp input bytes with the
 * header's colour space (CMYK images take Pillow's conversion, not libvips').
 */
async function readChecked(path: string): Promise<{ bytes: Uint8Array; cmyk: boolean }> {
  const bytes = await Deno.readFile(path);
  if (bytes.length === 0) throw new Error("empty file");
  // metadata() reads the header only; the limit is checked before anything is decoded, and
  // libvips is given the same limit so that no decode below can exceed it either.
  const meta = await sharp(bytes, { failOn: "truncated", ignoreIcc: true, limitInputPixels: false })
    .metadata();
  assertPixelLimit(meta.width, meta.height);
  return { bytes, cmyk: meta.space === "cmyk" && meta.channels === 4 };
}

/** Decodes to 8-bit RGB with sharp, at full size or resized by libvips' `linear` kernel. */
async function decodeSharp(bytes: Uint8Array, size: number | null): Promise<DecodedRgb> {
  let img = sharp(bytes, DECODE_OPTIONS).removeAlpha();
  if (size !== null) {
    img = img.resize(size, size, { fit: "fill", kernel: "linear", fastShrinkOnLoad: false });
  }
  const { data, info } = await img.toColourspace("srgb").raw({ depth: "uchar" })
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
  const rgb = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return { rgb, width: info.width, height: info.height };
}

/**
 * Decodes one image file at full size to 8-bit HWC RGB, as PIL's `Image.open(p).convert('RGB')`
 * would (see the module doc); the input of the Pillow-exact transforms.
 */
export async function decodeRgbFull(path: string): Promise<DecodedRgb> {
  const { bytes, cmyk } = await readChecked(path);
  return cmyk ? await decodeCmykFull(bytes) : await decodeSharp(bytes, null);
}

/**
 * {@linkcode decodeRgb} at several sizes from one read and (for `pil`) one full-size decode:
 * the evaluation resize and the training views' resize of the same image.
 */
export async function decodeRgbSizes(
  path: string,
  sizes: readonly number[],
  resizer: Resizer = "pil",
): Promise<Uint8Array[]> {
  const { bytes, cmyk } = await readChecked(path);
  if (cmyk) {
    const out: Uint8Array[] = [];
    for (const size of sizes) out.push(await decodeCmyk(bytes, size, resizer));
    return out;
  }
  if (resizer === "sharp") {
    const out: Uint8Array[] = [];
    for (const size of sizes) {
      const { rgb, width, height } = await decodeSharp(bytes, size);
      out.push(finishResize(rgb, width, height, size, resizer));
    }
    return out;
  }
  const { rgb, width, height } = await decodeSharp(bytes, null);
  return sizes.map((size) => finishResize(rgb, width, height, size, resizer));
}

/** One training view: crop offsets in the resized image and whether it is mirrored. */
export interface ViewDraw {
  top: number;
  left: number;
  flip: boolean;
}

/** The released code's training transform at the protocol size: Resize 512, RandomCrop 480. */
export const TRAIN_VIEW = { resize: 512, crop: 480 } as const;

/** The training resize for crop size `crop`: 512 at 480 (the same 16/15 ratio otherwise). */
export function viewResizeFor(crop: number): number {
  return Math.round((crop * TRAIN_VIEW.resize) / TRAIN_VIEW.crop);
}

/**
 * The `views` training draws of the image at list position `position`, as torchvision's
 * `RandomCrop` then `RandomHorizontalFlip` draw them (top and left uniform in
 * [0, resize - crop], flip with probability 1/2), from a generator seeded by (seed, position)
 * only: independent of sharding, batching and resume, and views 0..k-1 are the same for any
 * `views` >= k.
 */
export function drawViews(
  seed: number,
  position: number,
  views: number,
  resize: number,
  crop: number,
): ViewDraw[] {
  if (crop > resize) throw new RangeError(`view crop ${crop} exceeds the resize ${resize}`);
  const rng = createRng(deriveSeed(seed, STREAM_VIEWS, position));
  const out: ViewDraw[] = [];
  for (let v = 0; v < views; v++) {
    const top = rng.int(resize - crop + 1);
    const left = rng.int(resize - crop + 1);
    out.push({ top, left, flip: rng.float() < 0.5 });
  }
  return out;
}

/**
 * Crops a `crop` x `crop` window at (top, left) out of a `size` x `size` HWC RGB image,
 * mirrored left-right when `flip` (crop first, then flip, as the transform composes them).
 */
export function cropFlipRgb(
  rgb: Uint8Array,
  size: number,
  crop: number,
  view: ViewDraw,
): Uint8Array {
  if (rgb.length !== 3 * size * size) throw new RangeError(`cropFlipRgb: ${rgb.length} bytes`);
  if (view.top + crop > size || view.left + crop > size) {
    throw new RangeError(`cropFlipRgb: window ${view.top},${view.left}+${crop} outside ${size}`);
  }
  const out = new Uint8Array(3 * crop * crop);
  for (let y = 0; y < crop; y++) {
    const srcRow = ((view.top + y) * size + view.left) * 3;
    const dstRow = y * crop * 3;
    if (!view.flip) {
      out.set(rgb.subarray(srcRow, srcRow + 3 * crop), dstRow);
      continue;
    }
    for (let x = 0; x < crop; x++) {
      const s = srcRow + (crop - 1 - x) * 3;
      const d = dstRow + x * 3;
      out[d] = rgb[s];
      out[d + 1] = rgb[s + 1];
      out[d + 2] = rgb[s + 2];
    }
  }
  return out;
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
  const { rgb, width, height } = await decodeCmykFull(bytes);
  if (resizer === "sharp") {
    const out = await sharp(rgb, { raw: { width, height, channels: 3 } })
      .resize(size, size, { fit: "fill", kernel: "linear" }).raw().toBuffer();
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }
  return finishResize(rgb, width, height, size, resizer);
}

/** The full-size RGB of a CMYK image by Pillow's `cmyk2rgb` (see {@linkcode decodeCmyk}). */
async function decodeCmykFull(bytes: Uint8Array): Promise<DecodedRgb> {
  // A cmyk pipeline colourspace keeps the decoded ink values; toColourspace alone would round
  // trip them through sRGB.
  const { data, info } = await sharp(bytes, {
    failOn: "truncated",
    ignoreIcc: true,
    limitInputPixels: MAX_IMAGE_PIXELS,
  })
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
  return { rgb, width: info.width, height: info.height };
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
