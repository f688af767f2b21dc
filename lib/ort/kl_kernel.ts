/**
 * KL matching in onnxruntime: `-min_c KL(p || t_c) = max_c sum_i p_i log t_ci - sum_i p_i log p_i`,
 * the cross term being one GEMM `p @ log(T)^T` per chunk. Follows lib/scores/kl_matching.ts
 * exactly: template rows with NaN (classes without samples) are skipped, template entries are
 * floored at `KL_TEMPLATE_FLOOR` before the log, and `0 log 0 = 0` (here as
 * `p * log(max(p, 1e-37))`: p = 0 gives exactly 0, and a p below 1e-37 changes the sum by under
 * 1e-35, while a denormal floor could meet a flush-to-zero `Log` and turn 0 * -inf into NaN).
 *
 * Memory. The whole-matrix path keeps `log(T)^T` (K x C float32) for the whole call: 4 MB at
 * C = K = 1000, but 1.9 GB at ImageNet-21k's C = K = 21,843, on top of the templates themselves.
 * When that copy would exceed {@linkcode KlOptions.blockMb} (default
 * {@linkcode DEFAULT_KL_BLOCK_MB}) the templates are streamed instead: per row chunk, `p` and
 * `sum p log p` are computed once, then each block of template rows (zero-copy views of the
 * caller's matrix) is logged inside the graph and multiplied, and the per-block maxima are merged
 * on the host. The log runs in float32 as `log(max(t, floor) * 2^64) - 64 log 2`: the scaling by
 * a power of two is exact and lifts denormal entries (the floor itself is denormal) into the
 * normal range, where the float32 `Log` is accurate even under flush-to-zero; the constant
 * `- 64 log 2` becomes the per-row shift `- 64 log 2 sum_i p_i` on the host. Extra memory is then
 * about 3 x the block, plus the chunk's `p` and its chunk x block cross products.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import type { Matrix } from "../matrix.ts";
import { KL_TEMPLATE_FLOOR } from "../scores/kl_matching.ts";
import { buildModel, int64Const, node, type NodeSpec } from "./graph.ts";
import { cachedSession, defaultThreads } from "./kernel_cache.ts";
import { type ChunkOptions, chunkRowsOf, forEachRowChunk, matrixSource } from "./linear.ts";
import { f32Tensor, ort } from "./session.ts";

/** Smallest normal-range floor for p in `p log p` (see the module notes). */
const PROB_FLOOR = 1e-37;

/**
 * Default {@linkcode KlOptions.blockMb}: the transposed log-templates up to this size are built
 * once for the call (every C <= 8,192 at K = C); larger template sets are streamed in blocks.
 */
export const DEFAULT_KL_BLOCK_MB = 256;

/** Options of the KL kernels. */
export interface KlOptions extends ChunkOptions {
  /**
   * Memory bound of the template side in MiB (float32 log-templates held at once). When the whole
   * K x C log-template matrix fits, it is built once (the fastest path); otherwise blocks of
   * `floor(blockMb MiB / (4 K))` template rows are streamed per row chunk, and peak extra memory
   * stays near 3 x `blockMb` plus `chunkRows x (K + 2 block rows) x 4` bytes. Default
   * {@linkcode DEFAULT_KL_BLOCK_MB}.
   */
  blockMb?: number;
}

/** `log(max(t, floor))^T` of the template rows without NaN: K x A, A = active templates. */
function logTemplatesT(templates: Matrix, k: number): { data: Float32Array; active: number } {
  if (templates.cols !== k) {
    throw new DataError(
      `KL templates have ${templates.cols} columns but the probabilities have ${k}; ` +
        `build the templates from the same head's outputs`,
    );
  }
  const t = templates.data;
  const rows: number[] = [];
  for (let c = 0; c < templates.rows; c++) {
    let ok = true;
    for (let j = 0; j < k && ok; j++) ok = t[c * k + j] === t[c * k + j];
    if (ok) rows.push(c);
  }
  if (rows.length === 0) {
    throw new DataError(
      `All ${templates.rows} KL templates are empty (NaN); the template set had no labelled ID rows`,
    );
  }
  const a = rows.length;
  const out = new Float32Array(k * a);
  for (let r = 0; r < a; r++) {
    const base = rows[r] * k;
    for (let j = 0; j < k; j++) {
      const v = t[base + j];
      out[j * a + r] = Math.log(v > KL_TEMPLATE_FLOOR ? v : KL_TEMPLATE_FLOOR);
    }
  }
  return { data: out, active: a };
}

function klGraph(k: number, a: number, fromLogits: boolean): Uint8Array {
  const nodes: NodeSpec[] = [];
  if (fromLogits) {
    // Softmax and LogSoftmax share the max/logsumexp; p log p comes from LogSoftmax, which is
    // finite even where p underflows to 0 (so 0 log 0 = 0 without a guard).
    nodes.push(
      node("Softmax", ["x"], ["p"], { axis: 1 }),
      node("LogSoftmax", ["x"], ["logp"], { axis: 1 }),
    );
  } else {
    nodes.push(
      node("Identity", ["x"], ["p"]),
      node("Max", ["x", "floor"], ["pf"]),
      node("Log", ["pf"], ["logp"]),
    );
  }
  nodes.push(
    node("Mul", ["p", "logp"], ["plogp"]),
    node("ReduceSum", ["plogp", "axes"], ["negent"], { keepdims: 1 }),
    node("MatMul", ["p", "logt"], ["cross"]),
    node("ReduceMax", ["cross"], ["cmax"], { axes: [1], keepdims: 1 }),
    node("Sub", ["cmax", "negent"], ["score"]),
  );
  return buildModel({
    name: fromLogits ? "kl_matching_logits" : "kl_matching",
    inputs: [
      { name: "x", type: "float32", shape: ["n", k] },
      { name: "logt", type: "float32", shape: [k, a] },
    ],
    outputs: [{ name: "score", type: "float32", shape: ["n", 1] }],
    nodes,
    initializers: fromLogits ? [int64Const("axes", [1])] : [
      int64Const("axes", [1]),
      { name: "floor", dims: [], data: new Float32Array([PROB_FLOOR]) },
    ],
  });
}

/** Rows per streamed template block, or 0 when the whole log-template matrix fits `blockMb`. */
export function klBlockRows(k: number, c: number, blockMb = DEFAULT_KL_BLOCK_MB): number {
  if (!(blockMb > 0) || !Number.isFinite(blockMb)) {
    throw new RangeError(`blockMb must be a positive number of MiB, got ${blockMb}`);
  }
  const bytes = blockMb * 2 ** 20;
  if (4 * k * c <= bytes) return 0;
  return Math.max(1, Math.min(c, Math.floor(bytes / (4 * k))));
}

async function run(
  x: Matrix,
  templates: Matrix,
  fromLogits: boolean,
  opts: KlOptions,
): Promise<Float32Array> {
  const k = x.cols;
  const block = klBlockRows(k, templates.rows, opts.blockMb);
  if (block > 0) return runBlocked(x, templates, fromLogits, block, opts);
  const { data: logt, active } = logTemplatesT(templates, k);
  const session = await cachedSession(
    `kl:${fromLogits ? "logits" : "probs"}:${k}x${active}`,
    () => klGraph(k, active, fromLogits),
    defaultThreads(opts.threads),
  );
  const logtT = f32Tensor(logt, [k, active]);
  const out = new Float32Array(x.rows);
  await forEachRowChunk(matrixSource(x), chunkRowsOf(opts), async (start, n, rows) => {
    await session.run(
      { x: f32Tensor(rows, [n, k]), logt: logtT },
      { score: f32Tensor(out.subarray(start, start + n), [n, 1]) },
    );
  });
  return out;
}

/** Which template rows are usable (no NaN); throws when none is. */
export function validRows(templates: Matrix, k: number): Uint8Array {
  if (templates.cols !== k) {
    throw new DataError(
      `KL templates have ${templates.cols} columns but the probabilities have ${k}; ` +
        `build the templates from the same head's outputs`,
    );
  }
  const t = templates.data;
  const valid = new Uint8Array(templates.rows);
  let any = false;
  for (let c = 0; c < templates.rows; c++) {
    let ok = true;
    for (let j = 0, b = c * k; j < k && ok; j++) ok = t[b + j] === t[b + j];
    valid[c] = ok ? 1 : 0;
    any ||= ok;
  }
  if (!any) {
    throw new DataError(
      `All ${templates.rows} KL templates are empty (NaN); the template set had no labelled ID rows`,
    );
  }
  return valid;
}

/**
 * Per chunk: `p` (from logits), `negent = sum p log p` as the whole-matrix graph has it, and
 * `psum = sum p` (for the log-scale shift, see {@linkcode klBlockGraph}).
 */
function klPrepGraph(k: number, fromLogits: boolean): Uint8Array {
  const nodes = fromLogits
    ? [
      node("Softmax", ["x"], ["p"], { axis: 1 }),
      node("LogSoftmax", ["x"], ["logp"], { axis: 1 }),
      node("Mul", ["p", "logp"], ["plogp"]),
    ]
    : [
      node("Max", ["x", "floor"], ["pf"]),
      node("Log", ["pf"], ["logp"]),
      node("Mul", ["x", "logp"], ["plogp"]),
    ];
  nodes.push(
    node("ReduceSum", ["plogp", "axes"], ["negent"], { keepdims: 1 }),
    node("ReduceSum", [fromLogits ? "p" : "x", "axes"], ["psum"], { keepdims: 1 }),
  );
  return buildModel({
    name: fromLogits ? "kl_prep_logits" : "kl_prep",
    inputs: [{ name: "x", type: "float32", shape: ["n", k] }],
    outputs: [
      ...(fromLogits ? [{ name: "p", type: "float32" as const, shape: ["n", k] }] : []),
      { name: "negent", type: "float32", shape: ["n", 1] },
      { name: "psum", type: "float32", shape: ["n", 1] },
    ],
    nodes,
    initializers: fromLogits ? [int64Const("axes", [1])] : [
      int64Const("axes", [1]),
      { name: "floor", dims: [], data: new Float32Array([PROB_FLOOR]) },
    ],
  });
}

/**
 * Per template block: `max_c p . log(max(t_c, floor) 2^64)` over the block's valid rows. The
 * `- 64 log 2` of each log is a per-row shift `64 log 2 sum p` applied on the host: one
 * block-sized pass less (the block's intermediates dominate the streamed path's memory).
 */
function klBlockGraph(k: number): Uint8Array {
  return buildModel({
    name: "kl_block",
    inputs: [
      { name: "p", type: "float32", shape: ["n", k] },
      { name: "t", type: "float32", shape: ["b", k] },
      { name: "valid", type: "bool", shape: ["b"] },
    ],
    outputs: [{ name: "bmax", type: "float32", shape: ["n", 1] }],
    nodes: [
      // max(t, floor) 2^64 = max(t 2^64, floor 2^64): scaling by a power of two is exact.
      node("Mul", ["t", "scale"], ["ts"]),
      node("Max", ["ts", "tfloor"], ["tf"]),
      node("Log", ["tf"], ["logt"]),
      node("Gemm", ["p", "logt"], ["cross"], { transB: 1 }),
      node("Where", ["valid", "cross", "negInf"], ["masked"]),
      node("ReduceMax", ["masked"], ["bmax"], { axes: [1], keepdims: 1 }),
    ],
    initializers: [
      { name: "tfloor", dims: [], data: new Float32Array([KL_TEMPLATE_FLOOR * 2 ** 64]) },
      { name: "scale", dims: [], data: new Float32Array([2 ** 64]) },
      { name: "negInf", dims: [], data: new Float32Array([-Infinity]) },
    ],
  });
}

/** The streamed path: template blocks of `block` rows per row chunk (see the module notes). */
async function runBlocked(
  x: Matrix,
  templates: Matrix,
  fromLogits: boolean,
  block: number,
  opts: KlOptions,
): Promise<Float32Array> {
  const k = x.cols;
  const c = templates.rows;
  const valid = validRows(templates, k);
  const threads = defaultThreads(opts.threads);
  const prep = await cachedSession(
    `kl-prep:${fromLogits ? "logits" : "probs"}:${k}`,
    () => klPrepGraph(k, fromLogits),
    threads,
  );
  // No arena: the block's intermediates are the bulk of the memory bound (see session.ts).
  const blockSession = await cachedSession(`kl-block:${k}`, () => klBlockGraph(k), threads, {
    memArena: false,
  });
  const chunk = chunkRowsOf(opts);
  const p = fromLogits ? new Float32Array(Math.min(chunk, x.rows) * k) : new Float32Array(0);
  const negent = new Float32Array(Math.min(chunk, x.rows));
  const psum = new Float32Array(negent.length);
  const bmax = new Float32Array(negent.length);
  const cmax = new Float32Array(negent.length);
  const out = new Float32Array(x.rows);
  await forEachRowChunk(matrixSource(x), chunk, async (start, n, rows) => {
    const pn = fromLogits ? p.subarray(0, n * k) : rows;
    await prep.run(
      { x: f32Tensor(rows, [n, k]) },
      {
        negent: f32Tensor(negent.subarray(0, n), [n, 1]),
        psum: f32Tensor(psum.subarray(0, n), [n, 1]),
        ...(fromLogits ? { p: f32Tensor(pn, [n, k]) } : {}),
      },
    );
    cmax.fill(-Infinity);
    for (let b0 = 0; b0 < c; b0 += block) {
      const nb = Math.min(block, c - b0);
      await blockSession.run({
        p: f32Tensor(pn, [n, k]),
        t: f32Tensor(templates.data.subarray(b0 * k, (b0 + nb) * k), [nb, k]),
        valid: new ort.Tensor("bool", valid.subarray(b0, b0 + nb), [nb]),
      }, { bmax: f32Tensor(bmax.subarray(0, n), [n, 1]) });
      // Math.max keeps a NaN row NaN.
      for (let i = 0; i < n; i++) cmax[i] = Math.max(cmax[i], bmax[i]);
    }
    const shift = 64 * Math.LN2;
    for (let i = 0; i < n; i++) {
      out[start + i] = Math.fround(cmax[i] - shift * psum[i] - negent[i]);
    }
  });
  return out;
}

/**
 * KL matching score per row of `probs` (N x K softmax probabilities) against `templates`
 * (C x K, from `klTemplates`): `-min_c KL(p || t_c)`, higher = more in-distribution. Agrees with
 * `klMatching` from lib/scores/kl_matching.ts to float32 rounding.
 *
 * @example
 * ```ts
 * import { matrix } from "../matrix.ts";
 * import { klTemplates } from "../scores/kl_matching.ts";
 * import { softmaxRows } from "../softmax.ts";
 * // Templates from 4 labelled ID rows over 2 classes, then one row to score.
 * const idProbs = softmaxRows(matrix(4, 2, new Float32Array([3, 0, 2, 1, 0, 3, 1, 2])));
 * const labels = new Int32Array([0, 0, 1, 1]);
 * const logits = matrix(1, 2, new Float32Array([2.5, 0.5]));
 * const scores = await klMatchingFast(softmaxRows(logits), klTemplates(idProbs, labels, 2));
 * ```
 */
export function klMatchingFast(
  probs: Matrix,
  templates: Matrix,
  opts: KlOptions = {},
): Promise<Float32Array> {
  return run(probs, templates, false, opts);
}

/**
 * KL matching straight from logits (N x K): the softmax runs inside the graph, so the N x K
 * probabilities are never materialised. Same score as
 * `klMatchingFast(softmaxRows(logits), templates)` up to float32 rounding.
 */
export function klMatchingFromLogits(
  logits: Matrix,
  templates: Matrix,
  opts: KlOptions = {},
): Promise<Float32Array> {
  return run(logits, templates, true, opts);
}
