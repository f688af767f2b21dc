/**
 * KL matching at ImageNet-21k scale: features through the head, softmax, and the cross term
 * against every template in one onnxruntime graph per row chunk, with the log of the templates
 * taken once for the whole call instead of once per chunk.
 *
 * At C = K = 21,843 the templates are 1.9 GB of float32 and the cross term `p @ log(T)^T` is
 * 1.95 TFLOP per 2048-row chunk: the GEMM is the cost. The per-chunk path of lib/ort/kl_kernel.ts
 * logs every template block again for every chunk (three passes over 1.9 GB per chunk) and
 * fetches the chunk's probabilities between graphs. Here {@linkcode logKlTemplates} replaces the
 * templates by `log(max(t, KL_TEMPLATE_FLOOR))` (in place by default, so the 1.9 GB exist once),
 * and {@linkcode klMatchingFromFeatures} feeds the log-template blocks as zero-copy inputs of one
 * graph: `x = f W^T + b`, `p = softmax(x)`, `negent = sum p log p` (from LogSoftmax, so
 * `0 log 0 = 0`), then per block `max_c p . log t_c`, the max over blocks, and
 * `score = max - negent`. Template rows with a NaN (classes without samples) never win, as
 * lib/scores/kl_matching.ts skips them: their log-template rows are -1e30.
 *
 * Memory: the log-templates (the caller's buffer), the head, two feature chunks and the graph's
 * chunk x K intermediates (x, p, log p) plus one chunk x block cross product at a time;
 * `blockMb` bounds the template rows one product takes.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import type { Matrix } from "../matrix.ts";
import { KL_TEMPLATE_FLOOR } from "../scores/kl_matching.ts";
import { buildModel, int64Const, node, type NodeSpec, type ValueSpec } from "./graph.ts";
import { cachedSession, defaultThreads } from "./kernel_cache.ts";
import { DEFAULT_KL_BLOCK_MB, type KlOptions, validRows } from "./kl_kernel.ts";
import { checkLinearHead, chunkRowsOf, forEachRowChunk, type RowSource } from "./linear.ts";
import { f32Tensor, type ort } from "./session.ts";

/**
 * Templates ready for {@linkcode klMatchingFromFeatures}: `log(max(t_c, KL_TEMPLATE_FLOOR))` of
 * every template, C x K row-major. The row of an empty template (a NaN) is
 * {@linkcode EMPTY_TEMPLATE_LOG} everywhere: its cross term `-1e30 sum p` never wins against a
 * usable one's (at least `log(floor) sum p`, about -103), as lib/scores/kl_matching.ts skips it.
 */
export interface KlLogTemplates {
  /** C x K log-templates. */
  log: Matrix;
  /** 1 for a usable template (no NaN), 0 for an empty one (a class without samples). */
  valid: Uint8Array;
}

/** The log-template value of every entry of an empty template (see {@linkcode KlLogTemplates}). */
export const EMPTY_TEMPLATE_LOG = -1e30;

/** Template rows logged per onnxruntime run by {@linkcode logKlTemplates}. */
const LOG_RUN_ROWS = 256;

function logGraph(k: number): Uint8Array {
  // The floor is a float32 denormal, on which float32 Log is inaccurate (and zero under
  // flush-to-zero): log(max(t, floor)) = log(max(t 2^64, floor 2^64)) - 64 log 2, where the
  // scaling by a power of two is exact and lifts every entry into the normal range. The cost is
  // the float32 rounding of a log near 44: at most about 4e-6 absolute. (A Where between this and
  // a direct Log measured 2.5x slower here.)
  return buildModel({
    name: "kl_log_templates",
    inputs: [{ name: "t", type: "float32", shape: ["b", k] }],
    outputs: [{ name: "logt", type: "float32", shape: ["b", k] }],
    nodes: [
      node("Mul", ["t", "scale"], ["ts"]),
      node("Max", ["ts", "floor"], ["tf"]),
      node("Log", ["tf"], ["lts"]),
      node("Sub", ["lts", "shift"], ["logt"]),
    ],
    initializers: [
      { name: "floor", dims: [], data: new Float32Array([KL_TEMPLATE_FLOOR * 2 ** 64]) },
      { name: "scale", dims: [], data: new Float32Array([2 ** 64]) },
      { name: "shift", dims: [], data: new Float32Array([64 * Math.LN2]) },
    ],
  });
}

/** Template rows per block of the cross term for `blockMb` MiB (at least 1, at most C). */
function blockRowsOf(k: number, c: number, blockMb: number): number {
  if (!(blockMb > 0) || !Number.isFinite(blockMb)) {
    throw new RangeError(`blockMb must be a positive number of MiB, got ${blockMb}`);
  }
  return Math.max(1, Math.min(c, Math.floor((blockMb * 2 ** 20) / (4 * k))));
}

/** Options of {@linkcode logKlTemplates}. */
export interface LogTemplateOptions {
  /** Intra-op threads for onnxruntime; default every core. */
  threads?: number;
  /** Write over the templates' own buffer (default true): the 1.9 GB of 21k templates exist once. */
  inPlace?: boolean;
}

/**
 * `log(max(t, KL_TEMPLATE_FLOOR))` of every template row (C x K, as `klTemplates` returns them)
 * in float32 (within about 4e-6 of the float64 log, see the graph's note), written over
 * `templates` unless `inPlace` is false (the templates are then no longer probabilities). Throws
 * a DataError when every template is empty (NaN).
 */
export async function logKlTemplates(
  templates: Matrix,
  opts: LogTemplateOptions = {},
): Promise<KlLogTemplates> {
  const { rows: c, cols: k } = templates;
  const valid = validRows(templates, k);
  const src = templates.data;
  const out = opts.inPlace === false ? new Float32Array(src.length) : src;
  const session = await cachedSession(
    `kl-log:${k}`,
    () => logGraph(k),
    defaultThreads(opts.threads),
  );
  const buf = new Float32Array(Math.min(LOG_RUN_ROWS, c) * k);
  for (let r0 = 0; r0 < c; r0 += LOG_RUN_ROWS) {
    const n = Math.min(LOG_RUN_ROWS, c - r0);
    const res = buf.subarray(0, n * k);
    await session.run(
      { t: f32Tensor(src.subarray(r0 * k, (r0 + n) * k), [n, k]) },
      { logt: f32Tensor(res, [n, k]) },
    );
    out.set(res, r0 * k);
  }
  for (let t = 0; t < c; t++) if (!valid[t]) out.fill(EMPTY_TEMPLATE_LOG, t * k, (t + 1) * k);
  return { log: { data: out, rows: c, cols: k }, valid };
}

function klFeatureGraph(d: number, k: number, blocks: number[]): Uint8Array {
  const inputs: ValueSpec[] = [
    { name: "f", type: "float32", shape: ["n", d] },
    { name: "w", type: "float32", shape: [k, d] },
    { name: "b", type: "float32", shape: [k] },
  ];
  const nodes: NodeSpec[] = [
    node("Gemm", ["f", "w", "b"], ["x"], { transB: 1 }),
    // p = exp(log softmax): measured here, Softmax over 21,843 columns took 20x LogSoftmax's time.
    node("LogSoftmax", ["x"], ["logp"], { axis: 1 }),
    node("Exp", ["logp"], ["p"]),
    node("Mul", ["p", "logp"], ["plogp"]),
    node("ReduceSum", ["plogp", "axes"], ["negent"], { keepdims: 1 }),
  ];
  const maxes = blocks.map((rows, i) => {
    inputs.push({ name: `l${i}`, type: "float32", shape: [rows, k] });
    nodes.push(
      // Measured here: Gemm(p, L^T), MatMul(L, p^T) and MatMul(p, L^T) on a pre-transposed
      // block all run at the same rate, so the templates stay row-major.
      node("Gemm", ["p", `l${i}`], [`cross${i}`], { transB: 1 }),
      node("ReduceMax", [`cross${i}`], [`bmax${i}`], { axes: [1], keepdims: 1 }),
    );
    return `bmax${i}`;
  });
  nodes.push(
    node(maxes.length > 1 ? "Max" : "Identity", maxes, ["cmax"]),
    // A NaN row has a NaN negent, so its score stays NaN whatever ReduceMax did with it.
    node("Sub", ["cmax", "negent"], ["score"]),
  );
  return buildModel({
    name: "kl_matching_features",
    inputs,
    outputs: [{ name: "score", type: "float32", shape: ["n", 1] }],
    nodes,
    initializers: [int64Const("axes", [1])],
  });
}

/**
 * KL matching score `-min_c KL(p || t_c)` (higher = more in-distribution) for every row of
 * `source`, with `p = softmax(f W^T + b)` through the head `weight` (K x D), `bias` (K) and the
 * templates of {@linkcode logKlTemplates}. Agrees with `klMatching` of lib/scores/kl_matching.ts on
 * the head's probabilities to float32 rounding; the logits and probabilities never leave
 * onnxruntime.
 *
 * @example
 * ```ts
 * import { matrix } from "../matrix.ts";
 * import { klTemplates } from "../scores/kl_matching.ts";
 * import { softmaxRows } from "../softmax.ts";
 * import { matrixSource } from "./linear.ts";
 * const features = matrix(2, 2, new Float32Array([1, 0, 0, 1])); // N = 2, D = 2
 * const weight = matrix(2, 2, new Float32Array([2, 0, 0, 2])); // K = 2 classes
 * const bias = new Float32Array(2);
 * const probs = softmaxRows(matrix(2, 2, new Float32Array([2, 0, 0, 2])));
 * const templates = await logKlTemplates(klTemplates(probs, new Int32Array([0, 1]), 2));
 * const scores = await klMatchingFromFeatures(matrixSource(features), weight, bias, templates);
 * ```
 */
export async function klMatchingFromFeatures(
  source: RowSource,
  weight: Matrix,
  bias: Float32Array,
  templates: KlLogTemplates,
  opts: KlOptions = {},
): Promise<Float32Array> {
  checkLinearHead(source.cols, weight, bias);
  const { rows: k, cols: d } = weight;
  const { log } = templates;
  if (log.cols !== k) {
    throw new DataError(
      `KL templates have ${log.cols} columns but the head has ${k} outputs; ` +
        `build the templates from the same head's outputs`,
    );
  }
  const out = new Float32Array(source.rows);
  if (source.rows === 0) return out;
  const c = log.rows;
  const per = blockRowsOf(k, c, opts.blockMb ?? DEFAULT_KL_BLOCK_MB);
  const blocks: number[] = [];
  for (let r0 = 0; r0 < c; r0 += per) blocks.push(Math.min(per, c - r0));
  const session = await cachedSession(
    `kl-features:${d}:${k}:${blocks.join(",")}`,
    () => klFeatureGraph(d, k, blocks),
    defaultThreads(opts.threads),
  );
  const feeds: Record<string, ort.Tensor> = {
    w: f32Tensor(weight.data, [k, d]),
    b: f32Tensor(bias, [k]),
  };
  blocks.forEach((rows, i) => {
    const r0 = i * per;
    feeds[`l${i}`] = f32Tensor(log.data.subarray(r0 * k, (r0 + rows) * k), [rows, k]);
  });
  await forEachRowChunk(source, chunkRowsOf(opts), async (start, n, rows) => {
    await session.run(
      { ...feeds, f: f32Tensor(rows, [n, d]) },
      { score: f32Tensor(out.subarray(start, start + n), [n, 1]) },
    );
  });
  return out;
}
