/**
 * KL matching in onnxruntime: `-min_c KL(p || t_c) = max_c sum_i p_i log t_ci - sum_i p_i log p_i`,
 * the cross term being one GEMM `p @ log(T)^T` per chunk. Follows lib/scores/kl_matching.ts
 * exactly: template rows with NaN (classes without samples) are skipped, template entries are
 * floored at `KL_TEMPLATE_FLOOR` before the log, and `0 log 0 = 0` (here as
 * `p * log(max(p, 1e-37))`: p = 0 gives exactly 0, and a p below 1e-37 changes the sum by under
 * 1e-35, while a denormal floor could meet a flush-to-zero `Log` and turn 0 * -inf into NaN).
 *
 * @module
 */
import { DataError } from "../errors.ts";
import type { Matrix } from "../matrix.ts";
import { KL_TEMPLATE_FLOOR } from "../scores/kl_matching.ts";
import { buildModel, int64Const, node, type NodeSpec } from "./graph.ts";
import { cachedSession, defaultThreads } from "./kernel_cache.ts";
import { type ChunkOptions, chunkRowsOf, forEachRowChunk, matrixSource } from "./linear.ts";
import { f32Tensor } from "./session.ts";

/** Smallest normal-range floor for p in `p log p` (see the module notes). */
const PROB_FLOOR = 1e-37;

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

async function run(
  x: Matrix,
  templates: Matrix,
  fromLogits: boolean,
  opts: ChunkOptions,
): Promise<Float32Array> {
  const k = x.cols;
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

/**
 * KL matching score per row of `probs` (N x K softmax probabilities) against `templates`
 * (C x K, from `klTemplates`): `-min_c KL(p || t_c)`, higher = more in-distribution. Agrees with
 * `klMatching` from lib/scores/kl_matching.ts to float32 rounding.
 *
 * @example
 * ```ts
 * const scores = await klMatchingFast(softmaxRows(logits), klTemplates(idProbs, labels, 1000));
 * ```
 */
export function klMatchingFast(
  probs: Matrix,
  templates: Matrix,
  opts: ChunkOptions = {},
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
  opts: ChunkOptions = {},
): Promise<Float32Array> {
  return run(logits, templates, true, opts);
}
