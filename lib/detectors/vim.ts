/**
 * ViM, Wang et al., "ViM: Out-Of-Distribution with Virtual-logit Matching", CVPR 2022:
 * `score = logsumexp_j z_j - alpha || (x - u) NS ||` (energy minus the scaled virtual logit), where
 * NS spans the residual space of the ID training features (principal_space.ts) and
 * `alpha = mean_i max_j z_ij / mean_i || (x_i - u) NS ||` over the ID training set. Checked against
 * OpenOOD `openood/postprocessors/vim_postprocessor.py` (`_compute_NS_and_alpha`,
 * `score_ood = -vlogit_ood + energy_ood`) and `configs/postprocessors/vim.yml` (dim 256, sweep
 * 256/1000).
 *
 * @module
 */
import { DataError } from "../errors.ts";
import type { Matrix } from "../matrix.ts";
import type { ChunkOptions, RowSource } from "../ort/linear.ts";
import {
  checkLogits,
  type DetectorHead,
  energyScore,
  forEachFeatureLogitsChunk,
} from "./common.ts";
import {
  fitPrincipalSpace,
  type PrincipalSpace,
  residualBasis,
  residualNorms,
} from "./principal_space.ts";

/** A fitted ViM detector. */
export interface VimModel {
  origin: Float64Array;
  /** D x (D - dim) residual basis. */
  basis: Matrix;
  alpha: number;
}

/**
 * ViM model for one `dim` from a fitted space: one more pass over the training rows for alpha
 * (mean max-logit over mean residual norm).
 */
export async function vimFromSpace(
  space: PrincipalSpace,
  train: RowSource,
  head: DetectorHead,
  dim = 256,
  opts: ChunkOptions = {},
): Promise<VimModel> {
  const basis = residualBasis(space, dim);
  let sumMax = 0;
  let sumRes = 0;
  await forEachFeatureLogitsChunk(train, head, async (_s, x, logits) => {
    for (let i = 0; i < logits.rows; i++) {
      let m = -Infinity;
      for (let j = 0; j < logits.cols; j++) m = Math.max(m, logits.data[i * logits.cols + j]);
      sumMax += m;
    }
    const r = await residualNorms(x, space.origin, basis, { ...opts, chunkRows: x.rows });
    for (let i = 0; i < r.length; i++) sumRes += r[i];
  }, opts);
  if (!(sumRes > 0)) {
    throw new DataError(
      `ViM fit: the training features have no residual outside the top ${dim} principal ` +
        `directions; use a smaller dim.`,
    );
  }
  return { origin: space.origin, basis, alpha: sumMax / sumRes };
}

/** Fits ViM on streamed ID training features. */
export async function fitVim(
  train: RowSource,
  head: DetectorHead,
  dim = 256,
  opts: ChunkOptions = {},
): Promise<VimModel> {
  return vimFromSpace(await fitPrincipalSpace(train, head, opts), train, head, dim, opts);
}

/** ViM score per row from features and their logits (higher = more in-distribution). */
export async function vim(
  model: VimModel,
  features: Matrix,
  logits: Matrix,
  opts: ChunkOptions = {},
): Promise<Float32Array> {
  checkLogits("ViM", logits, features.rows, logits.cols);
  const energy = energyScore(logits);
  const r = await residualNorms(features, model.origin, model.basis, opts);
  for (let i = 0; i < r.length; i++) energy[i] -= model.alpha * r[i];
  return energy;
}
