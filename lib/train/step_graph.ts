/**
 * One SGD step of a linear head as a single onnxruntime graph: mixup of the batch, forward
 * (X W^T + b), (group) log-softmax, gradient of the soft-target cross-entropy, PyTorch momentum
 * (v = 0.9 v + g) and the weight update (w -= lr v), plus the loss.
 *
 * Design notes (measured on the 2-core dev machine, 512 x 2048 -> 1008):
 * - The two GEMMs are ~90% of the time. The momentum update is folded into the gradient GEMM
 *   (`Gemm(G, X, vW, transA, beta = 0.9)`), so only `W - lr v` is a separate elementwise pass.
 * - State lives in two ping-pong sets of Float32Arrays handed to `session.run` as pre-allocated
 *   outputs (`fetches`): ORT writes the new state straight into the other set. Letting ORT
 *   allocate the 8 MB outputs each step cost ~9 ms per output (fresh pages); onnxruntime-node
 *   1.30 still returns a copy of every fetched output, which is dropped.
 * - Group softmax without a node per group: groups are packed into a few buckets of similar slice
 *   length ({@linkcode planGroupBuckets}); each bucket is one Gather into B x K_b x N_b (short
 *   slices padded with -1e30, whose probability underflows to exactly 0), one LogSoftmax on the
 *   last axis, and one final Gather restores the output order.
 * - onnxruntime-node runs `session.run` synchronously on the JS thread (inside `setImmediate`),
 *   so a TypeScript batch gather cannot overlap a running step; the trainer does it between runs.
 *
 * @module
 */
import type { GroupLayout } from "../groups.ts";
import { buildModel, floatConst, type Initializer, int64Const, node } from "../ort/graph.ts";
import type { NodeSpec, ValueSpec } from "../ort/graph.ts";
import { createSession, f32Tensor, ort } from "../ort/session.ts";
import type { MixupDraw } from "./mixup.ts";

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

/**
 * A training step (ORT or reference). The caller fills `x` (the B x D un-mixed batch) and
 * `targets` (B x O soft targets from `softTargets`), then calls `run`.
 */
export interface TrainStep {
  readonly shape: StepShape;
  /** B x D input batch buffer, filled by the caller before each `run`. */
  readonly x: Float32Array;
  /** B x O soft-target buffer, filled by the caller before each `run`. */
  readonly targets: Float32Array;
  /** Applies one update with learning rate `lr`; resolves to the batch loss before the update. */
  run(draw: MixupDraw, lr: number): Promise<number>;
  /** The current parameters (views, valid until the next `run` or `load`). */
  state(): HeadState;
  /** Replaces the current parameters with copies of `state`. */
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
 * Packs groups into buckets for the padded group softmax. Groups are sorted by slice length
 * (descending) and cut into contiguous runs minimising
 * `sum(count_b x width_b) + overhead x buckets` (exact dynamic programme), where width is the
 * longest slice of the run and `overhead` is the per-bucket cost in padded elements per row.
 * Returns the group ids of each bucket, longest first.
 */
export function planGroupBuckets(sizes: ArrayLike<number>, overhead = 64): number[][] {
  const K = sizes.length;
  const order = Array.from({ length: K }, (_, k) => k).sort((a, b) => sizes[b] - sizes[a] || a - b);
  const best = new Float64Array(K + 1).fill(Infinity);
  const cut = new Int32Array(K + 1);
  best[0] = 0;
  for (let j = 1; j <= K; j++) {
    for (let i = 0; i < j; i++) {
      const c = best[i] + (j - i) * sizes[order[i]] + overhead;
      if (c < best[j]) {
        best[j] = c;
        cut[j] = i;
      }
    }
  }
  const buckets: number[][] = [];
  for (let j = K; j > 0; j = cut[j]) buckets.push(order.slice(cut[j], j));
  return buckets.reverse();
}

/** Nodes computing `LS` (B x O group log-softmax) from `Z`; returns nodes and constants. */
function groupLogSoftmax(
  layout: GroupLayout,
  batch: number,
  overhead: number,
): { nodes: NodeSpec[]; inits: Initializer[] } {
  const O = layout.numOutputs;
  const buckets = planGroupBuckets(layout.sizes, overhead);
  const nodes: NodeSpec[] = [];
  const inits: Initializer[] = [];
  const padded = buckets.some((b) => b.some((k) => layout.sizes[k] !== layout.sizes[b[0]]));
  const src = padded ? "Zpad" : "Z";
  if (padded) {
    inits.push(int64Const("pads", [0, 0, 0, 1]), floatConst("padValue", [], [-1e30]));
    nodes.push(node("Pad", ["Z", "pads", "padValue"], ["Zpad"], { mode: "constant" }));
  }
  const inverse = new Array<number>(O);
  const parts: string[] = [];
  let offset = 0;
  buckets.forEach((groups, bi) => {
    const width = layout.sizes[groups[0]];
    const idx: number[] = [];
    groups.forEach((k, r) => {
      const start = layout.starts[k];
      const n = layout.sizes[k];
      for (let j = 0; j < width; j++) {
        idx.push(j < n ? start + j : O);
        if (j < n) inverse[start + j] = offset + r * width + j;
      }
    });
    offset += groups.length * width;
    const dims = [groups.length, width];
    inits.push({ name: `idx${bi}`, dims, data: BigInt64Array.from(idx, (v) => BigInt(v)) });
    inits.push(int64Const(`shape${bi}`, [batch, groups.length * width]));
    nodes.push(
      node("Gather", [src, `idx${bi}`], [`gz${bi}`], { axis: 1 }),
      node("LogSoftmax", [`gz${bi}`], [`gl${bi}`], { axis: 2 }),
      node("Reshape", [`gl${bi}`, `shape${bi}`], [`part${bi}`]),
    );
    parts.push(`part${bi}`);
  });
  if (parts.length > 1) nodes.push(node("Concat", parts, ["packed"], { axis: 1 }));
  inits.push({ name: "inverse", dims: [O], data: BigInt64Array.from(inverse, (v) => BigInt(v)) });
  nodes.push(node("Gather", [parts.length > 1 ? "packed" : parts[0], "inverse"], ["LS"], { axis: 1 }));
  return { nodes, inits };
}

/** Options of {@linkcode buildStepModel}. */
export interface StepModelOptions {
  /** Per-bucket overhead for {@linkcode planGroupBuckets} (padded elements per row). */
  bucketOverhead?: number;
}

/** Serialises the training-step graph for `shape` (see the module doc for its inputs/outputs). */
export function buildStepModel(shape: StepShape, options: StepModelOptions = {}): Uint8Array {
  checkShape(shape);
  const { batch: B, dim: D, numOutputs: O, layout, mixup } = shape;
  const nodes: NodeSpec[] = [];
  const inits: Initializer[] = [
    floatConst("invB", [], [1 / B]),
    floatConst("negInvB", [], [-1 / B]),
    floatConst("momentum", [], [0.9]),
    int64Const("axis0", [0]),
  ];
  const inputs: ValueSpec[] = [
    { name: "X", type: "float32", shape: [B, D] },
    { name: "T", type: "float32", shape: [B, O] },
    { name: "W", type: "float32", shape: [O, D] },
    { name: "b", type: "float32", shape: [O] },
    { name: "vW", type: "float32", shape: [O, D] },
    { name: "vb", type: "float32", shape: [O] },
    { name: "lr", type: "float32", shape: [] },
  ];
  let xm = "X";
  if (mixup) {
    inputs.push(
      { name: "perm", type: "int32", shape: [B] },
      { name: "lam", type: "float32", shape: [] },
      { name: "lamc", type: "float32", shape: [] },
    );
    nodes.push(
      node("Gather", ["X", "perm"], ["Xp"], { axis: 0 }),
      node("Mul", ["X", "lam"], ["Xa"]),
      node("Mul", ["Xp", "lamc"], ["Xb"]),
      node("Add", ["Xa", "Xb"], ["Xm"]),
    );
    xm = "Xm";
  }
  nodes.push(node("Gemm", [xm, "W", "b"], ["Z"], { transB: 1 }));
  if (layout) {
    const g = groupLogSoftmax(layout, B, options.bucketOverhead ?? 64);
    nodes.push(...g.nodes);
    inits.push(...g.inits);
  } else {
    nodes.push(node("LogSoftmax", ["Z"], ["LS"], { axis: 1 }));
  }
  nodes.push(
    node("Exp", ["LS"], ["P"]),
    node("Sub", ["P", "T"], ["PT"]),
    node("Mul", ["PT", "invB"], ["G"]),
    // vW' = 0.9 vW + G^T Xm in one GEMM (beta scales the C input).
    node("Gemm", ["G", xm, "vW"], ["vW2"], { transA: 1, alpha: { float: 1 }, beta: { float: 0.9 } }),
    node("ReduceSum", ["G", "axis0"], ["db"], { keepdims: 0 }),
    node("Mul", ["vb", "momentum"], ["vbm"]),
    node("Add", ["vbm", "db"], ["vb2"]),
    node("Mul", ["vW2", "lr"], ["stepW"]),
    node("Sub", ["W", "stepW"], ["W2"]),
    node("Mul", ["vb2", "lr"], ["stepb"]),
    node("Sub", ["b", "stepb"], ["b2"]),
    node("Mul", ["T", "LS"], ["TL"]),
    node("ReduceSum", ["TL"], ["sumTL"], { keepdims: 0 }),
    node("Mul", ["sumTL", "negInvB"], ["loss"]),
  );
  return buildModel({
    name: layout ? "group_head_step" : "flat_head_step",
    inputs,
    outputs: [
      { name: "W2", type: "float32", shape: [O, D] },
      { name: "b2", type: "float32", shape: [O] },
      { name: "vW2", type: "float32", shape: [O, D] },
      { name: "vb2", type: "float32", shape: [O] },
      { name: "loss", type: "float32", shape: [] },
    ],
    nodes,
    initializers: inits,
  });
}

/** Options of {@linkcode createOrtStep}. */
export interface OrtStepOptions extends StepModelOptions {
  /** Intra-op threads (default: all cores). */
  threads?: number;
  /** Starting parameters (default: zero head, zero momentum). */
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
 * Creates the ORT training step for `shape` (one session, built once).
 *
 * @example
 * ```ts
 * const step = await createOrtStep({ batch: 512, dim: 2048, numOutputs: 1000, layout: null, mixup: true });
 * step.x.set(batch); softTargets(step.targets, labels, 1000, null, draw);
 * const loss = await step.run(draw, 0.003);
 * ```
 */
export async function createOrtStep(
  shape: StepShape,
  options: OrtStepOptions = {},
): Promise<TrainStep> {
  checkShape(shape);
  const { batch: B, dim: D, numOutputs: O } = shape;
  const session = await createSession(buildStepModel(shape, options), { threads: options.threads });
  const x = new Float32Array(B * D);
  const targets = new Float32Array(B * O);
  const lr = new Float32Array(1);
  const lam = new Float32Array(1);
  const lamc = new Float32Array(1);
  const perm = new Int32Array(B);
  const loss = new Float32Array(1);
  const fixed: Record<string, ort.Tensor> = {
    X: f32Tensor(x, [B, D]),
    T: f32Tensor(targets, [B, O]),
    lr: f32Tensor(lr, []),
  };
  if (shape.mixup) {
    fixed.perm = new ort.Tensor("int32", perm, [B]);
    fixed.lam = f32Tensor(lam, []);
    fixed.lamc = f32Tensor(lamc, []);
  }
  const lossTensor = f32Tensor(loss, []);
  const slots = [makeSlot(O, D), makeSlot(O, D)];
  let cur = 0;
  if (options.initial) {
    checkState(shape, options.initial);
    copyState(slots[0].state, options.initial);
  }
  const feeds: Record<string, ort.Tensor> = { ...fixed };
  const fetches: Record<string, ort.Tensor> = { loss: lossTensor };
  return {
    shape,
    x,
    targets,
    async run(draw: MixupDraw, rate: number): Promise<number> {
      const a = slots[cur].tensors;
      const z = slots[1 - cur].tensors;
      lr[0] = rate;
      if (shape.mixup) {
        if (!draw.perm) throw new RangeError("This step mixes batches: the draw needs a perm");
        perm.set(draw.perm);
        lam[0] = draw.lam;
        lamc[0] = draw.lamc;
      }
      feeds.W = a.W;
      feeds.b = a.b;
      feeds.vW = a.vW;
      feeds.vb = a.vb;
      fetches.W2 = z.W;
      fetches.b2 = z.b;
      fetches.vW2 = z.vW;
      fetches.vb2 = z.vb;
      await session.run(feeds, fetches);
      cur = 1 - cur;
      return loss[0];
    },
    state: () => slots[cur].state,
    load(state: HeadState): void {
      checkState(shape, state);
      copyState(slots[cur].state, state);
    },
    release: () => session.release(),
  };
}

/** Copies every array of `src` into `dst`. */
export function copyState(dst: HeadState, src: HeadState): void {
  dst.weight.set(src.weight);
  dst.bias.set(src.bias);
  dst.vWeight.set(src.vWeight);
  dst.vBias.set(src.vBias);
}
