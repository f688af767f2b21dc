/**
 * Feature clustering for the Table 2 ablation: k-means over the class means of the penultimate
 * features (k-means++ seeding, Lloyd iterations, several restarts, best inertia kept).
 *
 * Distances use the expansion ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2 with the centroid c of a
 * cluster S the mean of its members, so x_i.c = (1/|S|) sum_{j in S} G_ij and
 * ||c||^2 = (1/|S|^2) sum_{j,l in S} G_jl for the Gram matrix G = X X^T. G is computed once per
 * call (through an ORT Gemm when C*C*D is large, TypeScript loops when small) after centring X,
 * which leaves k-means unchanged and shrinks the float32 cancellation in G. Each Lloyd iteration is
 * then O(C^2 + C K), independent of D. Measured here (2 shared cores) for C = 1000, D = 2048: the
 * explicit X C^T product through ORT takes ~27 ms per iteration at K = 789, a Gram-space iteration
 * ~3 ms, and a whole 10-restart clustering 50-150 ms for K from 2 to 789 (Gram included, ~31 ms).
 *
 * Determinism: one `createRng(seed)` drives all restarts; ties go to the lowest cluster index (a
 * point keeps its cluster on an exact tie); an empty cluster is re-seeded with the point farthest
 * from its nearest centroid among clusters with two or more points (ties by smallest class id).
 * Groups list class ids ascending and are ordered by their smallest class id, so the result does
 * not depend on cluster numbering.
 *
 * @module
 */
import { DataError, UsageError } from "../errors.ts";
import { type Matrix, matrix } from "../matrix.ts";
import { createRng, type Rng } from "../random.ts";
import { buildModel, node } from "../ort/graph.ts";
import { createSession, f32Tensor } from "../ort/session.ts";
import { fillEmpty, toResult } from "./kmeans_common.ts";
import { kmeansDirect } from "./kmeans_direct.ts";

/** Options for {@linkcode kmeansGroups}. */
export interface KMeansOptions {
  /** Seed for k-means++ seeding across all restarts. */
  seed: number;
  /** Independent k-means++ starts; the lowest inertia wins (first on ties). Default 10. */
  restarts?: number;
  /** Lloyd iterations per start. Default 300. */
  maxIter?: number;
  /** Gram matrix backend: ORT above {@linkcode ORT_GRAM_MIN_MACS} multiply-adds ("auto"), or forced. */
  gram?: "auto" | "ort" | "typescript";
  /** ORT intra-op threads (default: all cores). */
  threads?: number;
  /**
   * Where distances are computed: the C x C Gram matrix ("gram"), or feature space through ORT
   * products (lib/grouping/kmeans_direct.ts, "features"); "auto" (default) uses the Gram matrix
   * while it takes at most {@linkcode GRAM_MAX_BYTES}.
   */
  space?: "auto" | "gram" | "features";
}

/**
 * Largest float64 Gram matrix "auto" builds: 512 MiB, C <= 8,192 classes. ImageNet-21k
 * (C = 21,843, 3.8 GB of Gram matrix and O(C^2) per iteration) clusters in feature space.
 */
export const GRAM_MAX_BYTES = 512 * 2 ** 20;

/** Result of {@linkcode kmeansGroups}. */
export interface KMeansResult {
  /** Class ids per cluster, ascending; clusters ordered by their smallest class id. */
  groups: number[][];
  /** Sum over classes of the squared distance to their cluster mean (the best restart's). */
  inertia: number;
  /** Index into `groups` of each class. */
  assignments: Int32Array;
  /** Reassignment rounds the best restart ran after k-means++ seeding (0: the seeding was stable). */
  iterations: number;
}

/**
 * Below this many multiply-adds (C * C * D / 2, the Gram matrix's upper triangle) the TypeScript
 * Gram loops beat building an ORT session. Measured here (2 shared cores): C = 300, D = 256 takes
 * 7.9 ms in TypeScript vs 4.4 ms through ORT, C = 200, D = 128 2.0 vs 2.4 ms, and C = 1000,
 * D = 2048 1.06 s vs 31 ms (ORT times include building the session).
 */
export const ORT_GRAM_MIN_MACS = 4_000_000;

/**
 * Clusters the rows of `classMeans` (C x D) into `k` groups. Throws `UsageError` when k is not an
 * integer in [2, C] and `DataError` when a class mean is not finite.
 *
 * @example
 * ```ts
 * import { matrix } from "../matrix.ts";
 * // Per-class mean features of 4 classes (C = 4, D = 2): two tight pairs.
 * const means = matrix(4, 2, new Float32Array([0, 0, 0, 1, 10, 10, 10, 11]));
 * const { groups } = await kmeansGroups(means, 2, { seed: 0 });
 * // groups holds classes [0, 1] and [2, 3], one group each
 * ```
 */
export async function kmeansGroups(
  classMeans: Matrix,
  k: number,
  options: KMeansOptions,
): Promise<KMeansResult> {
  checkK(k, classMeans.rows, "feature clustering");
  const restarts = options.restarts ?? 10;
  const maxIter = options.maxIter ?? 300;
  if (!Number.isInteger(restarts) || restarts < 1) {
    throw new UsageError(`k-means restarts must be a positive integer, got ${restarts}`);
  }
  if (!Number.isInteger(maxIter) || maxIter < 1) {
    throw new UsageError(`k-means maxIter must be a positive integer, got ${maxIter}`);
  }
  for (let i = 0; i < classMeans.data.length; i++) {
    if (!Number.isFinite(classMeans.data[i])) {
      throw new DataError(
        `Class mean ${Math.floor(i / classMeans.cols)} has a non-finite value (${
          classMeans.data[i]
        }); check the features for NaN/Inf before clustering`,
      );
    }
  }
  const space = options.space ?? "auto";
  const C = classMeans.rows;
  if (space === "features" || (space === "auto" && C * C * 8 > GRAM_MAX_BYTES)) {
    return await kmeansDirect(centreRows(classMeans), k, {
      rng: createRng(options.seed),
      restarts,
      maxIter,
      threads: options.threads,
    });
  }
  const gram = await centredGram(classMeans, options);
  return kmeansFromGram(gram, classMeans.rows, k, createRng(options.seed), restarts, maxIter);
}

/**
 * k-means on a C x C Gram matrix (row-major float64) of the points: the core of
 * {@linkcode kmeansGroups}, exposed for kernels other than the linear one.
 */
export function kmeansFromGram(
  gram: Float64Array,
  numPoints: number,
  k: number,
  rng: Rng,
  restarts = 10,
  maxIter = 300,
): KMeansResult {
  checkK(k, numPoints, "feature clustering");
  if (gram.length !== numPoints * numPoints) {
    throw new RangeError(`Gram matrix has ${gram.length} values, expected ${numPoints}^2`);
  }
  let best: { labels: Int32Array; inertia: number; iterations: number } | null = null;
  for (let r = 0; r < restarts; r++) {
    const run = lloyd(gram, numPoints, k, seedPlusPlus(gram, numPoints, k, rng), maxIter);
    if (best === null || run.inertia < best.inertia) best = run;
  }
  return toResult(best!.labels, k, best!.inertia, best!.iterations);
}

/**
 * The Gram matrix X X^T of the centred rows of `x` (column means subtracted), as float64. Uses ORT
 * above {@linkcode ORT_GRAM_MIN_MACS} multiply-adds unless `options.gram` forces a backend.
 */
export async function centredGram(
  x: Matrix,
  options: { gram?: "auto" | "ort" | "typescript"; threads?: number } = {},
): Promise<Float64Array> {
  const C = x.rows;
  const D = x.cols;
  const centred = centreRows(x).data;
  const mode = options.gram ?? "auto";
  const useOrt = mode === "ort" || (mode === "auto" && (C * C * D) / 2 >= ORT_GRAM_MIN_MACS);
  if (!useOrt) return gramReference(matrix(C, D, centred));
  const session = await createSession(
    buildModel({
      name: "gram",
      inputs: [{ name: "x", type: "float32", shape: ["c", "d"] }],
      outputs: [{ name: "g", type: "float32", shape: ["c", "c"] }],
      nodes: [node("Gemm", ["x", "x"], ["g"], { transB: 1 })],
    }),
    { threads: options.threads },
  );
  try {
    const out = await session.run({ x: f32Tensor(centred, [C, D]) });
    const g = out.g.data as Float32Array;
    const G = new Float64Array(C * C);
    // ORT's two triangles can differ in the last bit; symmetrise so d(i, j) = d(j, i) exactly.
    for (let i = 0; i < C; i++) {
      G[i * C + i] = g[i * C + i];
      for (let j = i + 1; j < C; j++) {
        const v = 0.5 * (g[i * C + j] + g[j * C + i]);
        G[i * C + j] = v;
        G[j * C + i] = v;
      }
    }
    return G;
  } finally {
    await session.release();
  }
}

/** The rows of `x` minus their column means (float64 means, float32 result). */
export function centreRows(x: Matrix): Matrix {
  const C = x.rows;
  const D = x.cols;
  const mean = new Float64Array(D);
  for (let i = 0; i < C; i++) {
    const row = i * D;
    for (let d = 0; d < D; d++) mean[d] += x.data[row + d];
  }
  for (let d = 0; d < D; d++) mean[d] /= C;
  const centred = new Float32Array(C * D);
  for (let i = 0; i < C; i++) {
    const row = i * D;
    for (let d = 0; d < D; d++) centred[row + d] = x.data[row + d] - mean[d];
  }
  return matrix(C, D, centred);
}

/** Plain TypeScript X X^T in float64 (the reference for the ORT Gram, and the small-size path). */
export function gramReference(x: Matrix): Float64Array {
  const C = x.rows;
  const D = x.cols;
  const G = new Float64Array(C * C);
  for (let i = 0; i < C; i++) {
    const a = i * D;
    for (let j = i; j < C; j++) {
      const b = j * D;
      let s = 0;
      for (let d = 0; d < D; d++) s += x.data[a + d] * x.data[b + d];
      G[i * C + j] = s;
      G[j * C + i] = s;
    }
  }
  return G;
}

/**
 * Mean feature of each class (C x D). Labels of -1 (OOD / unlabeled) are skipped; any other label
 * outside [0, numClasses) or a class with no samples is a `DataError`.
 */
export function classMeans(features: Matrix, labels: Int32Array, numClasses: number): Matrix {
  if (labels.length !== features.rows) {
    throw new DataError(
      `Got ${labels.length} labels for ${features.rows} feature rows; use the labels.npy of the same feature set`,
    );
  }
  const D = features.cols;
  const sums = new Float64Array(numClasses * D);
  const counts = new Int32Array(numClasses);
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i];
    if (c === -1) continue;
    if (!Number.isInteger(c) || c < 0 || c >= numClasses) {
      throw new DataError(
        `Label ${c} of sample ${i} is outside [0, ${numClasses}); use labels of the ${numClasses}-class label space`,
      );
    }
    counts[c]++;
    const src = i * D;
    const dst = c * D;
    for (let d = 0; d < D; d++) sums[dst + d] += features.data[src + d];
  }
  const out = matrix(numClasses, D);
  for (let c = 0; c < numClasses; c++) {
    if (counts[c] === 0) {
      throw new DataError(
        `Class ${c} has no samples, so it has no mean feature; cluster on a feature set that covers every class`,
      );
    }
    const inv = 1 / counts[c];
    for (let d = 0; d < D; d++) out.data[c * D + d] = sums[c * D + d] * inv;
  }
  return out;
}

/** Validates a group count against C; shared with random grouping's rules. */
function checkK(k: number, numClasses: number, what: string): void {
  if (!Number.isInteger(k) || k < 2 || k > numClasses) {
    throw new UsageError(
      `Number of groups ${JSON.stringify(k)} for ${what} is invalid; use an integer from 2 to ` +
        `the number of classes (${numClasses})`,
    );
  }
}

/** k-means++ seeding on the Gram matrix: returns the chosen point indices. */
function seedPlusPlus(G: Float64Array, C: number, k: number, rng: Rng): Int32Array {
  const centers = new Int32Array(k);
  const chosen = new Uint8Array(C);
  const d2 = new Float64Array(C).fill(Infinity);
  let c = rng.int(C);
  for (let t = 0; t < k; t++) {
    if (t > 0) {
      let total = 0;
      for (let i = 0; i < C; i++) total += chosen[i] ? 0 : d2[i];
      c = -1;
      if (total > 0) {
        const u = rng.float() * total;
        let acc = 0;
        for (let i = 0; i < C; i++) {
          if (chosen[i] || d2[i] <= 0) continue;
          acc += d2[i];
          c = i;
          if (acc > u) break;
        }
      } else {
        // Every remaining point coincides with a centre: pick uniformly among the unchosen ones.
        let r = rng.int(C - t);
        for (let i = 0; i < C; i++) {
          if (chosen[i]) continue;
          if (r-- === 0) {
            c = i;
            break;
          }
        }
      }
    }
    centers[t] = c;
    chosen[c] = 1;
    const gcc = G[c * C + c];
    for (let i = 0; i < C; i++) {
      const d = Math.max(0, G[i * C + i] - 2 * G[i * C + c] + gcc);
      if (d < d2[i]) d2[i] = d;
    }
  }
  return centers;
}

/** Lloyd iterations from point centres; returns labels, exact inertia of those labels, iterations. */
function lloyd(
  G: Float64Array,
  C: number,
  k: number,
  centers: Int32Array,
  maxIter: number,
): { labels: Int32Array; inertia: number; iterations: number } {
  const labels = new Int32Array(C);
  const dist = new Float64Array(C);
  for (let i = 0; i < C; i++) {
    let best = 0;
    let bestD = Infinity;
    for (let t = 0; t < k; t++) {
      const c = centers[t];
      const d = G[i * C + i] - 2 * G[i * C + c] + G[c * C + c];
      if (d < bestD) {
        bestD = d;
        best = t;
      }
    }
    labels[i] = best;
    dist[i] = bestD;
  }
  const sizes = new Int32Array(k);
  for (let i = 0; i < C; i++) sizes[labels[i]]++;
  fillEmpty(labels, sizes, dist, k);

  const M = new Float64Array(C * k);
  const cc = new Float64Array(k);
  let iterations = 0;
  for (;;) {
    // M[i, t] = sum_{j in S_t} G_ij; ||c_t||^2 = sum_{j in S_t} M[j, t] / n_t^2.
    M.fill(0);
    for (let i = 0; i < C; i++) {
      const gi = i * C;
      const mi = i * k;
      for (let j = 0; j < C; j++) M[mi + labels[j]] += G[gi + j];
    }
    cc.fill(0);
    for (let j = 0; j < C; j++) cc[labels[j]] += M[j * k + labels[j]];
    for (let t = 0; t < k; t++) cc[t] /= sizes[t] * sizes[t];
    let inertia = 0;
    let changed = 0;
    const next = new Int32Array(C);
    for (let i = 0; i < C; i++) {
      const gii = G[i * C + i];
      const mi = i * k;
      const own = labels[i];
      let best = own;
      let bestD = gii - (2 * M[mi + own]) / sizes[own] + cc[own];
      inertia += Math.max(0, bestD);
      for (let t = 0; t < k; t++) {
        const d = gii - (2 * M[mi + t]) / sizes[t] + cc[t];
        // Strict < keeps the current cluster on exact ties, else the lowest index.
        if (d < bestD) {
          bestD = d;
          best = t;
        }
      }
      next[i] = best;
      dist[i] = bestD;
      if (best !== own) changed++;
    }
    if (changed === 0 || iterations >= maxIter) {
      return { labels, inertia, iterations };
    }
    iterations++;
    labels.set(next);
    sizes.fill(0);
    for (let i = 0; i < C; i++) sizes[labels[i]]++;
    fillEmpty(labels, sizes, dist, k);
  }
}
