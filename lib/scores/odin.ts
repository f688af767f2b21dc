/**
 * ODIN (Liang et al. 2018) on cached logits: `max_j softmax(logits / T)_j` with T = 1000.
 *
 * @module
 */
import type { Matrix } from "../matrix.ts";
import { maxSoftmaxRows } from "../softmax.ts";

/**
 * Why this ODIN has no input perturbation; tasks print it next to ODIN results.
 */
export const ODIN_NOTE =
  "ODIN here is temperature scaling only (T = 1000, perturbation epsilon = 0): the released MOS " +
  "code ran ODIN with epsilon_odin = 0 by default, and input perturbation needs gradients " +
  "through the backbone, which cached features do not have.";

/** ODIN's softmax temperature in the paper and the released code. */
export const ODIN_TEMPERATURE = 1000;

/** Options for {@linkcode odin}. */
export interface OdinOptions {
  /** Softmax temperature; the paper and the released code use 1000. */
  temperature?: number;
}

/**
 * ODIN score per row of an N x C logits matrix (higher = more in-distribution). See
 * {@linkcode ODIN_NOTE} for why there is no input perturbation.
 */
export function odin(logits: Matrix, options: OdinOptions = {}): Float32Array {
  return maxSoftmaxRows(logits, options.temperature ?? ODIN_TEMPERATURE);
}
