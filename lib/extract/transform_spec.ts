/**
 * The three input transforms of `extract --preprocess`, as their reference pipelines define them
 * on a decoded 8-bit RGB image:
 *
 * - `bit` (the MOS protocol): `Resize((S, S))` with Pillow's BILINEAR, aspect ratio ignored, no
 *   crop, mean 0.5 and std 0.5 (= x / 127.5 - 1).
 * - `torchvision` (the ImageNet classification recipe): `Resize(256)` (shorter side to 256, the
 *   longer one to `int(256 * long / short)`) with BILINEAR, `CenterCrop(224)`, ImageNet mean
 *   (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225). At another crop size S the resize is
 *   `floor(S * 256 / 224)`, the same ratio.
 * - `clip` (OpenAI CLIP's `_transform`): `Resize(S)` with BICUBIC, `CenterCrop(S)`, CLIP's mean
 *   and std.
 *
 * `ToTensor` + `Normalize` run in float32 as torch does: `(fround(x / 255) - mean) / std`, each
 * step rounded to float32, through one 256-entry table per channel. The center crop offsets use
 * Python's `round` (half to even), as torchvision's `center_crop` does.
 *
 * @module
 */
import { type PilFilter, resizePil } from "./pil_resize.ts";

/** The `--preprocess` choices. */
export const PREPROCESS_KINDS = ["bit", "torchvision", "clip"] as const;

/** One of {@linkcode PREPROCESS_KINDS}. */
export type PreprocessKind = typeof PREPROCESS_KINDS[number];

/** Memory layout of the network input. */
export type InputLayout = "NCHW" | "NHWC";

/** A resolved transform: what is done to every image. */
export interface TransformSpec {
  /** The `--preprocess` protocol the transform implements. */
  kind: PreprocessKind;
  /** Side of the square network input. */
  size: number;
  /** `bit`: the square resize (= size); otherwise the shorter side before the center crop. */
  resize: number;
  /** Resampling filter of the resize (Pillow's; bicubic for `clip`, else bilinear). */
  filter: PilFilter;
  /** Per-channel RGB mean subtracted after scaling pixels to [0, 1]. */
  mean: readonly [number, number, number];
  /** Per-channel RGB standard deviation divided by after the mean. */
  std: readonly [number, number, number];
  /** Memory layout of the network input. */
  layout: InputLayout;
}

const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
const IMAGENET_STD = [0.229, 0.224, 0.225] as const;
const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
const CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;

/** Default input side per kind when neither the flag nor the model fixes it. */
export const DEFAULT_SIZE: Readonly<Record<PreprocessKind, number>> = {
  bit: 480,
  torchvision: 224,
  clip: 224,
};

/** The transform of `kind` at input side `size`. */
export function transformSpec(
  kind: PreprocessKind,
  size: number,
  layout: InputLayout = "NCHW",
): TransformSpec {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`input size ${size}`);
  if (kind === "bit") {
    return {
      kind,
      size,
      resize: size,
      filter: "bilinear",
      mean: [0.5, 0.5, 0.5],
      std: [0.5, 0.5, 0.5],
      layout,
    };
  }
  if (kind === "torchvision") {
    const resize = Math.floor((size * 256) / 224);
    return {
      kind,
      size,
      resize,
      filter: "bilinear",
      mean: IMAGENET_MEAN,
      std: IMAGENET_STD,
      layout,
    };
  }
  return { kind, size, resize: size, filter: "bicubic", mean: CLIP_MEAN, std: CLIP_STD, layout };
}

/**
 * torchvision's `Resize(short)` output size for a `w` x `h` image: the shorter side becomes
 * `short`, the longer `int(short * long / short_side)` (truncated, as Python's `int`).
 */
export function resizedSize(w: number, h: number, short: number): { w: number; h: number } {
  if (w <= h) return { w: short, h: Math.trunc((short * h) / w) };
  return { w: Math.trunc((short * w) / h), h: short };
}

/** Python's `round` on a multiple of 0.5: half to even. */
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d !== 0.5) return Math.round(x);
  return f % 2 === 0 ? f : f + 1;
}

/** torchvision's `center_crop` offsets: `int(round((H - crop) / 2))`, the same for the width. */
export function centerCropOffsets(
  w: number,
  h: number,
  crop: number,
): { top: number; left: number } {
  return { top: roundHalfEven((h - crop) / 2), left: roundHalfEven((w - crop) / 2) };
}

/**
 * Applies the geometric part of `t` to a full-size `w` x `h` HWC RGB image: the Pillow-exact
 * resize, then (torchvision, clip) the center crop. Returns `size` x `size` HWC RGB bytes.
 */
export function transformRgb(rgb: Uint8Array, w: number, h: number, t: TransformSpec): Uint8Array {
  if (t.kind === "bit") {
    return resizePil(rgb, { w, h, ow: t.size, oh: t.size, filter: t.filter });
  }
  const r = resizedSize(w, h, t.resize);
  const resized = resizePil(rgb, { w, h, ow: r.w, oh: r.h, filter: t.filter });
  const { top, left } = centerCropOffsets(r.w, r.h, t.size);
  if (top < 0 || left < 0) {
    // Cannot happen with resize >= size; torchvision would pad here.
    throw new RangeError(`crop ${t.size} larger than the resized ${r.w}x${r.h} image`);
  }
  const S = t.size;
  const out = new Uint8Array(3 * S * S);
  for (let y = 0; y < S; y++) {
    const src = ((top + y) * r.w + left) * 3;
    out.set(resized.subarray(src, src + 3 * S), y * S * 3);
  }
  return out;
}

/**
 * The float32 input value of each byte per channel: `(fround(x / 255) - mean) / std` with every
 * operation rounded to float32 (torch's ToTensor + Normalize on float32 tensors).
 */
export function normalizeTables(t: TransformSpec): Float32Array[] {
  return [0, 1, 2].map((c) => {
    const m = Math.fround(t.mean[c]);
    const s = Math.fround(t.std[c]);
    const table = new Float32Array(256);
    for (let x = 0; x < 256; x++) table[x] = Math.fround(Math.fround(x / 255) - m) / s;
    return table;
  });
}

/**
 * Writes a `size` x `size` HWC RGB image into `out` at `offset` in the transform's layout
 * (planar CHW for NCHW, interleaved for NHWC), normalised through `tables`.
 */
export function writeInput(
  rgb: Uint8Array,
  t: TransformSpec,
  tables: readonly Float32Array[],
  out: Float32Array,
  offset = 0,
): void {
  const plane = t.size * t.size;
  if (rgb.length !== 3 * plane) throw new RangeError(`writeInput: ${rgb.length} bytes`);
  if (out.length < offset + 3 * plane) throw new RangeError("writeInput: out is too short");
  const [tr, tg, tb] = tables;
  if (t.layout === "NHWC") {
    for (let i = 0; i < 3 * plane; i += 3) {
      out[offset + i] = tr[rgb[i]];
      out[offset + i + 1] = tg[rgb[i + 1]];
      out[offset + i + 2] = tb[rgb[i + 2]];
    }
    return;
  }
  const g = offset + plane;
  const b = offset + 2 * plane;
  for (let i = 0, j = 0; i < plane; i++, j += 3) {
    out[offset + i] = tr[rgb[j]];
    out[g + i] = tg[rgb[j + 1]];
    out[b + i] = tb[rgb[j + 2]];
  }
}

/** The input tensor shape of `n` images. */
export function inputDims(t: TransformSpec, n: number): number[] {
  return t.layout === "NCHW" ? [n, 3, t.size, t.size] : [n, t.size, t.size, 3];
}

/** What the transform does, for meta.json (`bit` keeps its own, older description). */
export function transformInfo(t: TransformSpec): Record<string, unknown> {
  const resize = t.kind === "bit"
    ? `${t.size}x${t.size}, aspect ratio ignored`
    : `shorter side to ${t.resize} (longer: int(${t.resize} * long / short)), center crop ` +
      `${t.size}x${t.size} (offsets rounded half to even)`;
  return {
    kind: t.kind,
    resize: `${resize}, Pillow ${t.filter.toUpperCase()} (exact)`,
    normalize: `(fround(x / 255) - mean) / std in float32, mean ${t.mean.join(", ")}, std ${
      t.std.join(", ")
    }`,
    layout: `${t.layout} float32`,
  };
}
