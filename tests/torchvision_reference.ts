/**
 * The torchvision-style preprocessing reference of the extract tests, computed in float64 from
 * the definitions alone: Pillow's resampling filters (triangle, Keys' cubic with a = -0.5, support
 * scaled by the downscale factor, weights normalised to sum 1), torchvision's Resize size rule and
 * CenterCrop offsets, and Normalize. It shares no code with lib/extract.
 *
 * @module
 */

/** The recipes: torchvision's ImageNet eval transform and CLIP's. */
const RECIPES = {
  torchvision: {
    filter: "bilinear",
    resize: (size: number) => Math.floor((size * 256) / 224),
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
  },
  clip: {
    filter: "bicubic",
    resize: (size: number) => size,
    mean: [0.48145466, 0.4578275, 0.40821073],
    std: [0.26862954, 0.26130258, 0.27577711],
  },
} as const;

/** Python's round() for the crop offsets: halves go to the even neighbour. */
function pyRound(x: number): number {
  const f = Math.floor(x);
  if (x - f !== 0.5) return Math.round(x);
  return f % 2 === 0 ? f : f + 1;
}

/** Keys' cubic convolution kernel, a = -0.5 (Pillow's BICUBIC). */
function keys(x: number): number {
  const t = Math.abs(x);
  if (t < 1) return (1.5 * t - 2.5) * t * t + 1;
  if (t < 2) return ((-0.5 * t + 2.5) * t - 4) * t + 2;
  return 0;
}

/** Pillow's filter definition in float64, without any rounding: the weights of one axis. */
function weights64(inSize: number, outSize: number, kind: "bilinear" | "bicubic") {
  const support = kind === "bicubic" ? 2 : 1;
  const f = kind === "bicubic" ? keys : (x: number) => Math.max(0, 1 - Math.abs(x));
  const scale = inSize / outSize;
  const fs = Math.max(scale, 1);
  const rows: { first: number; w: number[] }[] = [];
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const first = Math.max(0, Math.trunc(center - support * fs + 0.5));
    const last = Math.min(inSize, Math.trunc(center + support * fs + 0.5));
    const w: number[] = [];
    for (let x = first; x < last; x++) w.push(f((x - center + 0.5) / fs));
    const sum = w.reduce((a, b) => a + b, 0);
    rows.push({ first, w: w.map((v) => v / sum) });
  }
  return rows;
}

/**
 * The torchvision-style reference in float64: separable resize by the filter definition (no
 * rounding, no fixed point; each pass clamped to [0, 255] as Pillow's passes produce images),
 * center crop, then
 * (x / 255 - mean) / std. Returns CHW.
 */
export function reference64(
  kind: "torchvision" | "clip",
  src: Uint8Array,
  w: number,
  h: number,
  size: number,
): Float64Array {
  const t = RECIPES[kind];
  const short = t.resize(size);
  // torchvision's Resize(int): the shorter side to `short`, the longer truncated in proportion.
  const r = w <= h
    ? { w: short, h: Math.trunc((short * h) / w) }
    : { w: Math.trunc((short * w) / h), h: short };
  const hw = weights64(w, r.w, t.filter);
  const vw = weights64(h, r.h, t.filter);
  const tmp = new Float64Array(h * r.w * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < r.w; x++) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        hw[x].w.forEach((k, i) => s += k * src[(y * w + hw[x].first + i) * 3 + c]);
        // Pillow's intermediate is an image: bicubic overshoot is clipped to [0, 255] here.
        tmp[(y * r.w + x) * 3 + c] = Math.min(255, Math.max(0, s));
      }
    }
  }
  const top = pyRound((r.h - size) / 2);
  const left = pyRound((r.w - size) / 2);
  const out = new Float64Array(3 * size * size);
  for (let y = 0; y < size; y++) {
    const row = vw[top + y];
    for (let x = 0; x < size; x++) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        row.w.forEach((k, i) => s += k * tmp[((row.first + i) * r.w + left + x) * 3 + c]);
        const v = Math.min(255, Math.max(0, s));
        out[c * size * size + y * size + x] = (v / 255 - t.mean[c]) / t.std[c];
      }
    }
  }
  return out;
}
