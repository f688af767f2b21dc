/**
 * A plain-TypeScript forward pass of BiT ResNet-v2, written straight from the architecture
 * description (float64, one image at a time, naive loops). It is the independent expectation the
 * ONNX converter is tested against; it is far too slow for real images.
 *
 * @module
 */
import { type NpyArray, toFloat32 } from "../io/npy.ts";
import { type BitArch, GROUP_NORM_EPS, unitKey, unitStride, WS_EPS } from "./arch.ts";
import type { BitOutput } from "./resnet_v2_onnx.ts";

/** A single image's activations: channels x height x width, row-major. */
interface Act {
  c: number;
  h: number;
  w: number;
  data: Float64Array;
}

/** conv2d with an HWIO kernel standardised on the fly, as BiT's StdConv2d does at run time. */
function stdConv(x: Act, kernel: NpyArray, stride: number, pad: number): Act {
  const [kh, kw, ci, co] = kernel.shape;
  const k = toFloat32(kernel);
  const std = new Float64Array(k.length);
  for (let o = 0; o < co; o++) {
    let s = 0;
    let s2 = 0;
    const n = kh * kw * ci;
    for (let j = 0; j < n; j++) s += k[j * co + o];
    const mean = s / n;
    for (let j = 0; j < n; j++) s2 += (k[j * co + o] - mean) ** 2;
    const sd = Math.sqrt(s2 / n + WS_EPS);
    for (let j = 0; j < n; j++) std[j * co + o] = (k[j * co + o] - mean) / sd;
  }
  const oh = Math.floor((x.h + 2 * pad - kh) / stride) + 1;
  const ow = Math.floor((x.w + 2 * pad - kw) / stride) + 1;
  const out = new Float64Array(co * oh * ow);
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      for (let ky = 0; ky < kh; ky++) {
        const iy = oy * stride + ky - pad;
        if (iy < 0 || iy >= x.h) continue;
        for (let kx = 0; kx < kw; kx++) {
          const ix = ox * stride + kx - pad;
          if (ix < 0 || ix >= x.w) continue;
          for (let i = 0; i < ci; i++) {
            const v = x.data[(i * x.h + iy) * x.w + ix];
            if (v === 0) continue;
            const base = ((ky * kw + kx) * ci + i) * co;
            for (let o = 0; o < co; o++) out[(o * oh + oy) * ow + ox] += v * std[base + o];
          }
        }
      }
    }
  }
  return { c: co, h: oh, w: ow, data: out };
}

function groupNorm(x: Act, gamma: NpyArray, beta: NpyArray, groups: number): Act {
  const g = toFloat32(gamma);
  const b = toFloat32(beta);
  const per = x.c / groups;
  const hw = x.h * x.w;
  const out = new Float64Array(x.data.length);
  for (let grp = 0; grp < groups; grp++) {
    const lo = grp * per * hw;
    const hi = lo + per * hw;
    let s = 0;
    for (let j = lo; j < hi; j++) s += x.data[j];
    const mean = s / (hi - lo);
    let v = 0;
    for (let j = lo; j < hi; j++) v += (x.data[j] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / (hi - lo) + GROUP_NORM_EPS);
    for (let c = grp * per; c < (grp + 1) * per; c++) {
      for (let j = c * hw; j < (c + 1) * hw; j++) out[j] = (x.data[j] - mean) * inv * g[c] + b[c];
    }
  }
  return { ...x, data: out };
}

function relu(x: Act): Act {
  return { ...x, data: x.data.map((v) => (v > 0 ? v : 0)) };
}

function add(a: Act, b: Act): Act {
  return { ...a, data: a.data.map((v, i) => v + b.data[i]) };
}

/** Zero pad 1 on each side, then 3x3 max pool with stride 2 and no further padding. */
function padMaxPool(x: Act): Act {
  const ph = x.h + 2;
  const pw = x.w + 2;
  const at = (c: number, y: number, xx: number) =>
    y < 1 || y > x.h || xx < 1 || xx > x.w ? 0 : x.data[(c * x.h + y - 1) * x.w + xx - 1];
  const oh = Math.floor((ph - 3) / 2) + 1;
  const ow = Math.floor((pw - 3) / 2) + 1;
  const out = new Float64Array(x.c * oh * ow);
  for (let c = 0; c < x.c; c++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        let m = -Infinity;
        for (let ky = 0; ky < 3; ky++) {
          for (let kx = 0; kx < 3; kx++) m = Math.max(m, at(c, oy * 2 + ky, ox * 2 + kx));
        }
        out[(c * oh + oy) * ow + ox] = m;
      }
    }
  }
  return { c: x.c, h: oh, w: ow, data: out };
}

function spatialMean(x: Act): Float64Array {
  const hw = x.h * x.w;
  const out = new Float64Array(x.c);
  for (let c = 0; c < x.c; c++) {
    let s = 0;
    for (let j = c * hw; j < (c + 1) * hw; j++) s += x.data[j];
    out[c] = s / hw;
  }
  return out;
}

/**
 * Runs BiT on `images` (N, 3, H, W float32, already scaled to [-1, 1]) and returns every output
 * the converter offers, each as N x C row-major float64: `features`, `logits` (when the
 * checkpoint has a head), `root`, `block1`..`block4` (spatial means).
 */
export function referenceForward(
  weights: Map<string, NpyArray>,
  arch: BitArch,
  images: Float32Array,
  dims: [number, number, number, number],
): Partial<Record<BitOutput, Float64Array>> {
  const [N, C, H, W] = dims;
  const p = arch.prefix;
  const w = (key: string) => {
    const a = weights.get(key);
    if (!a) throw new Error(`missing ${key}`);
    return a;
  };
  const rows: Record<string, Float64Array[]> = {};
  const push = (name: string, v: Float64Array) => (rows[name] ??= []).push(v);
  for (let n = 0; n < N; n++) {
    const img: Act = {
      c: C,
      h: H,
      w: W,
      data: Float64Array.from(images.subarray(n * C * H * W, (n + 1) * C * H * W)),
    };
    let x = stdConv(img, w(`${p}root_block/standardized_conv2d/kernel`), 2, 3);
    x = padMaxPool(x);
    push("root", spatialMean(x));
    for (let b = 1; b <= 4; b++) {
      for (let u = 1; u <= arch.units[b - 1]; u++) {
        const k = (rest: string) => w(unitKey(p, b, u, rest));
        const stride = unitStride(b, u);
        const pre = relu(groupNorm(x, k("a/group_norm/gamma"), k("a/group_norm/beta"), 32));
        const projKey = unitKey(p, b, u, "a/proj/standardized_conv2d/kernel");
        const shortcut = weights.has(projKey) ? stdConv(pre, w(projKey), stride, 0) : x;
        let y = stdConv(pre, k("a/standardized_conv2d/kernel"), 1, 0);
        y = relu(groupNorm(y, k("b/group_norm/gamma"), k("b/group_norm/beta"), 32));
        y = stdConv(y, k("b/standardized_conv2d/kernel"), stride, 1);
        y = relu(groupNorm(y, k("c/group_norm/gamma"), k("c/group_norm/beta"), 32));
        y = stdConv(y, k("c/standardized_conv2d/kernel"), 1, 0);
        x = add(y, shortcut);
      }
      push(`block${b}`, spatialMean(x));
    }
    const feat = spatialMean(
      relu(groupNorm(x, w(`${p}group_norm/gamma`), w(`${p}group_norm/beta`), 32)),
    );
    push("features", feat);
    if (arch.numClasses > 0) {
      const kern = toFloat32(w(`${p}head/conv2d/kernel`));
      const bias = toFloat32(w(`${p}head/conv2d/bias`));
      const K = arch.numClasses;
      const logits = new Float64Array(K);
      for (let o = 0; o < K; o++) {
        let s = bias[o];
        for (let d = 0; d < feat.length; d++) s += feat[d] * kern[d * K + o];
        logits[o] = s;
      }
      push("logits", logits);
    }
  }
  const out: Partial<Record<BitOutput, Float64Array>> = {};
  for (const [name, list] of Object.entries(rows)) {
    const cols = list[0].length;
    const m = new Float64Array(N * cols);
    list.forEach((r, i) => m.set(r, i * cols));
    out[name as BitOutput] = m;
  }
  return out;
}
