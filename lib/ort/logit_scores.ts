/**
 * The logit-only scores (MSP, ODIN, Energy, MOS) in onnxruntime: the same formulas as
 * lib/scores/ (which stay the plain float64 references), with the exponentials vectorised by ORT.
 * The TypeScript loops spend ~9 ns per `Math.exp`, ~0.8 s on the paper's 85,640 x 1000 evaluation
 * logits; these kernels take a fraction of that.
 *
 * Per row, with `z = logits / T`, `m = max_j z_j` and `s = sum_j exp(z_j - m)`:
 * - max softmax (MSP at T = 1, ODIN at T = 1000): `1 / s`, as `maxSoftmaxRows`;
 * - energy: `T (m + log s)`, as `energy`;
 * - MOS: per group the same shifted sum over the group's slice, `others_k = exp(z_s - m_k) / s_k`
 *   and the score `-min_k others_k`, as `mos`. Up to {@linkcode MOS_GRAPH_MAX_GROUPS} groups the
 *   graph has a node chain per group. Beyond that (a 21k-class taxonomy level has thousands of
 *   groups) the groups are cut into buckets of similar slice length
 *   (lib/ort/group_buckets.ts); each bucket gathers its groups' columns into an n x count x width
 *   block, padding short slices with a -Infinity column (exp gives exactly 0 there), and reduces
 *   over the last axis: a few nodes per bucket, however many groups.
 *
 * Results agree with the references to float32 rounding (the sums accumulate in float32). As
 * there, a row whose max is infinite (a +Infinity logit, or every logit -Infinity) has energy
 * equal to that max, and NaN logits give NaN.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import type { GroupLayout } from "../groups.ts";
import type { Matrix } from "../matrix.ts";
import { mos } from "../scores/mos.ts";
import {
  buildModel,
  type GraphSpec,
  type Initializer,
  int64Const,
  node,
  type NodeSpec,
} from "./graph.ts";
import { planGroupBuckets } from "./group_buckets.ts";
import { cachedSession, defaultThreads } from "./kernel_cache.ts";
import { type ChunkOptions, chunkRowsOf, forEachRowChunk, matrixSource } from "./linear.ts";
import { f32Tensor } from "./session.ts";

/**
 * Most groups {@linkcode mosFast} runs with one node chain per group (the original graph, kept
 * bit for bit); more groups run as the bucketed graph.
 */
export const MOS_GRAPH_MAX_GROUPS = 64;

/**
 * Bucket overhead of the bucketed MOS graph in padded columns: one more bucket costs a handful
 * of small nodes per chunk, worth about as much as this many padded columns of elementwise work.
 */
const MOS_BUCKET_OVERHEAD = 32;

/** Which softmax statistic {@linkcode softmaxScoreFast} returns. */
export type SoftmaxScore = "max-softmax" | "energy";

/** Nodes for `m = max z`, `s = sum exp(z - m)` over axis 1 of `z` (n x k), named with `tag`. */
export function shiftedSum(z: string, tag: string): NodeSpec[] {
  return [
    node("ReduceMax", [z], [`m${tag}`], { axes: [1], keepdims: 1 }),
    node("Sub", [z, `m${tag}`], [`zm${tag}`]),
    node("Exp", [`zm${tag}`], [`e${tag}`]),
    node("ReduceSum", [`e${tag}`, "axes"], [`s${tag}`], { keepdims: 1 }),
  ];
}

/** The graph of {@linkcode softmaxScoreFast}: input `x` (n x k) and scalar `T`, output `score`. */
export function softmaxSpec(k: number, kind: SoftmaxScore): GraphSpec {
  // z = x / T, divided like the references (a reciprocal of a tiny T could overflow).
  const nodes: NodeSpec[] = [node("Div", ["x", "T"], ["z"]), ...shiftedSum("z", "")];
  if (kind === "max-softmax") nodes.push(node("Reciprocal", ["s"], ["score"]));
  else {
    nodes.push(
      node("Log", ["s"], ["logs"]),
      node("Add", ["m", "logs"], ["lse0"]),
      // An infinite max: the answer is the max itself (the shifted sum is NaN there).
      node("IsInf", ["m"], ["infMax"]),
      node("Where", ["infMax", "m", "lse0"], ["lse"]),
      node("Mul", ["lse", "T"], ["score"]),
    );
  }
  return {
    name: `softmax_${kind}`,
    inputs: [
      { name: "x", type: "float32", shape: ["n", k] },
      { name: "T", type: "float32", shape: [] },
    ],
    outputs: [{ name: "score", type: "float32", shape: ["n", 1] }],
    nodes,
    initializers: [int64Const("axes", [1])],
  };
}

/** Throws a RangeError unless `t` is a positive finite float32 temperature. */
export function checkTemperature(t: number): void {
  // The graph divides in float32: T must stay positive and finite there too.
  const t32 = Math.fround(t);
  if (!(t > 0) || !Number.isFinite(t) || !(t32 > 0) || !Number.isFinite(t32)) {
    throw new RangeError(`temperature must be a positive finite float32 number, got ${t}`);
  }
}

/**
 * Max softmax probability of `logits / T` (MSP at T = 1, ODIN at T = 1000) or the energy
 * `T logsumexp(logits / T)`, per row of an N x K logits matrix.
 *
 * @example
 * ```ts
 * import { matrix } from "../matrix.ts";
 * const logits = matrix(2, 3, new Float32Array([4, 1, 0, 1, 1, 1])); // N = 2, K = 3
 * const odin = await softmaxScoreFast(logits, "max-softmax", 1000);
 * ```
 */
export async function softmaxScoreFast(
  logits: Matrix,
  kind: SoftmaxScore,
  temperature = 1,
  opts: ChunkOptions = {},
): Promise<Float32Array> {
  checkTemperature(temperature);
  const k = logits.cols;
  if (logits.rows === 0) return new Float32Array(0);
  if (k < 1) {
    throw new DataError(
      `Logits have ${logits.rows} rows but 0 columns; a softmax needs at least one class per row`,
    );
  }
  const session = await cachedSession(
    `softmax:${kind}:${k}`,
    () => buildModel(softmaxSpec(k, kind)),
    defaultThreads(opts.threads),
  );
  const T = f32Tensor(new Float32Array([temperature]), []);
  const out = new Float32Array(logits.rows);
  await forEachRowChunk(matrixSource(logits), chunkRowsOf(opts), async (start, n, rows) => {
    await session.run(
      { x: f32Tensor(rows, [n, k]), T },
      { score: f32Tensor(out.subarray(start, start + n), [n, 1]) },
    );
  });
  return out;
}

/**
 * `score = -min(others)` over the n x k_i tensors `others`, NaN-propagating (needs the
 * initializers `axes` = [1] and `zeroF` = 0).
 */
export function minOthersNodes(others: string[]): NodeSpec[] {
  return [
    others.length > 1 ? node("Concat", others, ["all"], { axis: 1 }) : node("Identity", others, [
      "all",
    ]),
    node("ReduceMin", ["all"], ["omin"], { axes: [1], keepdims: 1 }),
    // ReduceMin may drop a NaN; 0 * (sum of all others) carries it into the score as in `mos`.
    node("ReduceSum", ["all", "axes"], ["osum"], { keepdims: 1 }),
    node("Mul", ["osum", "zeroF"], ["nanGuard"]),
    node("Sub", ["nanGuard", "omin"], ["score"]),
  ];
}

function mosChainSpec(layout: GroupLayout): GraphSpec {
  const K = layout.numGroups;
  const O = layout.numOutputs;
  const nodes: NodeSpec[] = [];
  const inits = [int64Const("axes", [1])];
  const others: string[] = [];
  for (let g = 0; g < K; g++) {
    const s = layout.starts[g];
    const e = s + layout.sizes[g];
    inits.push(int64Const(`start${g}`, [s]), int64Const(`end${g}`, [e]));
    nodes.push(
      node("Slice", ["x", `start${g}`, `end${g}`, "axes"], [`z${g}`]),
      ...shiftedSum(`z${g}`, `_${g}`),
      // others_g = exp(z_s - m_g) / s_g: the first column of the shifted exponentials.
      node("Slice", [`e_${g}`, "zero", "one", "axes"], [`eo${g}`]),
      node("Div", [`eo${g}`, `s_${g}`], [`o${g}`]),
    );
    others.push(`o${g}`);
  }
  inits.push(int64Const("zero", [0]), int64Const("one", [1]));
  nodes.push(...minOthersNodes(others));
  return {
    name: "mos",
    inputs: [{ name: "x", type: "float32", shape: ["n", O] }],
    outputs: [{ name: "score", type: "float32", shape: ["n", 1] }],
    nodes,
    initializers: [...inits, { name: "zeroF", dims: [], data: new Float32Array([0]) }],
  };
}

/** Gather indices of a bucket: `width` columns per group, padded with `pad` (the -Inf column). */
function bucketIndices(layout: GroupLayout, groups: number[], width: number, pad: number) {
  const idx: number[] = [];
  for (const g of groups) {
    const s = layout.starts[g];
    const n = layout.sizes[g];
    for (let j = 0; j < width; j++) idx.push(j < n ? s + j : pad);
  }
  return idx;
}

/** The MOS graph for any number of groups: one Gather + reduce chain per bucket. */
function mosBucketSpec(layout: GroupLayout): GraphSpec {
  const O = layout.numOutputs;
  const nodes: NodeSpec[] = [
    // xp = [x, -Inf]: column O is the padding every short slice points at.
    node("Pad", ["x", "pads", "negInf"], ["xp"], { mode: "constant" }),
  ];
  const inits: Initializer[] = [
    int64Const("pads", [0, 0, 0, 1]),
    { name: "negInf", dims: [], data: new Float32Array([-Infinity]) },
    int64Const("axes", [1]),
    int64Const("axes2", [2]),
    int64Const("zero", [0]),
    int64Const("one", [1]),
  ];
  const others: string[] = [];
  planGroupBuckets(layout.sizes, MOS_BUCKET_OVERHEAD).forEach((groups, b) => {
    const width = layout.sizes[groups[0]]; // buckets list their longest slice first
    const t = `_${b}`;
    inits.push(
      int64Const(`idx${t}`, bucketIndices(layout, groups, width, O)),
      int64Const(`shape3${t}`, [0, groups.length, width]),
      int64Const(`shape2${t}`, [0, groups.length]),
    );
    nodes.push(
      node("Gather", ["xp", `idx${t}`], [`g${t}`], { axis: 1 }),
      node("Reshape", [`g${t}`, `shape3${t}`], [`z${t}`]),
      node("ReduceMax", [`z${t}`], [`m${t}`], { axes: [2], keepdims: 1 }),
      node("Sub", [`z${t}`, `m${t}`], [`zm${t}`]),
      node("Exp", [`zm${t}`], [`e${t}`]),
      node("ReduceSum", [`e${t}`, "axes2"], [`s${t}`], { keepdims: 1 }),
      // others = exp(z_s - m) / s: the first column of each group's shifted exponentials.
      node("Slice", [`e${t}`, "zero", "one", "axes2"], [`eo${t}`]),
      node("Div", [`eo${t}`, `s${t}`], [`o3${t}`]),
      node("Reshape", [`o3${t}`, `shape2${t}`], [`o${t}`]),
    );
    others.push(`o${t}`);
  });
  nodes.push(...minOthersNodes(others));
  return {
    name: "mos_buckets",
    inputs: [{ name: "x", type: "float32", shape: ["n", O] }],
    outputs: [{ name: "score", type: "float32", shape: ["n", 1] }],
    nodes,
    initializers: [...inits, { name: "zeroF", dims: [], data: new Float32Array([0]) }],
  };
}

/**
 * The graph of {@linkcode mosFast} for `layout`: input `x` (n x O), output `score`. Up to
 * {@linkcode MOS_GRAPH_MAX_GROUPS} groups a node chain per group, beyond that the bucketed graph.
 */
export function mosSpec(layout: GroupLayout): GraphSpec {
  return layout.numGroups <= MOS_GRAPH_MAX_GROUPS ? mosChainSpec(layout) : mosBucketSpec(layout);
}

/** Kernel-cache key of {@linkcode mosSpec}: names the whole layout (starts follow from sizes). */
export function mosKey(layout: GroupLayout): string {
  const chain = layout.numGroups <= MOS_GRAPH_MAX_GROUPS;
  return `mos${chain ? "" : "-buckets"}:${layout.numOutputs}:${Array.from(layout.sizes)}`;
}

/**
 * MOS score `-min_k p_k(others)` per row of an N x O group-head logits matrix (the layout of
 * `layout`), as lib/scores/mos.ts computes it.
 */
export async function mosFast(
  layout: GroupLayout,
  logits: Matrix,
  opts: ChunkOptions = {},
): Promise<Float32Array> {
  if (logits.cols !== layout.numOutputs) {
    throw new DataError(
      `Group logits have ${logits.cols} columns but the grouping needs ${layout.numOutputs} ` +
        `(${layout.numClasses} classes + ${layout.numGroups} "others"); use the head's own groups`,
    );
  }
  if (logits.rows === 0) return mos(layout, logits);
  const session = await cachedSession(
    mosKey(layout),
    () => buildModel(mosSpec(layout)),
    defaultThreads(opts.threads),
  );
  const O = layout.numOutputs;
  const out = new Float32Array(logits.rows);
  await forEachRowChunk(matrixSource(logits), chunkRowsOf(opts), async (start, n, rows) => {
    await session.run(
      { x: f32Tensor(rows, [n, O]) },
      { score: f32Tensor(out.subarray(start, start + n), [n, 1]) },
    );
  });
  return out;
}
