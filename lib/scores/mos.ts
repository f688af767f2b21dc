/**
 * The MOS score (paper eq. 4): `-min_k p_k(others)`, where `p_k(others)` is the probability of the
 * "others" slot (slice index 0) in group k's own softmax. An ID sample is confidently placed in one
 * group, so that group's "others" probability is small; an OOD sample leaves "others" high in every
 * group. The released `test_mos.py` takes `max_k (-softmax(group_k)[:, 0])`, the same quantity.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import type { GroupLayout } from "../groups.ts";
import type { Matrix } from "../matrix.ts";

/**
 * MOS score per row of an N x O group-head logits matrix (O = C + K, the layout of `layout`);
 * higher = more in-distribution, in [-1, 0).
 */
export function mos(layout: GroupLayout, logits: Matrix): Float32Array {
  if (logits.cols !== layout.numOutputs) {
    throw new DataError(
      `Group logits have ${logits.cols} columns but the grouping needs ${layout.numOutputs} ` +
        `(${layout.numClasses} classes + ${layout.numGroups} "others"); use the head's own groups`,
    );
  }
  const { rows, cols, data } = logits;
  const K = layout.numGroups;
  const starts = layout.starts;
  const sizes = layout.sizes;
  const out = new Float32Array(rows);
  for (let i = 0; i < rows; i++) {
    const row = i * cols;
    let minOthers = Infinity;
    let nan = false;
    for (let k = 0; k < K; k++) {
      const s = row + starts[k];
      const e = s + sizes[k];
      let max = -Infinity;
      for (let j = s; j < e; j++) if (data[j] > max) max = data[j];
      let sum = 0;
      for (let j = s; j < e; j++) sum += Math.exp(data[j] - max);
      const others = Math.exp(data[s] - max) / sum;
      if (others < minOthers) minOthers = others;
      else if (others !== others) nan = true;
    }
    // NaN logits give a NaN score (as torch.max would), which the metrics then reject loudly.
    out[i] = nan ? NaN : -minOthers;
  }
  return out;
}
