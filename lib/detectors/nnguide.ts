/**
 * NNGuide, Park et al., "Nearest Neighbor Guidance for Out-of-Distribution Detection", ICCV 2023:
 * a guide bank of ID training features, each L2-normalised and multiplied by its own energy
 * confidence (`g_i = x_i / |x_i| * logsumexp(z_i)`), and the score of a test sample is its energy
 * times the mean inner product of its normalised feature with its K most similar guides,
 * `score = logsumexp(z) * mean_{top-K} (x / |x|) . g_i`. Checked against OpenOOD
 * `openood/postprocessors/nnguide_postprocessor.py` (bank = the first alpha fraction of the
 * shuffled `train` loader, `faiss.IndexFlatIP` search, `D.mean(axis=1)`, `conf * energy`) and
 * `configs/postprocessors/nnguide.yml` (K = 100, alpha = 0.01).
 *
 * The bank here is a seeded uniform sample of ceil(alpha N) training rows (the shuffled loader's
 * first batches are such a sample); the top-K search streams over the bank with the KNN kernel
 * (knn.ts), so no N_test x N_bank matrix is formed.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import type { Matrix } from "../matrix.ts";
import { type ChunkOptions, linearLogits, matrixSource, type RowSource } from "../ort/linear.ts";
import { createRng } from "../random.ts";
import {
  checkFeatures,
  checkHeadKind,
  checkLogits,
  type DetectorHead,
  energyScore,
} from "./common.ts";
import { type KnnSearchOptions, l2NormalizeRows, streamTopK } from "./knn.ts";

/** A fitted NNGuide bank. */
export interface NnGuideModel {
  /** M x D guides `x / |x| * energy(x)`. */
  bank: Matrix;
  k: number;
  /** Training rows the bank was drawn from (ascending). */
  rows: Int32Array;
}

/** Seeded sample of `m` distinct indices of [0, n), ascending (partial Fisher-Yates). */
export function sampleRows(n: number, m: number, seed: number): Int32Array {
  const rng = createRng(seed);
  const all = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < m; i++) {
    const j = i + rng.int(n - i);
    const t = all[i];
    all[i] = all[j];
    all[j] = t;
  }
  return all.slice(0, m).sort();
}

/** Builds the guide bank from given bank rows (features) using the head's energies. */
export async function nnGuideBank(
  bankFeatures: Matrix,
  head: DetectorHead,
  opts: ChunkOptions = {},
): Promise<Matrix> {
  const energy = energyScore(await linearLogits(bankFeatures, head.weight, head.bias, opts));
  // An infinite energy (logits that overflow float32) would make its guide Inf and every inner
  // product with it Inf or NaN, and NaN keys never enter the top-K: stop here instead.
  for (let i = 0; i < energy.length; i++) {
    if (energy[i] - energy[i] !== 0) {
      throw new DataError(
        `NNGuide fit: the energy of bank row ${i} is ${energy[i]}: the head's logits of that ` +
          `training row overflow float32; rescale the training features or retrain the head.`,
      );
    }
  }
  const { normalized } = await l2NormalizeRows(bankFeatures, opts);
  const d = bankFeatures.cols;
  for (let i = 0; i < bankFeatures.rows; i++) {
    for (let j = 0; j < d; j++) normalized.data[i * d + j] *= energy[i];
  }
  return normalized;
}

/** Fits NNGuide: draws ceil(alpha N) training rows (seeded) and builds the guide bank. */
export async function fitNnGuide(
  train: RowSource,
  head: DetectorHead,
  options: { k?: number; alpha?: number; seed?: number } & ChunkOptions = {},
): Promise<NnGuideModel> {
  checkHeadKind("nnguide", "flat", head.kind);
  checkFeatures("NNGuide", train, head);
  const k = options.k ?? 100;
  const alpha = options.alpha ?? 0.01;
  if (!(alpha > 0 && alpha <= 1)) {
    throw new RangeError(`NNGuide alpha must be in (0, 1], got ${alpha}`);
  }
  const m = Math.ceil(alpha * train.rows);
  if (!Number.isInteger(k) || k < 1 || k > m) {
    throw new DataError(
      `NNGuide: K = ${k} needs at least K bank rows but alpha = ${alpha} of ${train.rows} ` +
        `training rows gives ${m}; lower K or raise alpha.`,
    );
  }
  const rows = sampleRows(train.rows, m, options.seed ?? 0);
  const d = train.cols;
  const x = new Float32Array(m * d);
  const one = new Float32Array(d);
  for (let i = 0; i < m; i++) {
    await train.readRows(rows[i], 1, one);
    x.set(one, i * d);
  }
  const bank = await nnGuideBank({ data: x, rows: m, cols: d }, head, options);
  return { bank, k, rows };
}

/** NNGuide score per row from features and their logits (higher = more in-distribution). */
export async function nnGuide(
  model: NnGuideModel,
  features: Matrix,
  logits: Matrix,
  opts: KnnSearchOptions = {},
): Promise<Float32Array> {
  checkLogits("NNGuide", logits, features.rows, logits.cols);
  const { normalized } = await l2NormalizeRows(features, opts);
  const st = await streamTopK(normalized, matrixSource(model.bank), model.k, "ip", opts);
  const energy = energyScore(logits);
  const k = model.k;
  for (let i = 0; i < features.rows; i++) {
    let s = 0;
    for (let j = 0; j < k; j++) s += st.values[i * k + j];
    energy[i] *= s / k;
  }
  return energy;
}
