/**
 * Pieces both k-means paths share (lib/grouping/kmeans.ts in Gram space, kmeans_direct.ts in
 * feature space): re-seeding empty clusters and the canonical result order.
 *
 * @module
 */

/** A clustering in canonical order (what `kmeansGroups` returns). */
export interface Clustering {
  /** Class ids per cluster, ascending; clusters ordered by their smallest class id. */
  groups: number[][];
  /** Sum over classes of the squared distance to their cluster mean. */
  inertia: number;
  /** Index into `groups` of each class. */
  assignments: Int32Array;
  /** Reassignment rounds run after seeding. */
  iterations: number;
}

/**
 * Re-seeds each empty cluster (ascending) with the point farthest from its nearest centroid among
 * clusters that keep at least one other point; ties by smallest index.
 */
export function fillEmpty(
  labels: Int32Array,
  sizes: Int32Array,
  dist: Float64Array,
  k: number,
): void {
  for (let t = 0; t < k; t++) {
    if (sizes[t] > 0) continue;
    let far = -1;
    for (let i = 0; i < labels.length; i++) {
      if (sizes[labels[i]] < 2) continue;
      if (far === -1 || dist[i] > dist[far]) far = i;
    }
    sizes[labels[far]]--;
    labels[far] = t;
    sizes[t] = 1;
    dist[far] = -Infinity;
  }
}

/** Groups from cluster labels: class ids ascending, clusters ordered by their smallest class id. */
export function toResult(
  labels: Int32Array,
  k: number,
  inertia: number,
  iterations: number,
): Clustering {
  const clusters: number[][] = Array.from({ length: k }, () => []);
  labels.forEach((t, i) => clusters[t].push(i));
  clusters.sort((a, b) => a[0] - b[0]);
  const assignments = new Int32Array(labels.length);
  clusters.forEach((g, idx) => g.forEach((c) => (assignments[c] = idx)));
  return { groups: clusters, inertia, assignments, iterations };
}
