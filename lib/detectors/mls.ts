/**
 * MaxLogit (MLS), Hendrycks et al., "Scaling Out-of-Distribution Detection for Real-World
 * Settings", ICML 2022: score = `max_j z_j`, the largest unnormalised logit. Checked against
 * OpenOOD `openood/postprocessors/maxlogit_postprocessor.py` (`conf, pred = torch.max(output, 1)`).
 * No hyperparameters.
 *
 * @module
 */
import type { Matrix } from "../matrix.ts";

/** MaxLogit score per row of N x C logits (higher = more in-distribution; NaN rows give NaN). */
export function maxLogit(logits: Matrix): Float32Array {
  const { rows, cols, data } = logits;
  const out = new Float32Array(rows);
  for (let i = 0; i < rows; i++) {
    const base = i * cols;
    let m = -Infinity;
    let nan = false;
    for (let j = 0; j < cols; j++) {
      const v = data[base + j];
      if (v > m) m = v;
      else if (v !== v) nan = true;
    }
    out[i] = nan ? NaN : m;
  }
  return out;
}
