/**
 * ODIN (Liang et al. 2018) on cached logits: `max_j softmax(logits / T)_j` with T = 1000.
 *
 * @module
 */
import type { Matrix } from "../matrix.ts";
import { maxSoftmaxRows } from "../softmax.ts";

/** ODIN's softmax temperature in the paper and the released code. */
export const ODIN_TEMPERATURE = 1000;

/** Options for {@linkcode odin}. */
export interface OdinOptions {
  /** Softmax temperature; the paper and the released code use 1000. */
  temperature?: number;
}

/**
 * ODIN score per row of an N x C logits matrix (higher = more in-distribution). No input
 * perturbation: the registry entry's note (lib/detectors/paper_logit.ts) says why.
 */
export function odin(logits: Matrix, options: OdinOptions = {}): Float32Array {
  return maxSoftmaxRows(logits, options.temperature ?? ODIN_TEMPERATURE);
}
