/**
 * RMDS (relative Mahalanobis distance), Ren et al., "A Simple Fix to Mahalanobis Distance for
 * Improving Near-OOD Detection", 2021: the class-conditional Mahalanobis distance minus the
 * distance under one "background" Gaussian fitted to all training features,
 * `score = max_c -( MD_c(x) - MD_0(x) ) = -min_c MD_c(x) + MD_0(x)`, with
 * `MD_c(x) = (x - mu_c)^T S^-1 (x - mu_c)` (shared within-class covariance S) and
 * `MD_0(x) = (x - mu_0)^T S_0^-1 (x - mu_0)` (mean and covariance of all rows). Checked against
 * OpenOOD `openood/postprocessors/rmds_postprocessor.py` (class means + `EmpiricalCovariance` of
 * the class-centred features; `whole_mean`, `EmpiricalCovariance` of all centred features;
 * `class_scores[:, c] - background_scores`, max over c). No hyperparameters.
 *
 * Both Gaussians are fitted by the streaming Mahalanobis fit of lib/ort/mahalanobis_kernel.ts
 * (two passes each over a {@linkcode RowSource}, D x D float64 accumulators), the background one
 * as a single class; scoring is two chunked onnxruntime Mahalanobis passes.
 *
 * @module
 */
import type { Matrix } from "../matrix.ts";
import type { ChunkOptions, RowSource } from "../ort/linear.ts";
import {
  type FastFitOptions,
  fitMahalanobisFast,
  mahalanobisMinDistanceFast,
  type MahalanobisModel,
} from "../ort/mahalanobis_kernel.ts";

/** A fitted RMDS detector: the class-conditional and the background Gaussian. */
export interface RmdsModel {
  classes: MahalanobisModel;
  background: MahalanobisModel;
}

/** Fits RMDS on streamed labelled ID training features (labels in [0, numClasses)). */
export async function fitRmds(
  train: RowSource,
  labels: Int32Array,
  numClasses: number,
  opts: FastFitOptions = {},
): Promise<RmdsModel> {
  const classes = await fitMahalanobisFast(train, labels, numClasses, opts);
  const background = await fitMahalanobisFast(train, new Int32Array(train.rows), 1, opts);
  return {
    classes: { means: classes.means, precision: classes.precision },
    background: { means: background.means, precision: background.precision },
  };
}

/** RMDS score per row (higher = more in-distribution). */
export async function rmds(
  model: RmdsModel,
  features: Matrix | RowSource,
  opts: ChunkOptions = {},
): Promise<Float32Array> {
  // The distances themselves (OpenOOD's scale, -1 x), not the paper Mahalanobis score (-0.5 x):
  // min_c MD_c, and MD_0 (the background model has one class).
  const cls = await mahalanobisMinDistanceFast(model.classes, features, opts);
  const bg = await mahalanobisMinDistanceFast(model.background, features, opts);
  for (let i = 0; i < cls.length; i++) cls[i] = bg[i] - cls[i];
  return cls;
}
