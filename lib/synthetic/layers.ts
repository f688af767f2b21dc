/**
 * Synthetic stand-ins for the pooled intermediate layers (root, block1..block4) that extraction
 * exports from a real backbone, so the demo can run the multi-layer Mahalanobis detector. The
 * synthetic benchmark has no network, hence no layers; these are derived from its features:
 *
 *   layer_l(x) = max(0, x W_l^T / sqrt(D) + sigma_l * rms * e),  e ~ N(0, 1) per entry,
 *
 * with W_l a fixed seeded Gaussian d_l x D matrix (shared by every set), `rms` the root mean
 * square of the training features (passed in, so that every set gets the same noise scale), and a
 * noise level that falls with depth (shallow layers see the object evidence through more noise,
 * as real shallow layers carry less class information). Widths follow BiT's 1:4:8:16:32
 * channel ratios, scaled down. They are NOT features of any network; tables built on them say so.
 *
 * @module
 */
import type { Matrix } from "../matrix.ts";
import { linearLogits } from "../ort/linear.ts";
import { createRng } from "../random.ts";

/** Layer names, widths as a fraction of D, and noise levels (relative to the feature RMS). */
export const SYNTHETIC_LAYER_SPECS: readonly { name: string; width: number; noise: number }[] =
  Object.freeze([
    { name: "root", width: 1 / 32, noise: 2.0 },
    { name: "block1", width: 1 / 8, noise: 1.5 },
    { name: "block2", width: 1 / 4, noise: 1.0 },
    { name: "block3", width: 1 / 2, noise: 0.6 },
    { name: "block4", width: 1, noise: 0.3 },
  ]);

/** Options of {@linkcode syntheticLayers}. */
export interface SyntheticLayerOptions {
  /** Seed of the projections (the same for every set of one benchmark). */
  seed: number;
  /** Index of the set (train 0, id 1, ...): picks the set's own noise stream. */
  stream: number;
  /** Root mean square of the training features. */
  rms: number;
  threads?: number;
}

/** Root mean square of every entry of `m` (float64 accumulation). */
export function rootMeanSquare(m: Matrix): number {
  let s = 0;
  for (let i = 0; i < m.data.length; i++) s += m.data[i] * m.data[i];
  return Math.sqrt(s / Math.max(1, m.data.length));
}

/**
 * The five synthetic layers of a set's N x D features, in {@linkcode SYNTHETIC_LAYER_SPECS} order.
 * Same inputs and options, same bytes.
 */
export async function syntheticLayers(
  features: Matrix,
  options: SyntheticLayerOptions,
): Promise<{ name: string; matrix: Matrix }[]> {
  const D = features.cols;
  const proj = createRng(options.seed);
  // Noise streams far from the projection seed's so no set's noise replays the projections.
  const noise = createRng((options.seed * 1024 + 1 + options.stream) % Number.MAX_SAFE_INTEGER);
  const out: { name: string; matrix: Matrix }[] = [];
  for (const spec of SYNTHETIC_LAYER_SPECS) {
    const d = Math.max(2, Math.round(spec.width * D));
    const w = new Float32Array(d * D);
    const scale = 1 / Math.sqrt(D);
    for (let i = 0; i < w.length; i++) w[i] = proj.normal() * scale;
    const y = await linearLogits(features, { data: w, rows: d, cols: D }, new Float32Array(d), {
      threads: options.threads,
    });
    const sigma = spec.noise * options.rms;
    for (let i = 0; i < y.data.length; i++) {
      const v = y.data[i] + sigma * noise.normal();
      y.data[i] = v > 0 ? v : 0;
    }
    out.push({ name: spec.name, matrix: y });
  }
  return out;
}
