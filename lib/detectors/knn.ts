/**
 * KNN, Sun et al., "Out-of-Distribution Detection with Deep Nearest Neighbors", ICML 2022: features
 * are L2-normalised, and the score is the negated distance from a test feature to its k-th nearest
 * normalised ID training feature, `score = -|| z/|z| - z_(k)/|z_(k)| ||`. Checked against OpenOOD
 * `openood/postprocessors/knn_postprocessor.py` (normalise, `faiss.IndexFlatL2` over the ID
 * `train` features, `kth_dist = -D[:, -1]`) and `configs/postprocessors/knn.yml` (K = 50, sweep
 * 50/100/200/500/1000). faiss's IndexFlatL2 returns SQUARED distances, so OpenOOD's score is
 * `-d_k^2`; this returns `-d_k` (same ranking, same AUROC / FPR95). OpenOOD's normaliser
 * `x / |x| + 1e-10` adds its epsilon after the division (a typo); here rows are divided by
 * `max(|x|, 1e-12)` (torch `F.normalize`), so an all-zero row stays zero.
 *
 * Exact search, streamed: the training rows are read in chunks (a {@linkcode RowSource}, so
 * 1.28M x 2048 never sits in memory); each chunk is normalised by onnxruntime, and for each block
 * of test rows one onnxruntime GEMM gives the `queryBlock x chunk` similarity block, from which a
 * running top-k (a bounded heap per test row) keeps the best k so far. No N_test x N_train matrix
 * ever exists. Ordering key: `2 q.t - |t|^2 = |q|^2 - d^2` (exact for the zero rows too); ties keep
 * the lower training index, as a stable brute-force sort would.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import type { Matrix } from "../matrix.ts";
import { buildModel, float, node, type ValueSpec } from "../ort/graph.ts";
import { cachedSession, defaultThreads } from "../ort/kernel_cache.ts";
import {
  type ChunkOptions,
  chunkRowsOf,
  forEachRowChunk,
  matrixSource,
  type RowSource,
  STREAM_CHUNK_ROWS,
} from "../ort/linear.ts";
import { f32Tensor } from "../ort/session.ts";

/** Options of the streamed search. */
export interface KnnSearchOptions extends ChunkOptions {
  /** Test rows per similarity block (default 1024; block memory = queryBlockRows x chunkRows x 4 B). */
  queryBlockRows?: number;
}

/** The k nearest training rows of every test row, nearest first. */
export interface Neighbours {
  k: number;
  rows: number;
  /** rows x k training row indices. */
  indices: Int32Array;
  /** rows x k Euclidean distances between the normalised vectors (NaN for a NaN test row). */
  distances: Float32Array;
}

/**
 * Row normaliser: x / max(|x|, 1e-12) plus the squared norm of the result (1, or 0 for 0 rows),
 * and the norm itself. A row whose float32 sum of squares overflows (|x| above ~1.8e19) comes
 * out with norm Infinity and `x / Inf` = the zero vector: {@linkcode normalizeChunk} recomputes
 * exactly those rows in float64, so the graph (and every ordinary row) stays as fast as before.
 */
function normalizeGraph(d: number): Uint8Array {
  return buildModel({
    name: "l2_normalize",
    inputs: [{ name: "t", type: "float32", shape: ["m", d] }],
    outputs: [
      { name: "tn", type: "float32", shape: ["m", d] },
      { name: "sq", type: "float32", shape: ["m"] },
      { name: "nrm", type: "float32", shape: ["m", 1] },
    ],
    nodes: [
      node("ReduceL2", ["t"], ["nrm"], { axes: [1], keepdims: 1 }),
      node("Max", ["nrm", "eps"], ["den"]),
      node("Div", ["t", "den"], ["tn"]),
      node("ReduceSumSquare", ["tn"], ["sq"], { axes: [1], keepdims: 0 }),
    ],
    initializers: [{ name: "eps", dims: [], data: new Float32Array([1e-12]) }],
  });
}

/**
 * Normalises the `m` rows of `rows` into `tn` / `sq` with the graph of
 * {@linkcode normalizeGraph}, then redoes in float64, scaled by the row's largest |value|, every
 * finite row whose float32 norm overflowed: the result is the true unit vector (normalising is
 * scale-free), where the graph would have returned zeros. Only a scan of the `m` norms is added
 * for ordinary rows.
 */
async function normalizeChunk(
  session: Awaited<ReturnType<typeof cachedSession>>,
  rows: Float32Array,
  m: number,
  d: number,
  tn: Float32Array,
  sq: Float32Array,
  nrm: Float32Array,
): Promise<void> {
  await session.run({ t: f32Tensor(rows, [m, d]) }, {
    tn: f32Tensor(tn, [m, d]),
    sq: f32Tensor(sq, [m]),
    nrm: f32Tensor(nrm, [m, 1]),
  });
  for (let i = 0; i < m; i++) {
    if (nrm[i] !== Infinity) continue;
    const base = i * d;
    let max = 0;
    for (let j = 0; j < d; j++) max = Math.max(max, Math.abs(rows[base + j]));
    // NaN / Inf rows have no norm to recover; their NaN shows in `sq` (max is then NaN or Inf).
    if (!Number.isFinite(max)) continue;
    let ss = 0;
    for (let j = 0; j < d; j++) ss += (rows[base + j] / max) ** 2;
    const norm = max * Math.sqrt(ss);
    let s2 = 0;
    for (let j = 0; j < d; j++) {
      const v = Math.fround(rows[base + j] / norm);
      tn[base + j] = v;
      s2 += v * v;
    }
    sq[i] = s2;
  }
}

/** Similarity block: l2 mode `2 q t^T - |t|^2`, ip mode `q t^T`. */
function keyGraph(d: number, mode: "l2" | "ip"): Uint8Array {
  const inputs: ValueSpec[] = [
    { name: "q", type: "float32", shape: ["b", d] },
    { name: "t", type: "float32", shape: ["m", d] },
  ];
  const nodes = mode === "l2"
    ? [
      node("Gemm", ["q", "t"], ["s2"], { transB: 1, alpha: float(2) }),
      node("Sub", ["s2", "sq"], ["key"]),
    ]
    : [node("Gemm", ["q", "t"], ["key"], { transB: 1 })];
  if (mode === "l2") inputs.push({ name: "sq", type: "float32", shape: ["m"] });
  return buildModel({
    name: `topk_key_${mode}`,
    inputs,
    outputs: [{ name: "key", type: "float32", shape: ["b", "m"] }],
    nodes,
  });
}

/**
 * L2-normalised copy of `x` (rows divided by max(|x|, 1e-12)) and the squared norms of the
 * normalised rows, computed by onnxruntime in chunks.
 */
export async function l2NormalizeRows(
  x: Matrix,
  opts: ChunkOptions = {},
): Promise<{ normalized: Matrix; squaredNorms: Float32Array }> {
  const d = x.cols;
  const session = await cachedSession(
    `l2normalize:${d}`,
    () => normalizeGraph(d),
    defaultThreads(opts.threads),
  );
  const out = new Float32Array(x.rows * d);
  const sq = new Float32Array(x.rows);
  const chunk = chunkRowsOf(opts);
  const nrm = new Float32Array(Math.min(chunk, x.rows));
  await forEachRowChunk(matrixSource(x), chunk, async (start, n, rows) => {
    const tn = out.subarray(start * d, (start + n) * d);
    const sqPart = sq.subarray(start, start + n);
    await normalizeChunk(session, rows, n, d, tn, sqPart, nrm.subarray(0, n));
  });
  return { normalized: { data: out, rows: x.rows, cols: d }, squaredNorms: sq };
}

/** Running top-k state: one bounded min-heap per query (worst kept candidate at slot 0). */
export interface TopKState {
  k: number;
  values: Float32Array;
  indices: Int32Array;
  sizes: Int32Array;
}

/** Heap order: a is worse than b (lower value, or equal value and later index). */
function worse(v: Float32Array, ix: Int32Array, a: number, b: number): boolean {
  return v[a] < v[b] || (v[a] === v[b] && ix[a] > ix[b]);
}

function siftDown(v: Float32Array, ix: Int32Array, base: number, size: number): void {
  let p = 0;
  for (;;) {
    const l = 2 * p + 1;
    if (l >= size) return;
    let w = p;
    if (worse(v, ix, base + l, base + w)) w = l;
    if (l + 1 < size && worse(v, ix, base + l + 1, base + w)) w = l + 1;
    if (w === p) return;
    swapAt(v, ix, base + p, base + w);
    p = w;
  }
}

function siftUp(v: Float32Array, ix: Int32Array, base: number, pos: number): void {
  while (pos > 0) {
    const parent = (pos - 1) >> 1;
    if (!worse(v, ix, base + pos, base + parent)) return;
    swapAt(v, ix, base + pos, base + parent);
    pos = parent;
  }
}

function swapAt(v: Float32Array, ix: Int32Array, a: number, b: number): void {
  const tv = v[a];
  v[a] = v[b];
  v[b] = tv;
  const ti = ix[a];
  ix[a] = ix[b];
  ix[b] = ti;
}

/**
 * Feeds one query's candidates `keys[off .. off + m)` (training indices `first .. first + m`,
 * increasing) into its heap. A later index never displaces an equal value, so `>` suffices once
 * the heap is full.
 */
function offer(
  st: TopKState,
  q: number,
  keys: Float32Array,
  off: number,
  m: number,
  first: number,
): void {
  const { k, values: v, indices: ix, sizes } = st;
  const base = q * k;
  let size = sizes[q];
  let j = 0;
  for (; j < m && size < k; j++) {
    v[base + size] = keys[off + j];
    ix[base + size] = first + j;
    siftUp(v, ix, base, size);
    size++;
  }
  sizes[q] = size;
  let root = v[base];
  for (; j < m; j++) {
    const key = keys[off + j];
    if (key > root) {
      v[base] = key;
      ix[base] = first + j;
      siftDown(v, ix, base, k);
      root = v[base];
    }
  }
}

/**
 * Streams `source` past `queries` and keeps, per query row, the k training rows with the largest
 * key (mode "l2": `2 q.t_n - |t_n|^2` with t_n the normalised row, queries already normalised;
 * mode "ip": the raw inner product `q.t`). Returns the heaps unsorted: the root (slot 0 of each
 * row) is the k-th best.
 */
export async function streamTopK(
  queries: Matrix,
  source: RowSource,
  k: number,
  mode: "l2" | "ip",
  opts: KnnSearchOptions = {},
): Promise<TopKState> {
  const d = queries.cols;
  if (source.cols !== d) {
    throw new DataError(
      `Nearest-neighbour search: test features have ${d} columns but the training features ` +
        `have ${source.cols}; use features of the same backbone.`,
    );
  }
  if (!Number.isInteger(k) || k < 1 || k > source.rows) {
    throw new RangeError(`k must be an integer in [1, ${source.rows}] (training rows), got ${k}`);
  }
  const qb = opts.queryBlockRows ?? 1024;
  if (!Number.isInteger(qb) || qb < 1) {
    throw new RangeError(`queryBlockRows must be a positive integer, got ${qb}`);
  }
  const threads = defaultThreads(opts.threads);
  const chunk = chunkRowsOf(opts, STREAM_CHUNK_ROWS);
  const nq = queries.rows;
  const st: TopKState = {
    k,
    values: new Float32Array(nq * k),
    indices: new Int32Array(nq * k),
    sizes: new Int32Array(nq),
  };
  if (nq === 0) return st;
  const norm = mode === "l2"
    ? await cachedSession(`l2normalize:${d}`, () => normalizeGraph(d), threads)
    : undefined;
  const keySession = await cachedSession(`topkkey:${mode}:${d}`, () => keyGraph(d, mode), threads);
  const mMax = Math.min(chunk, source.rows);
  const tn = mode === "l2" ? new Float32Array(mMax * d) : undefined;
  const sq = new Float32Array(mMax);
  const nrm = new Float32Array(mMax);
  const keys = new Float32Array(Math.min(qb, nq) * mMax);
  await forEachRowChunk(source, chunk, async (start, m, rows) => {
    let t = rows;
    if (norm && tn) {
      const part = tn.subarray(0, m * d);
      await normalizeChunk(norm, rows, m, d, part, sq.subarray(0, m), nrm.subarray(0, m));
      // Normalising is stable for finite rows (|t_n|^2 is 1 or 0); NaN marks a NaN / Inf training
      // row, whose keys would be NaN and silently never enter a heap.
      for (let i = 0; i < m; i++) {
        if (sq[i] !== sq[i]) {
          throw new DataError(
            `Nearest-neighbour search: training row ${start + i} holds NaN or Inf; check the ` +
              `training features`,
          );
        }
      }
      t = part;
    }
    const tT = f32Tensor(t, [m, d]);
    const sqT = f32Tensor(sq.subarray(0, m), [m]);
    for (let q0 = 0; q0 < nq; q0 += qb) {
      const b = Math.min(qb, nq - q0);
      const block = keys.subarray(0, b * m);
      const feeds: Record<string, ReturnType<typeof f32Tensor>> = {
        q: f32Tensor(queries.data.subarray(q0 * d, (q0 + b) * d), [b, d]),
        t: tT,
      };
      if (mode === "l2") feeds.sq = sqT;
      await keySession.run(feeds, { key: f32Tensor(block, [b, m]) });
      for (let r = 0; r < b; r++) offer(st, q0 + r, block, r * m, m, start);
    }
  });
  return st;
}

/** Sorts each heap best-first (value descending, index ascending) in place, by heap pops. */
function sortHeaps(st: TopKState): void {
  const { k, values: v, indices: ix } = st;
  const rows = st.sizes.length;
  for (let q = 0; q < rows; q++) {
    const base = q * k;
    // Pop the worst to the end repeatedly: the array ends up best-first.
    for (let size = k; size > 1; size--) {
      swapAt(v, ix, base, base + size - 1);
      siftDown(v, ix, base, size - 1);
    }
  }
}

/**
 * Exact k nearest neighbours (Euclidean, between L2-normalised rows) of every row of `queries`
 * among the rows of `train`, nearest first.
 */
export async function knnSearch(
  queries: Matrix,
  train: RowSource,
  k: number,
  opts: KnnSearchOptions = {},
): Promise<Neighbours> {
  const { normalized, squaredNorms } = await l2NormalizeRows(queries, opts);
  const st = await streamTopK(normalized, train, k, "l2", opts);
  sortHeaps(st);
  const distances = new Float32Array(st.values.length);
  for (let q = 0; q < queries.rows; q++) {
    const qs = squaredNorms[q];
    for (let j = 0; j < k; j++) {
      const key = st.values[q * k + j];
      distances[q * k + j] = qs === qs ? Math.sqrt(Math.max(0, qs - key)) : NaN;
    }
  }
  return { k, rows: queries.rows, indices: st.indices, distances };
}

/** A KNN detector: the training rows (streamed at scoring time) and k. */
export interface KnnModel {
  train: RowSource;
  k: number;
}

/** "Fits" KNN: checks k against the training set (the search itself streams at scoring time). */
export function fitKnn(train: RowSource, k = 50): KnnModel {
  if (!Number.isInteger(k) || k < 1 || k > train.rows) {
    throw new RangeError(
      `KNN k must be an integer in [1, ${train.rows}] (training rows), got ${k}`,
    );
  }
  return { train, k };
}

/**
 * KNN scores `-d_k` for several k from one pass over the training rows (for hyperparameter
 * sweeps): result j is the score with `ks[j]` neighbours.
 */
export async function knnScoresForKs(
  train: RowSource,
  features: Matrix,
  ks: readonly number[],
  opts: KnnSearchOptions = {},
): Promise<Float32Array[]> {
  if (ks.length === 0) return [];
  const kMax = Math.max(...ks);
  const { normalized, squaredNorms } = await l2NormalizeRows(features, opts);
  const st = await streamTopK(normalized, train, kMax, "l2", opts);
  if (ks.length === 1) {
    return [kthScores(st.values, squaredNorms, kMax, 0)];
  }
  sortHeaps(st);
  return ks.map((k) => kthScores(st.values, squaredNorms, kMax, k - 1));
}

function kthScores(values: Float32Array, sqn: Float32Array, k: number, slot: number): Float32Array {
  const out = new Float32Array(sqn.length);
  for (let q = 0; q < sqn.length; q++) {
    const qs = sqn[q];
    out[q] = qs === qs ? -Math.sqrt(Math.max(0, qs - values[q * k + slot])) : NaN;
  }
  return out;
}

/** KNN score `-d_k` per test row (higher = more in-distribution). */
export async function knn(
  model: KnnModel,
  features: Matrix,
  opts: KnnSearchOptions = {},
): Promise<Float32Array> {
  return (await knnScoresForKs(model.train, features, [model.k], opts))[0];
}
