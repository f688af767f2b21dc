/**
 * One SGD step of a linear head as a single onnxruntime graph: mixup of the batch, forward
 * (X W^T + b), (group) log-softmax, gradient of the soft-target cross-entropy, PyTorch momentum
 * (v = 0.9 v + g) and the weight update (w -= lr v), plus the loss.
 *
 * Design notes (measured on the 2-core dev machine, 512 x 2048 -> 1008):
 * - The two GEMMs are ~85% of the time. The momentum update is folded into the gradient GEMM
 *   (`Gemm(G^T, X, vW, beta = 0.9)`), so only `W - lr v` is a separate elementwise pass.
 * - The gradient GEMM gets G^T as a real matrix: with `transA` MLAS packs the transposed B x O
 *   operand slowly (6.3 vs 5.4 ms per step in ORT's profiler). The 1/B scale sits between the
 *   Transpose and the Gemm so that ORT's GemmTransposeFusion cannot fold the Transpose back.
 * - State lives in two ping-pong sets of Float32Arrays handed to `session.run` as pre-allocated
 *   outputs (`fetches`): ORT writes the new state straight into the other set. Letting ORT
 *   allocate the 8 MB outputs each step cost ~9 ms per output (fresh pages); onnxruntime-node
 *   1.30 still returns a copy of every fetched output (~0.5 ms per 8 MB), which is dropped.
 * - Group softmax without a node per group and without gathers: the step keeps the head in a
 *   packed row order ({@linkcode packLayout}) where groups of similar slice length share a bucket
 *   and short slices are padded with rows of bias -1e30; each bucket's logits are then a Reshape
 *   to B x K_b x N_b and one LogSoftmax. A Gather-based version (pad column + gather in + gather
 *   back) cost ~2.2 ms/step more at 8 groups.
 * - The targets come in sparse form (lib/train/sparse_targets.ts): `P - T` is
 *   `P - osum * othersRow` plus a scatter-add of at most four corrections per row, so the dense
 *   B x O targets (45 MB per step at 21,851 outputs) are never filled, fed or read.
 * - onnxruntime-node runs `session.run` synchronously on the JS thread (inside `setImmediate`),
 *   so a TypeScript batch gather cannot overlap a running step; the trainer does it between runs
 *   (~0.6 ms for 512 rows of 2048).
 *
 * @module
 */
import type { GroupLayout } from "../groups.ts";
import { buildModel, floatConst, type Initializer, int64Const, node } from "../ort/graph.ts";
import { planGroupBuckets as planBuckets } from "../ort/group_buckets.ts";
import type { NodeSpec, ValueSpec } from "../ort/graph.ts";
import { createSession, f32Tensor, ort } from "../ort/session.ts";
import type { MixupDraw } from "./mixup.ts";
import { entriesPerRow, othersRow, sparseTargets } from "./sparse_targets.ts";

/** Fixed sizes of a training step. */
export interface StepShape {
  /** Batch size B. */
  batch: number;
  /** Feature dimension D. */
  dim: number;
  /** Outputs O: C (flat) or C + K (group). */
  numOutputs: number;
  /** Group layout, or `null` for a flat softmax head. */
  layout: GroupLayout | null;
  /** Whether batches are mixed (mixup alpha > 0). */
  mixup: boolean;
}

/** Head parameters and SGD momentum buffers; weights are O x D row-major. */
export interface HeadState {
  weight: Float32Array;
  bias: Float32Array;
  vWeight: Float32Array;
  vBias: Float32Array;
}

/** One step's batch description (its features are in the step's `xs[j]` buffer). */
export interface StepBatch {
  /** Class of each of the B rows. */
  labels: Int32Array;
  /** Mixup draw of the step. */
  draw: MixupDraw;
  /** Learning rate of the step. */
  lr: number;
}

/**
 * A training step (ORT or reference) that runs up to `unroll` consecutive steps per call. The
 * caller fills `xs[j]` with the B x D un-mixed batch of the j-th step of the call, then calls
 * `run`; the step builds its soft targets itself.
 */
export interface TrainStep {
  readonly shape: StepShape;
  /** Most steps one `run` takes. */
  readonly unroll: number;
  /** B x D batch buffers, one per step of a run. */
  readonly xs: Float32Array[];
  /**
   * Applies `batches.length <= unroll` consecutive updates; resolves to each step's loss (before
   * its update).
   */
  run(batches: StepBatch[]): Promise<Float32Array>;
  /** A copy of the current parameters in the paper's output order. */
  state(): HeadState;
  /** Replaces the current parameters with `state` (paper's output order). */
  load(state: HeadState): void;
  /** Frees native resources. */
  release(): Promise<void>;
}

/** A zero head (BiT's zero-initialised head) with zero momentum. */
export function zeroState(numOutputs: number, dim: number): HeadState {
  return {
    weight: new Float32Array(numOutputs * dim),
    bias: new Float32Array(numOutputs),
    vWeight: new Float32Array(numOutputs * dim),
    vBias: new Float32Array(numOutputs),
  };
}

/** Checks a state's array sizes against a shape. */
export function checkState(shape: StepShape, s: HeadState): void {
  const O = shape.numOutputs;
  const OD = O * shape.dim;
  if (
    s.weight.length !== OD || s.vWeight.length !== OD || s.bias.length !== O ||
    s.vBias.length !== O
  ) {
    throw new RangeError(`Head state does not match ${O} outputs x ${shape.dim} features`);
  }
}

/** Checks shape consistency (layout outputs, positive sizes). */
export function checkShape(shape: StepShape): void {
  const { batch, dim, numOutputs, layout } = shape;
  for (const [k, v] of [["batch", batch], ["dim", dim], ["numOutputs", numOutputs]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`Step ${k} must be >= 1, got ${v}`);
  }
  if (layout && layout.numOutputs !== numOutputs) {
    throw new RangeError(`Group layout has ${layout.numOutputs} outputs, step has ${numOutputs}`);
  }
}

/**
 * Default bucket overhead, in padded rows: a padded row costs two GEMM columns (~10 us at
 * 512 x 2048), an extra bucket three small nodes (~30 us).
 */
export const DEFAULT_BUCKET_OVERHEAD = 3;

/**
 * Packs groups into buckets for the padded group softmax: `planGroupBuckets` of
 * lib/ort/group_buckets.ts with the step's default overhead, in padded rows.
 */
export function planGroupBuckets(
  sizes: ArrayLike<number>,
  overhead = DEFAULT_BUCKET_OVERHEAD,
): number[][] {
  return planBuckets(sizes, overhead);
}

/** Where each group's slice lives inside the packed internal output order. */
export interface PackedLayout {
  /** Packed row count O' >= O (padding rows included). */
  width: number;
  /** Packed column of each paper output index (length O). */
  column: Int32Array;
  /** Contiguous buckets: `count` groups of `width` packed columns each, starting at `offset`. */
  buckets: { offset: number; count: number; width: number }[];
}

/**
 * The packed output order of a group head: buckets from {@linkcode planGroupBuckets}, one after
 * the other; inside a bucket each group takes `width` consecutive rows (its slice, then padding).
 * Padding rows carry weight 0 and bias -1e30, so their logit is -1e30, their probability exactly
 * 0, their gradient exactly 0, and they never change; the group softmax is then a Reshape to
 * B x K_b x N_b and one LogSoftmax per bucket, with no gathers.
 */
export function packLayout(layout: GroupLayout, overhead = DEFAULT_BUCKET_OVERHEAD): PackedLayout {
  const column = new Int32Array(layout.numOutputs);
  const buckets: PackedLayout["buckets"] = [];
  let offset = 0;
  for (const groups of planGroupBuckets(layout.sizes, overhead)) {
    const width = layout.sizes[groups[0]];
    groups.forEach((k, r) => {
      for (let j = 0; j < layout.sizes[k]; j++) {
        column[layout.starts[k] + j] = offset + r * width + j;
      }
    });
    buckets.push({ offset, count: groups.length, width });
    offset += groups.length * width;
  }
  return { width: offset, column, buckets };
}

/** Shape constants of the group log-softmax, shared by every unrolled step. */
function groupConstants(packed: PackedLayout, batch: number): Initializer[] {
  const inits = [int64Const("splitSizes", packed.buckets.map((b) => b.count * b.width))];
  packed.buckets.forEach((b, i) => {
    inits.push(int64Const(`shape3_${i}`, [batch, b.count, b.width]));
    inits.push(int64Const(`shape2_${i}`, [batch, b.count * b.width]));
  });
  return inits;
}

/** Nodes computing `ls` (B x O' packed group log-softmax) from `z`; `s` suffixes their names. */
function groupLogSoftmax(packed: PackedLayout, z: string, ls: string, s: string): NodeSpec[] {
  const nodes: NodeSpec[] = [];
  const many = packed.buckets.length > 1;
  if (many) {
    const outs = packed.buckets.map((_, i) => `zb${i}_${s}`);
    nodes.push(node("Split", [z, "splitSizes"], outs, { axis: 1 }));
  }
  const parts = packed.buckets.map((_, i) => {
    nodes.push(
      node("Reshape", [many ? `zb${i}_${s}` : z, `shape3_${i}`], [`z3_${i}_${s}`]),
      node("LogSoftmax", [`z3_${i}_${s}`], [`l3_${i}_${s}`], { axis: 2 }),
      node("Reshape", [`l3_${i}_${s}`, `shape2_${i}`], [many ? `l2_${i}_${s}` : ls]),
    );
    return `l2_${i}_${s}`;
  });
  if (many) nodes.push(node("Concat", parts, [ls], { axis: 1 }));
  return nodes;
}

/** Options of {@linkcode buildStepModel}. */
export interface StepModelOptions {
  /** Bucket overhead for {@linkcode planGroupBuckets}, in padded rows. */
  bucketOverhead?: number;
  /** Consecutive steps per graph run (default 1). */
  unroll?: number;
}

/** The packed order the ORT step uses for `shape` (identity order for a flat head). */
export function stepPacking(shape: StepShape, options: StepModelOptions = {}): PackedLayout {
  if (shape.layout) return packLayout(shape.layout, options.bucketOverhead);
  const column = new Int32Array(shape.numOutputs);
  for (let o = 0; o < column.length; o++) column[o] = o;
  return { width: shape.numOutputs, column, buckets: [] };
}

/**
 * Serialises the training-step graph for `shape`, `unroll` = k consecutive steps per run.
 * Inputs: W (O' x D), b, vW, vb and, for each step i < k: X{i} (B x D), the sparse targets in
 * packed order (lib/train/sparse_targets.ts): tidx{i} (int32 B x E), tval{i} (B x E) and, for a
 * group head, osum{i} (scalar), then lr{i} (scalar) and, with mixup, perm{i} (int32 B), lam{i},
 * lamc{i} (scalars).
 * Outputs: W2, b2, vW2, vb2 (after the k steps) and loss{i} (scalars, before step i's update).
 * O' = `stepPacking(shape).width`. Step i of a k-step graph runs exactly the kernels of a 1-step
 * graph, so results do not depend on k.
 */
export function buildStepModel(shape: StepShape, options: StepModelOptions = {}): Uint8Array {
  checkShape(shape);
  const { batch: B, dim: D, mixup } = shape;
  const k = options.unroll ?? 1;
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`unroll must be >= 1, got ${k}`);
  const packed = stepPacking(shape, options);
  const O = packed.width;
  const E = entriesPerRow(shape.layout, mixup);
  const nodes: NodeSpec[] = [];
  const inits: Initializer[] = [
    floatConst("invB", [], [1 / B]),
    floatConst("negInvB", [], [-1 / B]),
    floatConst("momentum", [], [0.9]),
    int64Const("axis1", [1]),
    ...(shape.layout ? groupConstants(packed, B) : []),
  ];
  if (shape.layout) {
    const others = othersRow(shape.layout, packed.column, O);
    inits.push(floatConst("othersRow", [1, O], others), floatConst("othersCol", [O, 1], others));
  }
  const inputs: ValueSpec[] = [
    { name: "W", type: "float32", shape: [O, D] },
    { name: "b", type: "float32", shape: [O] },
    { name: "vW", type: "float32", shape: [O, D] },
    { name: "vb", type: "float32", shape: [O] },
  ];
  const outputs: ValueSpec[] = [
    { name: "W2", type: "float32", shape: [O, D] },
    { name: "b2", type: "float32", shape: [O] },
    { name: "vW2", type: "float32", shape: [O, D] },
    { name: "vb2", type: "float32", shape: [O] },
  ];
  let [w, b, vw, vb] = ["W", "b", "vW", "vb"];
  for (let i = 0; i < k; i++) {
    const last = i === k - 1;
    const n = (name: string) => `${name}_${i}`;
    const [w2, b2, vw2, vb2] = last
      ? ["W2", "b2", "vW2", "vb2"]
      : [n("W"), n("b"), n("vW"), n("vb")];
    inputs.push(
      { name: `X${i}`, type: "float32", shape: [B, D] },
      { name: `tidx${i}`, type: "int32", shape: [B, E] },
      { name: `tval${i}`, type: "float32", shape: [B, E] },
      ...(shape.layout ? [{ name: `osum${i}`, type: "float32" as const, shape: [] }] : []),
      { name: `lr${i}`, type: "float32", shape: [] },
    );
    outputs.push({ name: `loss${i}`, type: "float32", shape: [] });
    let xm = `X${i}`;
    if (mixup) {
      inputs.push(
        { name: `perm${i}`, type: "int32", shape: [B] },
        { name: `lam${i}`, type: "float32", shape: [] },
        { name: `lamc${i}`, type: "float32", shape: [] },
      );
      nodes.push(
        node("Gather", [`X${i}`, `perm${i}`], [n("Xp")], { axis: 0 }),
        node("Mul", [`X${i}`, `lam${i}`], [n("Xa")]),
        node("Mul", [n("Xp"), `lamc${i}`], [n("Xb")]),
        node("Add", [n("Xa"), n("Xb")], [n("Xm")]),
      );
      xm = n("Xm");
    }
    nodes.push(node("Gemm", [xm, w, b], [n("Z")], { transB: 1 }));
    if (shape.layout) nodes.push(...groupLogSoftmax(packed, n("Z"), n("LS"), String(i)));
    else nodes.push(node("LogSoftmax", [n("Z")], [n("LS")], { axis: 1 }));
    nodes.push(node("Exp", [n("LS")], [n("P")]));
    let p = n("P");
    if (shape.layout) {
      nodes.push(
        node("Mul", ["othersRow", `osum${i}`], [n("OT")]),
        node("Sub", [p, n("OT")], [n("P0")]),
      );
      p = n("P0");
    }
    nodes.push(
      // PT = P - T: the dense "others" part above, the corrections scattered in here.
      node("Neg", [`tval${i}`], [n("negT")]),
      node("ScatterElements", [p, `tidx${i}`, n("negT")], [n("PT")], {
        axis: 1,
        reduction: "add",
      }),
      node("Transpose", [n("PT")], [n("PTt")], { perm: [1, 0] }),
      node("Mul", [n("PTt"), "invB"], [n("Gt")]),
      // vW' = 0.9 vW + G^T Xm in one GEMM (beta scales the C input).
      node("Gemm", [n("Gt"), xm, vw], [vw2], {
        alpha: { float: 1 },
        beta: { float: 0.9 },
      }),
      node("ReduceSum", [n("Gt"), "axis1"], [n("db")], { keepdims: 0 }),
      node("Mul", [vb, "momentum"], [n("vbm")]),
      node("Add", [n("vbm"), n("db")], [vb2]),
      node("Mul", [vw2, `lr${i}`], [n("stepW")]),
      node("Sub", [w, n("stepW")], [w2]),
      node("Mul", [vb2, `lr${i}`], [n("stepb")]),
      node("Sub", [b, n("stepb")], [b2]),
      // sum(T * LS) = sum(tval * LS[tidx]) (+ osum * sum of LS at the "others" columns).
      node("GatherElements", [n("LS"), `tidx${i}`], [n("LSt")], { axis: 1 }),
      node("Mul", [n("LSt"), `tval${i}`], [n("TLs")]),
      node("ReduceSum", [n("TLs")], [n("sumTLs")], { keepdims: 0 }),
    );
    let sumTL = n("sumTLs");
    if (shape.layout) {
      nodes.push(
        node("MatMul", [n("LS"), "othersCol"], [n("LSo")]),
        node("ReduceSum", [n("LSo")], [n("sumLSo")], { keepdims: 0 }),
        node("Mul", [n("sumLSo"), `osum${i}`], [n("TLo")]),
        node("Add", [n("sumTLs"), n("TLo")], [n("sumTL")]),
      );
      sumTL = n("sumTL");
    }
    nodes.push(node("Mul", [sumTL, "negInvB"], [`loss${i}`]));
    [w, b, vw, vb] = [w2, b2, vw2, vb2];
  }
  return buildModel({
    name: shape.layout ? "group_head_step" : "flat_head_step",
    inputs,
    outputs,
    nodes,
    initializers: inits,
  });
}

/** Options of {@linkcode createOrtStep}. */
export interface OrtStepOptions extends StepModelOptions {
  /** Intra-op threads (default: all cores). */
  threads?: number;
  /** Starting parameters in the paper's order (default: zero head, zero momentum). */
  initial?: HeadState;
}

interface Slot {
  state: HeadState;
  tensors: { W: ort.Tensor; b: ort.Tensor; vW: ort.Tensor; vb: ort.Tensor };
}

function makeSlot(O: number, D: number): Slot {
  const state = zeroState(O, D);
  return {
    state,
    tensors: {
      W: f32Tensor(state.weight, [O, D]),
      b: f32Tensor(state.bias, [O]),
      vW: f32Tensor(state.vWeight, [O, D]),
      vb: f32Tensor(state.vBias, [O]),
    },
  };
}

/**
 * Copies a paper-order state into packed order (`toPacked`) or back. Padding rows get weight 0,
 * momentum 0 and bias -1e30.
 */
function repack(
  packed: PackedLayout,
  dim: number,
  src: HeadState,
  dst: HeadState,
  toPacked: boolean,
): void {
  const { column } = packed;
  if (toPacked) {
    dst.weight.fill(0);
    dst.vWeight.fill(0);
    dst.bias.fill(-1e30);
    dst.vBias.fill(0);
  }
  for (let o = 0; o < column.length; o++) {
    const [a, b] = toPacked ? [o, column[o]] : [column[o], o];
    dst.weight.set(src.weight.subarray(a * dim, (a + 1) * dim), b * dim);
    dst.vWeight.set(src.vWeight.subarray(a * dim, (a + 1) * dim), b * dim);
    dst.bias[b] = src.bias[a];
    dst.vBias[b] = src.vBias[a];
  }
}

/** Per-step input buffers of a run, with the ORT tensors that wrap them. */
interface StepInputs {
  x: Float32Array;
  /** Sparse targets (lib/train/sparse_targets.ts): columns and weights, B x E. */
  tidx: Int32Array;
  tval: Float32Array;
  scalars: Float32Array; // lr, lam, lamc, loss, osum
  perm: Int32Array;
  tensors: Record<
    "X" | "tidx" | "tval" | "osum" | "lr" | "perm" | "lam" | "lamc" | "loss",
    ort.Tensor
  >;
}

function makeInputs(B: number, D: number, E: number): StepInputs {
  const x = new Float32Array(B * D);
  const tidx = new Int32Array(B * E);
  const tval = new Float32Array(B * E);
  const scalars = new Float32Array(5);
  const perm = new Int32Array(B);
  const scalar = (i: number) => f32Tensor(scalars.subarray(i, i + 1), []);
  return {
    x,
    tidx,
    tval,
    scalars,
    perm,
    tensors: {
      X: f32Tensor(x, [B, D]),
      tidx: new ort.Tensor("int32", tidx, [B, E]),
      tval: f32Tensor(tval, [B, E]),
      lr: scalar(0),
      lam: scalar(1),
      lamc: scalar(2),
      loss: scalar(3),
      osum: scalar(4),
      perm: new ort.Tensor("int32", perm, [B]),
    },
  };
}

type Feeds = Record<string, ort.Tensor>;

/** Feeds / fetches of the k-step session (all inputs) and of the 1-step session (per input). */
function stepFeeds(inputs: StepInputs[], mixup: boolean, group: boolean) {
  const feedsOf = (j: number, as: number, feeds: Feeds) => {
    const t = inputs[j].tensors;
    feeds[`X${as}`] = t.X;
    feeds[`tidx${as}`] = t.tidx;
    feeds[`tval${as}`] = t.tval;
    if (group) feeds[`osum${as}`] = t.osum;
    feeds[`lr${as}`] = t.lr;
    if (mixup) {
      feeds[`perm${as}`] = t.perm;
      feeds[`lam${as}`] = t.lam;
      feeds[`lamc${as}`] = t.lamc;
    }
  };
  const feedsK: Feeds = {};
  const fetchesK: Feeds = {};
  inputs.forEach((inp, j) => {
    feedsOf(j, j, feedsK);
    fetchesK[`loss${j}`] = inp.tensors.loss;
  });
  const feeds1 = inputs.map((_, j) => {
    const f: Feeds = {};
    feedsOf(j, 0, f);
    return f;
  });
  const fetches1 = inputs.map((inp): Feeds => ({ loss0: inp.tensors.loss }));
  return { feedsK, fetchesK, feeds1, fetches1 };
}

/** Writes each batch's soft targets and scalars into its step inputs. */
function fillInputs(
  shape: StepShape,
  packed: PackedLayout,
  inputs: StepInputs[],
  batches: StepBatch[],
): void {
  batches.forEach(({ labels, draw, lr }, j) => {
    if (shape.mixup !== (draw.perm !== null)) {
      throw new RangeError(`This step was built with mixup ${shape.mixup}; the draw disagrees`);
    }
    const inp = inputs[j];
    inp.scalars[4] = sparseTargets(inp.tidx, inp.tval, labels, shape.layout, draw, packed.column);
    inp.scalars[0] = lr;
    if (draw.perm) {
      inp.perm.set(draw.perm);
      inp.scalars[1] = draw.lam;
      inp.scalars[2] = draw.lamc;
    }
  });
}

/**
 * Creates the ORT training step for `shape`: one session running `unroll` steps per call (and,
 * when `unroll > 1`, a one-step session for shorter runs). Unrolling amortises the per-run cost
 * of onnxruntime-node (JS binding, copies of the fetched outputs) over several steps.
 *
 * @example
 * ```ts
 * import { mixupDraw } from "./mixup.ts";
 * const step = await createOrtStep({ batch: 4, dim: 8, numOutputs: 3, layout: null, mixup: true });
 * step.xs[0].set(new Float32Array(4 * 8).fill(0.5)); // the B x D features of this step
 * const labels = new Int32Array([0, 2, 1, 0]);
 * const [seed, t] = [0, 0];
 * const [loss] = await step.run([{ labels, draw: mixupDraw(seed, t, 4, 0.1), lr: 0.003 }]);
 * await step.release();
 * ```
 */
export async function createOrtStep(
  shape: StepShape,
  options: OrtStepOptions = {},
): Promise<TrainStep> {
  checkShape(shape);
  const { batch: B, dim: D } = shape;
  const k = options.unroll ?? 1;
  const packed = stepPacking(shape, options);
  const O = packed.width;
  const threads = options.threads;
  const sessionK = await createSession(buildStepModel(shape, options), { threads });
  const session1 = k > 1
    ? await createSession(buildStepModel(shape, { ...options, unroll: 1 }), { threads })
    : sessionK;
  const E = entriesPerRow(shape.layout, shape.mixup);
  const inputs = Array.from({ length: k }, () => makeInputs(B, D, E));
  const { feedsK, fetchesK, feeds1, fetches1 } = stepFeeds(inputs, shape.mixup, !!shape.layout);
  const slots = [makeSlot(O, D), makeSlot(O, D)];
  let cur = 0;
  const runOnce = async (session: ort.InferenceSession, feeds: Feeds, fetches: Feeds) => {
    const a = slots[cur].tensors;
    const z = slots[1 - cur].tensors;
    Object.assign(feeds, { W: a.W, b: a.b, vW: a.vW, vb: a.vb });
    Object.assign(fetches, { W2: z.W, b2: z.b, vW2: z.vW, vb2: z.vb });
    await session.run(feeds, fetches);
    cur = 1 - cur;
  };
  const load = (state: HeadState) => {
    checkState(shape, state);
    repack(packed, D, state, slots[cur].state, true);
  };
  load(options.initial ?? zeroState(shape.numOutputs, D));
  return {
    shape,
    unroll: k,
    xs: inputs.map((inp) => inp.x),
    async run(batches: StepBatch[]): Promise<Float32Array> {
      if (batches.length > k) {
        throw new RangeError(`A run takes at most ${k} steps, got ${batches.length}`);
      }
      fillInputs(shape, packed, inputs, batches);
      if (batches.length === k) await runOnce(sessionK, feedsK, fetchesK);
      else {
        for (let j = 0; j < batches.length; j++) await runOnce(session1, feeds1[j], fetches1[j]);
      }
      return Float32Array.from(batches, (_, j) => inputs[j].scalars[3]);
    },
    state(): HeadState {
      const out = zeroState(shape.numOutputs, D);
      repack(packed, D, slots[cur].state, out, false);
      return out;
    },
    load,
    async release() {
      await sessionK.release();
      if (session1 !== sessionK) await session1.release();
    },
  };
}

/** Copies every array of `src` into `dst`. */
export function copyState(dst: HeadState, src: HeadState): void {
  dst.weight.set(src.weight);
  dst.bias.set(src.bias);
  dst.vWeight.set(src.vWeight);
  dst.vBias.set(src.vBias);
}
