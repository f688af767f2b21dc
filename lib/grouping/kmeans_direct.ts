/**
 * k-means in feature space, for label spaces whose C x C Gram matrix does not fit: at C = 21,843
 * (ImageNet-21k) the float64 Gram matrix of lib/grouping/kmeans.ts would take 3.8 GB and each of
 * its Lloyd iterations O(C^2). Here memory is O(C D + C K) and an iteration is one ORT MatMul
 * X C^T (C x D by D x K) plus O(C K + C D) TypeScript.
 *
 * Same algorithm and tie rules as the Gram path: k-means++ seeding from one `createRng(seed)`
 * across restarts, a point keeps its cluster on an exact tie, else the lowest cluster index wins,
 * empty clusters re-seeded with the farthest point, lowest inertia over restarts (first on ties).
 * Distances are ||x||^2 - 2 x.c + ||c||^2 with x.c from float32 products, so results can differ
 * from the Gram path by float rounding on near ties; both are exact k-means otherwise.
 *
 * @module
 */
import type { Matrix } from "../matrix.ts";
import { buildModel, node } from "../ort/graph.ts";
import { createSession, f32Tensor } from "../ort/session.ts";
import type { Rng } from "../random.ts";
import { type Clustering, fillEmpty, toResult } from "./kmeans_common.ts";

/** Runs Lloyd's products: X (C x D, fixed) times C^T for a K x D centroid matrix. */
interface Products {
  /** Returns the C x K matrix X C^T (float32). */
  run(centroids: Float32Array, k: number): Promise<Float32Array>;
  release(): Promise<void>;
}

async function productSession(x: Matrix, threads?: number): Promise<Products> {
  const session = await createSession(
    buildModel({
      name: "kmeans_products",
      inputs: [
        { name: "x", type: "float32", shape: ["c", "d"] },
        { name: "m", type: "float32", shape: ["k", "d"] },
      ],
      outputs: [{ name: "p", type: "float32", shape: ["c", "k"] }],
      nodes: [node("Gemm", ["x", "m"], ["p"], { transB: 1 })],
    }),
    { threads },
  );
  const xt = f32Tensor(x.data, [x.rows, x.cols]);
  return {
    async run(centroids, k) {
      const out = await session.run({ x: xt, m: f32Tensor(centroids, [k, x.cols]) });
      return out.p.data as Float32Array;
    },
    release: () => session.release(),
  };
}

/** Squared norm of each row, float64. */
function rowNorms(x: Matrix): Float64Array {
  const out = new Float64Array(x.rows);
  for (let i = 0; i < x.rows; i++) {
    let s = 0;
    for (let d = 0, o = i * x.cols; d < x.cols; d++) s += x.data[o + d] * x.data[o + d];
    out[i] = s;
  }
  return out;
}

/** k-means++ seeding with exact float64 distances to each new centre. */
function seedPlusPlus(x: Matrix, norms: Float64Array, k: number, rng: Rng): Int32Array {
  const C = x.rows;
  const D = x.cols;
  const centers = new Int32Array(k);
  const chosen = new Uint8Array(C);
  const d2 = new Float64Array(C).fill(Infinity);
  let c = rng.int(C);
  for (let t = 0; t < k; t++) {
    if (t > 0) c = drawNext(d2, chosen, C, t, rng);
    centers[t] = c;
    chosen[c] = 1;
    const co = c * D;
    for (let i = 0; i < C; i++) {
      let dot = 0;
      for (let d = 0, o = i * D; d < D; d++) dot += x.data[o + d] * x.data[co + d];
      const dist = Math.max(0, norms[i] - 2 * dot + norms[c]);
      if (dist < d2[i]) d2[i] = dist;
    }
  }
  return centers;
}

/** The next k-means++ centre: drawn with probability d2, uniform when every d2 is 0. */
function drawNext(d2: Float64Array, chosen: Uint8Array, C: number, t: number, rng: Rng): number {
  let total = 0;
  for (let i = 0; i < C; i++) total += chosen[i] ? 0 : d2[i];
  if (total > 0) {
    const u = rng.float() * total;
    let acc = 0;
    let c = -1;
    for (let i = 0; i < C; i++) {
      if (chosen[i] || d2[i] <= 0) continue;
      acc += d2[i];
      c = i;
      if (acc > u) break;
    }
    return c;
  }
  let r = rng.int(C - t);
  for (let i = 0; i < C; i++) {
    if (!chosen[i] && r-- === 0) return i;
  }
  return -1;
}

/** Centroids (K x D, float32) and their squared norms (float64) of the current labels. */
function centroids(x: Matrix, labels: Int32Array, sizes: Int32Array, k: number) {
  const D = x.cols;
  const sums = new Float64Array(k * D);
  for (let i = 0; i < x.rows; i++) {
    const o = i * D;
    const t = labels[i] * D;
    for (let d = 0; d < D; d++) sums[t + d] += x.data[o + d];
  }
  const m = new Float32Array(k * D);
  const norms = new Float64Array(k);
  for (let t = 0; t < k; t++) {
    let s = 0;
    for (let d = 0; d < D; d++) {
      const v = sums[t * D + d] / sizes[t];
      m[t * D + d] = v;
      s += v * v;
    }
    norms[t] = s;
  }
  return { m, norms };
}

/** Lloyd iterations from point centres, as the Gram path runs them. */
async function lloyd(
  x: Matrix,
  norms: Float64Array,
  products: Products,
  k: number,
  centers: Int32Array,
  maxIter: number,
): Promise<{ labels: Int32Array; inertia: number; iterations: number }> {
  const C = x.rows;
  const D = x.cols;
  // Start: each point to its nearest seed (centroid = the seed point itself).
  const seeds = new Float32Array(k * D);
  const seedNorms = new Float64Array(k);
  centers.forEach((c, t) => {
    seeds.set(x.data.subarray(c * D, (c + 1) * D), t * D);
    seedNorms[t] = norms[c];
  });
  const labels = new Int32Array(C);
  const dist = new Float64Array(C);
  let p = await products.run(seeds, k);
  for (let i = 0; i < C; i++) {
    let best = 0;
    let bestD = Infinity;
    for (let t = 0; t < k; t++) {
      const d = norms[i] - 2 * p[i * k + t] + seedNorms[t];
      if (d < bestD) [bestD, best] = [d, t];
    }
    labels[i] = best;
    dist[i] = bestD;
  }
  const sizes = new Int32Array(k);
  for (let i = 0; i < C; i++) sizes[labels[i]]++;
  fillEmpty(labels, sizes, dist, k);
  for (let iterations = 0;; iterations++) {
    const cent = centroids(x, labels, sizes, k);
    p = await products.run(cent.m, k);
    let inertia = 0;
    let changed = 0;
    const next = new Int32Array(C);
    for (let i = 0; i < C; i++) {
      const own = labels[i];
      let best = own;
      let bestD = norms[i] - 2 * p[i * k + own] + cent.norms[own];
      inertia += Math.max(0, bestD);
      for (let t = 0; t < k; t++) {
        const d = norms[i] - 2 * p[i * k + t] + cent.norms[t];
        // Strict < keeps the current cluster on exact ties, else the lowest index.
        if (d < bestD) [bestD, best] = [d, t];
      }
      next[i] = best;
      dist[i] = bestD;
      if (best !== own) changed++;
    }
    if (changed === 0 || iterations >= maxIter) return { labels, inertia, iterations };
    labels.set(next);
    sizes.fill(0);
    for (let i = 0; i < C; i++) sizes[labels[i]]++;
    fillEmpty(labels, sizes, dist, k);
  }
}

/**
 * k-means of the rows of `x` (already centred, C x D) into `k` clusters in feature space; see the
 * module doc. `k` must be an integer in [2, C] (checked by the caller).
 */
export async function kmeansDirect(
  x: Matrix,
  k: number,
  o: { rng: Rng; restarts: number; maxIter: number; threads?: number },
): Promise<Clustering> {
  const norms = rowNorms(x);
  const products = await productSession(x, o.threads);
  try {
    let best: { labels: Int32Array; inertia: number; iterations: number } | null = null;
    for (let r = 0; r < o.restarts; r++) {
      const centers = seedPlusPlus(x, norms, k, o.rng);
      const run = await lloyd(x, norms, products, k, centers, o.maxIter);
      if (best === null || run.inertia < best.inertia) best = run;
    }
    return toResult(best!.labels, k, best!.inertia, best!.iterations);
  } finally {
    await products.release();
  }
}
