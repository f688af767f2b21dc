/**
 * Residual, the feature-only half of ViM (Wang et al., "ViM: Out-Of-Distribution with
 * Virtual-logit Matching", CVPR 2022, the "Residual" baseline of its Table 1):
 * `score = -|| (x - u) NS ||`, the norm of the feature's component outside the `dim`-dimensional
 * principal subspace of ID features (see principal_space.ts). Checked against OpenOOD
 * `openood/postprocessors/residual_postprocessor.py` (`score_ood = -norm((x - u) @ NS)`) and
 * `configs/postprocessors/residual.yml` (dim = 512; no sweep there).
 *
 * Which ID features: OpenOOD's `setup` fits the subspace on `id_loader_dict['val']`, its ID-val
 * split (unlike ViM, which reads `['train']`). The registry entry (registry.ts) does the same
 * under the held-out protocol and fits on the training set under the paper protocol, which has no
 * ID-val split of the evaluated set; {@linkcode fitResidual} takes whichever rows it is given.
 *
 * @module
 */
import type { Matrix } from "../matrix.ts";
import type { ChunkOptions, RowSource } from "../ort/linear.ts";
import type { DetectorHead } from "./common.ts";
import {
  fitPrincipalSpace,
  type PrincipalSpace,
  residualBasis,
  residualNorms,
} from "./principal_space.ts";

/** A fitted Residual detector. */
export interface ResidualModel {
  origin: Float64Array;
  /** D x (D - dim) residual basis. */
  basis: Matrix;
}

/** Residual model from a fitted principal space (cheap: sweeps over `dim` reuse one space). */
export function residualFromSpace(space: PrincipalSpace, dim = 512): ResidualModel {
  return { origin: space.origin, basis: residualBasis(space, dim) };
}

/** Fits Residual on streamed ID features (ID-val or training rows; see the module doc). */
export async function fitResidual(
  train: RowSource,
  head: DetectorHead,
  dim = 512,
  opts: ChunkOptions = {},
): Promise<ResidualModel> {
  return residualFromSpace(await fitPrincipalSpace(train, head, opts), dim);
}

/** Residual score per row (higher = more in-distribution). */
export async function residual(
  model: ResidualModel,
  features: Matrix,
  opts: ChunkOptions = {},
): Promise<Float32Array> {
  const r = await residualNorms(features, model.origin, model.basis, opts);
  for (let i = 0; i < r.length; i++) r[i] = -r[i];
  return r;
}
