/**
 * Seeded random BiT ResNet-v2 weights in the `.npz` key layout of the BiT release, for tests,
 * benchmarks and demos where the real checkpoints are not available.
 *
 * @module
 */
import type { NpyArray } from "../io/npy.ts";
import { createRng } from "../random.ts";
import { unitKey, unitStride } from "./arch.ts";

/** Options for {@linkcode randomBitWeights}. */
export interface RandomBitOptions {
  /** Units per block, e.g. `[3, 4, 6, 3]` for R50. */
  units: readonly [number, number, number, number];
  /** Root channels: 64 x width factor for real models; tests use small multiples of 32. */
  rootChannels: number;
  /** Head classes; 0 writes no head. */
  numClasses?: number;
  seed?: number;
}

/**
 * Weights with the published key names and HWIO kernels: kernels ~ N(0, 1) (standardisation
 * removes their scale), GroupNorm gamma ~ 1 + 0.2 N(0, 1), beta ~ 0.2 N(0, 1), head ~ N(0, 0.01).
 */
export function randomBitWeights(opts: RandomBitOptions): Map<string, NpyArray> {
  const rng = createRng(opts.seed ?? 0);
  const out = new Map<string, NpyArray>();
  const put = (key: string, shape: number[], f: () => number) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = f();
    out.set(key, { dtype: "<f4", shape, data });
  };
  const normal = () => rng.normal();
  const gamma = () => 1 + 0.2 * rng.normal();
  const beta = () => 0.2 * rng.normal();
  const p = "resnet/";
  const c0 = opts.rootChannels;
  put(`${p}root_block/standardized_conv2d/kernel`, [7, 7, 3, c0], normal);
  let cin = c0;
  for (let b = 1; b <= 4; b++) {
    const cmid = c0 * 2 ** (b - 1);
    const cout = 4 * cmid;
    for (let u = 1; u <= opts.units[b - 1]; u++) {
      const k = (rest: string) => unitKey(p, b, u, rest);
      put(k("a/group_norm/gamma"), [cin], gamma);
      put(k("a/group_norm/beta"), [cin], beta);
      put(k("a/standardized_conv2d/kernel"), [1, 1, cin, cmid], normal);
      put(k("b/group_norm/gamma"), [cmid], gamma);
      put(k("b/group_norm/beta"), [cmid], beta);
      put(k("b/standardized_conv2d/kernel"), [3, 3, cmid, cmid], normal);
      put(k("c/group_norm/gamma"), [cmid], gamma);
      put(k("c/group_norm/beta"), [cmid], beta);
      put(k("c/standardized_conv2d/kernel"), [1, 1, cmid, cout], normal);
      if (unitStride(b, u) !== 1 || cin !== cout) {
        put(k("a/proj/standardized_conv2d/kernel"), [1, 1, cin, cout], normal);
      }
      cin = cout;
    }
  }
  put(`${p}group_norm/gamma`, [cin], gamma);
  put(`${p}group_norm/beta`, [cin], beta);
  const K = opts.numClasses ?? 0;
  if (K > 0) {
    put(`${p}head/conv2d/kernel`, [1, 1, cin, K], () => 0.01 * rng.normal());
    put(`${p}head/conv2d/bias`, [K], () => 0.01 * rng.normal());
  }
  return out;
}
