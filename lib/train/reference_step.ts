/**
 * The training step in plain TypeScript: the same math as the ORT graph of `step_graph.ts`
 * (mixup, forward, group or flat log-softmax, soft-target cross-entropy gradient, PyTorch SGD
 * momentum), accumulated in float64 and stored as float32 after each step. Used by tests and for
 * tiny heads; O(B x O x D) scalar work per step.
 *
 * @module
 */
import { mixRows, type MixupDraw, softTargets } from "./mixup.ts";
import {
  checkShape,
  checkState,
  copyState,
  type HeadState,
  type StepShape,
  type TrainStep,
  zeroState,
} from "./step_graph.ts";

/** Log-softmax of `z` in place, over the whole row (flat) or inside each group slice. */
function logSoftmaxRow(z: Float64Array, shape: StepShape): void {
  const layout = shape.layout;
  const K = layout ? layout.numGroups : 1;
  for (let k = 0; k < K; k++) {
    const s = layout ? layout.starts[k] : 0;
    const n = layout ? layout.sizes[k] : z.length;
    let m = -Infinity;
    for (let j = s; j < s + n; j++) if (z[j] > m) m = z[j];
    let sum = 0;
    for (let j = s; j < s + n; j++) sum += Math.exp(z[j] - m);
    const lse = m + Math.log(sum);
    for (let j = s; j < s + n; j++) z[j] -= lse;
  }
}

/**
 * Applies one step to `state` in place and returns the batch loss (before the update).
 * `x` is the un-mixed B x D batch, `targets` the B x O soft targets, `draw` the mixup draw.
 */
export function referenceStep(
  shape: StepShape,
  state: HeadState,
  x: Float32Array,
  targets: Float32Array,
  draw: MixupDraw,
  lr: number,
): number {
  checkShape(shape);
  checkState(shape, state);
  const { batch: B, dim: D, numOutputs: O } = shape;
  const xm = mixRows(new Float32Array(B * D), x, D, draw);
  const lrf = Math.fround(lr);
  const grad = new Float64Array(B * O);
  const row = new Float64Array(O);
  let loss = 0;
  for (let i = 0; i < B; i++) {
    const xi = i * D;
    for (let o = 0; o < O; o++) {
      let acc = state.bias[o];
      const wo = o * D;
      for (let d = 0; d < D; d++) acc += xm[xi + d] * state.weight[wo + d];
      row[o] = acc;
    }
    logSoftmaxRow(row, shape);
    for (let o = 0; o < O; o++) {
      const t = targets[i * O + o];
      loss -= t * row[o];
      grad[i * O + o] = (Math.exp(row[o]) - t) / B;
    }
  }
  const { weight, bias, vWeight, vBias } = state;
  const gcol = new Float64Array(D);
  for (let o = 0; o < O; o++) {
    gcol.fill(0);
    let gb = 0;
    for (let i = 0; i < B; i++) {
      const g = grad[i * O + o];
      gb += g;
      const xi = i * D;
      for (let d = 0; d < D; d++) gcol[d] += g * xm[xi + d];
    }
    const wo = o * D;
    for (let d = 0; d < D; d++) {
      const v = Math.fround(0.9 * vWeight[wo + d] + gcol[d]);
      vWeight[wo + d] = v;
      weight[wo + d] = weight[wo + d] - lrf * v;
    }
    const vb = Math.fround(0.9 * vBias[o] + gb);
    vBias[o] = vb;
    bias[o] = bias[o] - lrf * vb;
  }
  return loss / B;
}

/** A {@linkcode TrainStep} backed by {@linkcode referenceStep} (same interface as the ORT step). */
export function createReferenceStep(shape: StepShape, initial?: HeadState): TrainStep {
  checkShape(shape);
  const state = zeroState(shape.numOutputs, shape.dim);
  if (initial) {
    checkState(shape, initial);
    copyState(state, initial);
  }
  const x = new Float32Array(shape.batch * shape.dim);
  const targets = new Float32Array(shape.batch * shape.numOutputs);
  return {
    shape,
    unroll: 1,
    xs: [x],
    run(batches) {
      if (batches.length > 1) {
        throw new RangeError(`A run takes at most 1 step, got ${batches.length}`);
      }
      return Promise.resolve(Float32Array.from(batches, ({ labels, draw, lr }) => {
        softTargets(targets, labels, shape.numOutputs, shape.layout, draw);
        return referenceStep(shape, state, x, targets, draw, lr);
      }));
    },
    state(): HeadState {
      const out = zeroState(shape.numOutputs, shape.dim);
      copyState(out, state);
      return out;
    },
    load(s: HeadState): void {
      checkState(shape, s);
      copyState(state, s);
    },
    release: () => Promise.resolve(),
  };
}
