/**
 * Buckets of groups with similar slice lengths, so that a group softmax over many groups can run
 * as a few padded, reshaped tensor ops instead of one node chain per group. Used by the training
 * step (lib/train/step_graph.ts) and the MOS kernel (lib/ort/logit_scores.ts).
 *
 * @module
 */

/**
 * Packs groups into buckets for a padded group softmax. Groups are sorted by slice length
 * (descending) and cut into contiguous runs minimising
 * `sum(count_b x width_b) + overhead x buckets` (exact dynamic programme), where width is the
 * longest slice of the run and `overhead` is the cost of one more bucket in padded columns.
 * Returns the group ids of each bucket, longest first.
 *
 * @example
 * ```ts
 * planGroupBuckets([3, 5, 3, 5], 0); // [[1, 3], [0, 2]]
 * ```
 */
export function planGroupBuckets(sizes: ArrayLike<number>, overhead: number): number[][] {
  const K = sizes.length;
  const order = Array.from({ length: K }, (_, k) => k).sort((a, b) => sizes[b] - sizes[a] || a - b);
  const best = new Float64Array(K + 1).fill(Infinity);
  const cut = new Int32Array(K + 1);
  best[0] = 0;
  for (let j = 1; j <= K; j++) {
    for (let i = 0; i < j; i++) {
      const c = best[i] + (j - i) * sizes[order[i]] + overhead;
      if (c < best[j]) {
        best[j] = c;
        cut[j] = i;
      }
    }
  }
  const buckets: number[][] = [];
  for (let j = K; j > 0; j = cut[j]) buckets.push(order.slice(cut[j], j));
  return buckets.reverse();
}
