/**
 * Mahalanobis detector at ImageNet scale: a streaming fit (class means + shared covariance over
 * 1.28M x 2048 rows, see lib/ort/gram.ts) and chunked scoring in onnxruntime. Produces and
 * consumes the same {@linkcode MahalanobisModel} as the plain reference in
 * lib/scores/mahalanobis.ts.
 *
 * Precision. The reference inverts the covariance with a pseudo-inverse (`scipy.linalg.pinvh`
 * through a full eigendecomposition, tens of seconds in TypeScript at D = 2048). Here:
 * - channels with exactly zero variance (dead ReLU units) are dropped and get zero rows/columns in
 *   the precision, which is exactly what the pseudo-inverse gives them;
 * - the rest is inverted by a float64 Cholesky factorisation `A = L L^T`, `P = L^-T L^-1`
 *   (~n^3/2 multiply-adds, ~3 s at n = 2048);
 * - the pseudo-inverse only differs from the inverse when it drops eigenvalues below
 *   `rtol * lambda_max`, which needs cond(A) >= 1 / rtol. cond(A) = lambda_max(A) lambda_max(A^-1)
 *   and each factor is at most the trace and the max row sum of its matrix, so when that bound is
 *   below 1 / rtol the inverse is the pseudo-inverse; otherwise
 *   (or when Cholesky meets a non-positive pivot) this falls back to the reference
 *   `pinvSymmetric` (slow but exact).
 *
 * Scoring. Per chunk, in one graph, with every vector first centred on `g`, the mean of the class
 * means (post-ReLU features have large common means; centring removes most of the cancellation
 * between the three terms below):
 * `d_c = x'^T P x' - 2 x'^T (P mu'_c) + mu'_c^T P mu'_c`, then `min_c d_c`
 * ({@linkcode mahalanobisMinDistanceFast}); the score is `-0.5 min_c d_c`, the released MOS
 * code's scale ({@linkcode MAHALANOBIS_SCORE_SCALE}; {@linkcode mahalanobisFast}).
 *
 * @module
 */
import { DataError } from "../errors.ts";
import type { Matrix } from "../matrix.ts";
import { pinvSymmetric } from "../linalg/pinv_symmetric.ts";
import { MAHALANOBIS_SCORE_SCALE, type MahalanobisModel } from "../scores/mahalanobis.ts";
import { classStats, withinClassScatter } from "./gram.ts";
import { buildModel, node } from "./graph.ts";
import { cachedSession, defaultThreads } from "./kernel_cache.ts";
import {
  type ChunkOptions,
  chunkRowsOf,
  forEachRowChunk,
  matrixSource,
  type RowSource,
} from "./linear.ts";
import {
  packQuadForm,
  quadFormInputs,
  quadFormNodes,
  type QuadFormPlan,
  quadFormPlan,
} from "./quad_form.ts";
import { f32Tensor, type ort } from "./session.ts";

export { MAHALANOBIS_SCORE_SCALE };
export type { MahalanobisModel };

/** Options for {@linkcode fitMahalanobisFast}. */
export interface FastFitOptions extends ChunkOptions {
  /** Relative eigenvalue cutoff of the pseudo-inverse, as in `fitMahalanobis`; default D * 2^-52. */
  rtol?: number;
}

/** `sum_k a[ia + k] * b[ib + k]` for k < n, four accumulators for instruction-level parallelism. */
function dot(a: Float64Array, ia: number, b: Float64Array, ib: number, n: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let k = 0;
  for (; k + 3 < n; k += 4) {
    s0 += a[ia + k] * b[ib + k];
    s1 += a[ia + k + 1] * b[ib + k + 1];
    s2 += a[ia + k + 2] * b[ib + k + 2];
    s3 += a[ia + k + 3] * b[ib + k + 3];
  }
  for (; k < n; k++) s0 += a[ia + k] * b[ib + k];
  return (s0 + s1) + (s2 + s3);
}

/** Trace of an m x m matrix. */
function trace(a: Float64Array, m: number): number {
  let t = 0;
  for (let i = 0; i < m; i++) t += a[i * m + i];
  return t;
}

/** Max absolute row sum of a symmetric m x m matrix given by its lower triangle. */
function maxRowSum(a: Float64Array, m: number): number {
  const sums = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < i; j++) {
      const v = Math.abs(a[i * m + j]);
      sums[i] += v;
      sums[j] += v;
    }
    sums[i] += Math.abs(a[i * m + i]);
  }
  let best = 0;
  for (let i = 0; i < m; i++) if (!(sums[i] <= best)) best = sums[i];
  return best;
}

/** How {@linkcode invertCovariance} inverted its matrix. */
export type InverseMethod = "cholesky" | "pseudo-inverse";

/**
 * Pseudo-inverse of a symmetric positive semi-definite n x n float64 matrix, fast when it is
 * well conditioned (Cholesky on the channels with non-zero variance) and falling back to the
 * eigendecomposition `pinvSymmetric` otherwise. See the module notes for why the two agree.
 */
export function invertCovariance(
  a: Float64Array,
  n: number,
  rtol = n * 2 ** -52,
): { inverse: Float64Array; method: InverseMethod } {
  if (a.length !== n * n) throw new RangeError(`Matrix has ${a.length} values, expected ${n}^2`);
  const keep: number[] = [];
  for (let i = 0; i < n; i++) if (a[i * n + i] !== 0) keep.push(i);
  const m = keep.length;
  const out = new Float64Array(n * n);
  if (m === 0) return { inverse: out, method: "cholesky" };
  // Cholesky, dot-product form: row i of L only needs earlier rows, all contiguous.
  const L = new Float64Array(m * m);
  let traceA = 0;
  for (let i = 0; i < m; i++) {
    const src = keep[i] * n;
    for (let j = 0; j <= i; j++) L[i * m + j] = a[src + keep[j]];
    traceA += L[i * m + i];
  }
  const normA = maxRowSum(L, m);
  let ok = true;
  for (let j = 0; j < m && ok; j++) {
    const rj = j * m;
    let d = L[rj + j] - dot(L, rj, L, rj, j);
    if (!(d > 0)) {
      ok = false;
      break;
    }
    d = Math.sqrt(d);
    L[rj + j] = d;
    const inv = 1 / d;
    for (let i = j + 1; i < m; i++) {
      const ri = i * m;
      L[ri + j] = (L[ri + j] - dot(L, ri, L, rj, j)) * inv;
    }
  }
  if (ok) {
    // U = L^-T row by row: U_j,i = -(sum_{k=j}^{i-1} L_ik U_jk) / L_ii, U_jj = 1 / L_jj. Every
    // inner loop is a dot product of two contiguous rows (the scattered column updates of the
    // textbook form are memory-bound: ~3x slower at n = 2048).
    const U = new Float64Array(m * m);
    for (let j = 0; j < m; j++) {
      const rj = j * m;
      U[rj + j] = 1 / L[rj + j];
      for (let i = j + 1; i < m; i++) {
        const ri = i * m;
        U[rj + i] = -dot(L, ri + j, U, rj + j, i - j) / L[ri + i];
      }
    }
    // P = U U^T restricted to i >= max(p, q): P_pq = sum_i U_pi U_qi.
    const P = new Float64Array(m * m);
    for (let p = 0; p < m; p++) {
      const rp = p * m;
      for (let q = 0; q <= p; q++) P[rp + q] = dot(U, rp + p, U, q * m + p, m - p);
    }
    // cond(A) = lambda_max(A) lambda_max(A^-1), and for a PSD matrix lambda_max is at most both
    // its trace and its max absolute row sum: below 1/rtol no eigenvalue can fall under pinvh's
    // cutoff, so the inverse is the pseudo-inverse.
    const bound = Math.min(traceA, normA) *
      Math.min(trace(P, m), maxRowSum(P, m));
    if (Number.isFinite(bound) && bound < 1 / rtol) {
      for (let p = 0; p < m; p++) {
        for (let q = 0; q <= p; q++) {
          const v = P[p * m + q];
          out[keep[p] * n + keep[q]] = v;
          out[keep[q] * n + keep[p]] = v;
        }
      }
      return { inverse: out, method: "cholesky" };
    }
  }
  return { inverse: pinvSymmetric(a, n, rtol), method: "pseudo-inverse" };
}

/**
 * Fits class means and the shared precision (inverse of the 1/N within-class covariance) on
 * streamed training rows with labels in [0, numClasses); the same model as `fitMahalanobis`,
 * for 1.28M x 2048 inputs. Two passes over `source` (means, then centred scatter).
 *
 * @example
 * ```ts
 * import { readSetLabels } from "../io/feature_set.ts";
 * import { openNpy } from "../io/npy.ts";
 * const train = await openNpy("train/features.npy");
 * const labels = await readSetLabels("train", train.rows, train.path);
 * const model = await fitMahalanobisFast(train, labels, 1000);
 * ```
 */
export async function fitMahalanobisFast(
  source: RowSource,
  labels: Int32Array,
  numClasses: number,
  opts: FastFitOptions = {},
): Promise<MahalanobisModel & { inverseMethod: InverseMethod }> {
  const stats = await classStats(source, labels, numClasses, opts);
  for (let c = 0; c < numClasses; c++) {
    if (stats.counts[c] === 0) {
      let missing = 0;
      for (let k = 0; k < numClasses; k++) if (stats.counts[k] === 0) missing++;
      throw new DataError(
        `Mahalanobis fit: class ${c} has no training rows (${missing} of ${numClasses} classes ` +
          `empty); every class needs features to estimate its mean`,
      );
    }
  }
  const d = source.cols;
  const cov = await withinClassScatter(source, labels, stats, opts);
  const total = stats.total;
  let finite = true;
  for (let k = 0; k < cov.length; k++) {
    cov[k] /= total;
    if (!Number.isFinite(cov[k])) finite = false;
  }
  if (!finite) {
    // Finite features above ~1.8e19 overflow float32 when squared in the scatter.
    throw new DataError(
      `Mahalanobis fit: the feature covariance is not finite (the training features hold NaN / ` +
        `Inf, or values so large that their squares overflow float32); check and rescale the ` +
        `training features`,
    );
  }
  const { inverse, method } = invertCovariance(cov, d, opts.rtol ?? d * 2 ** -52);
  return {
    means: { data: Float32Array.from(stats.means), rows: numClasses, cols: d },
    precision: { data: Float32Array.from(inverse), rows: d, cols: d },
    inverseMethod: method,
  };
}

function distanceGraph(d: number, c: number, plan: QuadFormPlan): Uint8Array {
  const quad = quadFormNodes("p", plan, "xc", "quad");
  return buildModel({
    name: "mahalanobis",
    inputs: [
      { name: "x", type: "float32", shape: ["n", d] },
      { name: "g", type: "float32", shape: [d] },
      ...quadFormInputs("p", plan),
      { name: "q", type: "float32", shape: [c, d] },
      { name: "m", type: "float32", shape: [c] },
    ],
    outputs: [{ name: "mindist", type: "float32", shape: ["n", 1] }],
    nodes: [
      node("Sub", ["x", "g"], ["xc"]),
      // quad = x'^T P x' (block-symmetric form, lib/ort/quad_form.ts).
      ...quad.nodes,
      // t = -2 x'^T P mu'_c + m_c (the -2 folded into q on the host, m_c as the Gemm's bias).
      node("Gemm", ["xc", "q", "m"], ["t"], { transB: 1 }),
      // Float32 rounding is monotone, so min_c fl(t_c + quad) = fl(min_c t_c + quad): quad is
      // added after the minimum, one chunk x C pass less.
      node("ReduceMin", ["t"], ["tmin"], { axes: [1], keepdims: 1 }),
      node("Add", ["tmin", "quad"], ["dmin"]),
      // 0 * quad carries a NaN feature row into its distance (ReduceMin may drop NaN).
      node("Mul", ["quad", "zero"], ["nanGuard"]),
      node("Add", ["dmin", "nanGuard"], ["mindist"]),
    ],
    initializers: [
      ...quad.initializers,
      { name: "zero", dims: [], data: new Float32Array([0]) },
    ],
  });
}

function productGraph(d: number): Uint8Array {
  return buildModel({
    name: "right_product",
    inputs: [
      { name: "a", type: "float32", shape: ["n", d] },
      { name: "p", type: "float32", shape: [d, d] },
    ],
    outputs: [{ name: "ap", type: "float32", shape: ["n", d] }],
    nodes: [node("MatMul", ["a", "p"], ["ap"])],
  });
}

/**
 * Default {@linkcode MahalanobisScoreOptions.blockMb}: the one-graph path holds one chunk x C
 * float32 distance matrix and two C x D copies of the means (8 MB each for ImageNet-1k, 179 MB
 * for ImageNet-21k's 21,843 means, which still run as one graph: measured here ~10% faster than
 * two blocks); past this bound the means are processed in blocks.
 */
export const DEFAULT_MAHALANOBIS_BLOCK_MB = 256;

/** Options of the Mahalanobis scoring kernels. */
export interface MahalanobisScoreOptions extends ChunkOptions {
  /**
   * Memory bound in MiB of the class-mean side of the scoring. When the one-graph path's
   * `max(D, chunkRows) x C x 4` bytes fit, it runs (the fastest); otherwise the class means are
   * taken in blocks of `floor(blockMb MiB / (4 max(D, chunkRows)))` rows, with a running minimum
   * per row. Default {@linkcode DEFAULT_MAHALANOBIS_BLOCK_MB}.
   */
  blockMb?: number;
}

/** Rows per block of class means, or 0 when the one-graph path fits `blockMb`. */
export function mahalanobisBlockRows(
  c: number,
  d: number,
  chunkRows: number,
  blockMb = DEFAULT_MAHALANOBIS_BLOCK_MB,
): number {
  if (!(blockMb > 0) || !Number.isFinite(blockMb)) {
    throw new RangeError(`blockMb must be a positive number of MiB, got ${blockMb}`);
  }
  const bytes = blockMb * 2 ** 20;
  const per = 4 * Math.max(d, chunkRows);
  if (per * c <= bytes) return 0;
  return Math.max(1, Math.min(c, Math.floor(bytes / per)));
}

/** Centred scoring constants: g, -2 M' P (C x D) and `m_c = mu'_c^T P mu'_c`. */
interface Centred {
  g: Float32Array;
  q: Float32Array;
  mq: Float32Array;
}

/**
 * g = mean of the class means (float64), and per block of `block` means: mu' = mu - g,
 * q = mu' P (C x D x D in onnxruntime), m_c = mu'_c . q_c in float64, then q scaled by -2.
 */
async function centre(
  model: MahalanobisModel,
  block: number,
  threads: number,
): Promise<Centred> {
  const { means, precision } = model;
  const c = means.rows;
  const d = means.cols;
  const g64 = new Float64Array(d);
  for (let k = 0; k < c; k++) {
    for (let j = 0; j < d; j++) g64[j] += means.data[k * d + j];
  }
  for (let j = 0; j < d; j++) g64[j] /= c;
  const g = Float32Array.from(g64);
  const pT = f32Tensor(precision.data, [d, d]);
  const prod = await cachedSession(`rightproduct:${d}`, () => productGraph(d), threads);
  const q = new Float32Array(c * d);
  const mq = new Float32Array(c);
  const mc = new Float32Array(Math.min(block, c) * d);
  for (let b0 = 0; b0 < c; b0 += block) {
    const nb = Math.min(block, c - b0);
    const mb = mc.subarray(0, nb * d);
    for (let k = 0; k < nb; k++) {
      for (let j = 0; j < d; j++) mb[k * d + j] = means.data[(b0 + k) * d + j] - g[j];
    }
    const qb = q.subarray(b0 * d, (b0 + nb) * d);
    await prod.run({ a: f32Tensor(mb, [nb, d]), p: pT }, { ap: f32Tensor(qb, [nb, d]) });
    for (let k = 0; k < nb; k++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += mb[k * d + j] * qb[k * d + j];
      mq[b0 + k] = s;
    }
  }
  for (let i = 0; i < q.length; i++) q[i] *= -2;
  return { g, q, mq };
}

/** Feeds of the packed quadratic form `x'^T P x'` (lib/ort/quad_form.ts). */
function quadFeeds(precision: Matrix, plan: QuadFormPlan): Record<string, ort.Tensor> {
  const packed = packQuadForm(precision.data, plan);
  const feeds: Record<string, ort.Tensor> = {};
  quadFormInputs("p", plan).forEach((v, i) => {
    feeds[v.name] = f32Tensor(packed[i], v.shape as number[]);
  });
  return feeds;
}

/** The one-graph path: every class mean per chunk (today's kernel, unchanged). */
async function minDistanceWhole(
  model: MahalanobisModel,
  src: RowSource,
  cen: Centred,
  threads: number,
  chunkRows: number,
): Promise<Float32Array> {
  const d = src.cols;
  const c = model.means.rows;
  const plan = quadFormPlan(d);
  const session = await cachedSession(
    `mahalanobis-dist:${d}:${c}:${plan.starts.join(",")}`,
    () => distanceGraph(d, c, plan),
    threads,
  );
  const feeds: Record<string, ort.Tensor> = {
    g: f32Tensor(cen.g, [d]),
    q: f32Tensor(cen.q, [c, d]),
    m: f32Tensor(cen.mq, [c]),
    ...quadFeeds(model.precision, plan),
  };
  const out = new Float32Array(src.rows);
  await forEachRowChunk(src, chunkRows, async (start, n, rows) => {
    await session.run(
      { ...feeds, x: f32Tensor(rows, [n, d]) },
      { mindist: f32Tensor(out.subarray(start, start + n), [n, 1]) },
    );
  });
  return out;
}

/** Per chunk: the centred rows `xc` and their quadratic form `quad`. */
function centredQuadGraph(d: number, plan: QuadFormPlan): Uint8Array {
  const quad = quadFormNodes("p", plan, "xc", "quad");
  return buildModel({
    name: "mahalanobis_quad",
    inputs: [
      { name: "x", type: "float32", shape: ["n", d] },
      { name: "g", type: "float32", shape: [d] },
      ...quadFormInputs("p", plan),
    ],
    outputs: [
      { name: "xc", type: "float32", shape: ["n", d] },
      { name: "quad", type: "float32", shape: ["n", 1] },
    ],
    nodes: [node("Sub", ["x", "g"], ["xc"]), ...quad.nodes],
    initializers: quad.initializers,
  });
}

/** Per block of means: `min_c (-2 x'^T P mu'_c + m_c)` over the block. */
function blockMinGraph(d: number): Uint8Array {
  return buildModel({
    name: "mahalanobis_block",
    inputs: [
      { name: "xc", type: "float32", shape: ["n", d] },
      { name: "q", type: "float32", shape: ["b", d] },
      { name: "m", type: "float32", shape: ["b"] },
    ],
    outputs: [{ name: "bmin", type: "float32", shape: ["n", 1] }],
    nodes: [
      // -2 x'^T P mu'_c + m_c, with m_c as the Gemm's bias.
      node("Gemm", ["xc", "q", "m"], ["t"], { transB: 1 }),
      node("ReduceMin", ["t"], ["bmin"], { axes: [1], keepdims: 1 }),
    ],
  });
}

/**
 * The blocked path. Float32 rounding is monotone, so `min_c fl(t_c + quad)` of the one-graph
 * path equals `fl(min_c t_c + quad)`: adding `quad` after the running minimum changes nothing
 * (the GEMM of a block may still sum in another order than the whole one).
 */
async function minDistanceBlocked(
  model: MahalanobisModel,
  src: RowSource,
  cen: Centred,
  threads: number,
  chunkRows: number,
  block: number,
): Promise<Float32Array> {
  const d = src.cols;
  const c = model.means.rows;
  const plan = quadFormPlan(d);
  const quadSession = await cachedSession(
    `mahalanobis-quad:${d}:${plan.starts.join(",")}`,
    () => centredQuadGraph(d, plan),
    threads,
  );
  const blockSession = await cachedSession(
    `mahalanobis-block:${d}`,
    () => blockMinGraph(d),
    threads,
  );
  const feeds = { g: f32Tensor(cen.g, [d]), ...quadFeeds(model.precision, plan) };
  const cap = Math.min(chunkRows, src.rows);
  const xc = new Float32Array(cap * d);
  const quad = new Float32Array(cap);
  const bmin = new Float32Array(cap);
  const dmin = new Float32Array(cap);
  const out = new Float32Array(src.rows);
  await forEachRowChunk(src, chunkRows, async (start, n, rows) => {
    const xn = f32Tensor(xc.subarray(0, n * d), [n, d]);
    await quadSession.run(
      { ...feeds, x: f32Tensor(rows, [n, d]) },
      { xc: xn, quad: f32Tensor(quad.subarray(0, n), [n, 1]) },
    );
    dmin.fill(Infinity);
    for (let b0 = 0; b0 < c; b0 += block) {
      const nb = Math.min(block, c - b0);
      await blockSession.run({
        xc: xn,
        q: f32Tensor(cen.q.subarray(b0 * d, (b0 + nb) * d), [nb, d]),
        m: f32Tensor(cen.mq.subarray(b0, b0 + nb), [nb]),
      }, { bmin: f32Tensor(bmin.subarray(0, n), [n, 1]) });
      for (let i = 0; i < n; i++) dmin[i] = Math.min(dmin[i], bmin[i]);
    }
    // + 0 * quad carries a NaN feature row into its distance, as the one-graph path does.
    for (let i = 0; i < n; i++) {
      out[start + i] = Math.fround(Math.fround(dmin[i] + quad[i]) + quad[i] * 0);
    }
  });
  return out;
}

/**
 * Smallest squared Mahalanobis distance `min_c (x - mu_c)^T P (x - mu_c)` of every row of
 * `source` (a matrix or a {@linkcode RowSource}), in onnxruntime chunks; NaN for a row with a
 * NaN feature. The precision must be exactly symmetric, as both fits make it: the quadratic
 * form reads its upper triangle. Memory is bounded by `opts.blockMb` (see
 * {@linkcode MahalanobisScoreOptions}): many class means (ImageNet-21k's 21,843) are taken in
 * blocks.
 */
export async function mahalanobisMinDistanceFast(
  model: MahalanobisModel,
  source: RowSource | Matrix,
  opts: MahalanobisScoreOptions = {},
): Promise<Float32Array> {
  const src: RowSource = "data" in source ? matrixSource(source) : source;
  const { means, precision } = model;
  const d = src.cols;
  if (means.cols !== d || precision.rows !== d || precision.cols !== d) {
    throw new DataError(
      `Mahalanobis model is for ${means.cols}-d features (precision ${precision.rows} x ` +
        `${precision.cols}) but the features are ${d}-d; fit on the same backbone's features`,
    );
  }
  const c = means.rows;
  const threads = defaultThreads(opts.threads);
  const chunkRows = chunkRowsOf(opts);
  const block = mahalanobisBlockRows(c, d, chunkRows, opts.blockMb);
  const cen = await centre(model, block > 0 ? block : c, threads);
  return block > 0
    ? minDistanceBlocked(model, src, cen, threads, chunkRows, block)
    : minDistanceWhole(model, src, cen, threads, chunkRows);
}

/**
 * Mahalanobis score `-0.5 min_c (x - mu_c)^T P (x - mu_c)` (higher = more in-distribution; the
 * released MOS code's scale, as the reference `mahalanobis`) for every row of `source`: the
 * distances of {@linkcode mahalanobisMinDistanceFast} times {@linkcode MAHALANOBIS_SCORE_SCALE}
 * (a power of two: exact in float32).
 */
export async function mahalanobisFast(
  model: MahalanobisModel,
  source: RowSource | Matrix,
  opts: MahalanobisScoreOptions = {},
): Promise<Float32Array> {
  const out = await mahalanobisMinDistanceFast(model, source, opts);
  for (let i = 0; i < out.length; i++) out[i] *= MAHALANOBIS_SCORE_SCALE;
  return out;
}
