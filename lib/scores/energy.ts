/**
 * Energy score (Liu et al. 2020): `T * logsumexp(logits / T)`, the negative free energy. The
 * released MOS code computes `temper * torch.logsumexp(logits / temper, dim=1)` with T = 1.
 *
 * @module
 */
import type { Matrix } from "../matrix.ts";
import { logsumexpRows } from "../softmax.ts";

/** Options for {@linkcode energy}. */
export interface EnergyOptions {
  /** Temperature T; the paper uses 1. */
  temperature?: number;
}

/**
 * Energy score per row of an N x C logits matrix (higher = more in-distribution).
 *
 * @example
 * ```ts
 * import { matrix } from "../matrix.ts";
 * energy(matrix(1, 2, new Float32Array([0, 0]))); // [ln 2]
 * ```
 */
export function energy(logits: Matrix, options: EnergyOptions = {}): Float32Array {
  const t = options.temperature ?? 1;
  const out = logsumexpRows(logits, t);
  if (t !== 1) { for (let i = 0; i < out.length; i++) out[i] = t * out[i]; }
  return out;
}
