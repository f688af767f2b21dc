import assert from "node:assert/strict";
import { assertClose, type Tolerance } from "../../tests/assert_close.ts";
import { type GroupLayout, groupLayout } from "../groups.ts";
import { createRng } from "../random.ts";
import { mixupDraw, softTargets } from "./mixup.ts";
import { createReferenceStep, referenceStep } from "./reference_step.ts";
import {
  createOrtStep,
  packLayout,
  planGroupBuckets,
  type StepBatch,
  type StepShape,
  type TrainStep,
} from "./step_graph.ts";

/** Runs `steps` identical steps on both engines from the same seeded batches. */
async function runBoth(
  shape: StepShape,
  steps: number,
  alpha: number,
): Promise<{ fast: TrainStep; ref: TrainStep; losses: [number, number][] }> {
  const { batch: B, dim: D, numOutputs: O, layout } = shape;
  const C = layout ? layout.numClasses : O;
  const rng = createRng(11);
  const fast = await createOrtStep(shape, { threads: 1 });
  const ref = createReferenceStep(shape);
  const labels = new Int32Array(B);
  const losses: [number, number][] = [];
  for (let t = 0; t < steps; t++) {
    for (let i = 0; i < B * D; i++) fast.xs[0][i] = rng.normal();
    for (let i = 0; i < B; i++) labels[i] = rng.int(C);
    const draw = mixupDraw(3, t, B, alpha);
    ref.xs[0].set(fast.xs[0]);
    const lr = 0.05 * (t + 1) / steps;
    const [a] = await fast.run([{ labels, draw, lr }]);
    const [b] = await ref.run([{ labels, draw, lr }]);
    losses.push([a, b]);
  }
  return { fast, ref, losses };
}

function compare(
  fast: TrainStep,
  ref: TrainStep,
  losses: [number, number][],
  tolerance?: Tolerance,
): number {
  // Measured worst here: |dW| 3e-8, relative 4e-6 (weights up to 0.17); ~5x margin.
  const tol = tolerance ?? {
    atol: 1.5e-7,
    rtol: 2e-5,
    reason: "float32 ORT GEMMs vs float64 reference sums, 20 compounding momentum steps",
  };
  let worst = 0;
  const f = fast.state();
  const r = ref.state();
  worst = Math.max(worst, assertClose(f.weight, r.weight, tol));
  worst = Math.max(worst, assertClose(f.bias, r.bias, tol));
  worst = Math.max(worst, assertClose(f.vWeight, r.vWeight, tol));
  worst = Math.max(worst, assertClose(f.vBias, r.vBias, tol));
  for (const [a, b] of losses) {
    assertClose(a, b, { atol: 3e-6, rtol: 1e-6, reason: "float32 log-softmax sums over O" });
  }
  return worst;
}

const GROUPS = [[0, 3, 7], [1, 2, 4, 8, 9], [5, 6]];

Deno.test("ORT flat step equals the reference step after 20 mixup steps", async () => {
  const shape: StepShape = { batch: 32, dim: 16, numOutputs: 10, layout: null, mixup: true };
  const { fast, ref, losses } = await runBoth(shape, 20, 0.4);
  assert.ok(fast.state().weight.some((v) => v !== 0));
  compare(fast, ref, losses);
  await fast.release();
});

Deno.test("ORT group step equals the reference step after 20 mixup steps", async () => {
  const layout = groupLayout(GROUPS, 10);
  const shape: StepShape = { batch: 32, dim: 16, numOutputs: 13, layout, mixup: true };
  const { fast, ref, losses } = await runBoth(shape, 20, 0.4);
  compare(fast, ref, losses);
  await fast.release();
});

Deno.test("ORT group step with padded buckets equals the reference (many uneven groups)", async () => {
  // 40 classes in 12 groups of sizes 1..7: with overhead 0 the plan pads several buckets.
  const rng = createRng(5);
  const order = Array.from({ length: 40 }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const sizes = [7, 1, 5, 3, 2, 6, 1, 4, 3, 2, 5, 1];
  const groups: number[][] = [];
  let p = 0;
  for (const s of sizes) {
    groups.push(order.slice(p, p + s));
    p += s;
  }
  const layout: GroupLayout = groupLayout(groups, 40);
  const shape: StepShape = { batch: 16, dim: 8, numOutputs: 52, layout, mixup: false };
  const fast = await createOrtStep(shape, { threads: 1, bucketOverhead: 8 });
  const ref = createReferenceStep(shape);
  const labels = new Int32Array(16);
  const losses: [number, number][] = [];
  for (let t = 0; t < 10; t++) {
    for (let i = 0; i < fast.xs[0].length; i++) fast.xs[0][i] = 3 * rng.normal();
    for (let i = 0; i < 16; i++) labels[i] = rng.int(40);
    const draw = mixupDraw(1, t, 16, 0);
    ref.xs[0].set(fast.xs[0]);
    const [a] = await fast.run([{ labels, draw, lr: 0.5 }]);
    const [b] = await ref.run([{ labels, draw, lr: 0.5 }]);
    losses.push([a, b]);
  }
  compare(fast, ref, losses, {
    atol: 1e-6,
    rtol: 1e-4,
    reason: "lr 0.5 on 3x-scaled inputs: large steps amplify float32 rounding (measured 2e-7)",
  });
  await fast.release();
});

Deno.test("planGroupBuckets: exact DP cuts, every group once, longest first", () => {
  assert.deepEqual(planGroupBuckets([399, 522, 10, 8, 53, 9, 4, 3], 64), [
    [1],
    [0],
    [4],
    [2, 5, 3, 6, 7],
  ]);
  // Zero overhead: never pad, one bucket per distinct length.
  assert.deepEqual(planGroupBuckets([3, 5, 3, 5], 0), [[1, 3], [0, 2]]);
  // Huge overhead: a single padded bucket.
  assert.deepEqual(planGroupBuckets([3, 5, 2], 1e9), [[1, 0, 2]]);
  const plan = planGroupBuckets(Array.from({ length: 100 }, (_, i) => 2 + (i * 37) % 50), 64);
  assert.deepEqual(plan.flat().sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i));
});

Deno.test("group loss equals the hand-computed sum of per-group mean cross-entropy", async () => {
  // Two groups: {0, 1} -> slice [others, c0, c1], {2} -> slice [others, c2]; O = 5, D = 1.
  const layout = groupLayout([[0, 1], [2]], 3);
  const shape: StepShape = { batch: 2, dim: 1, numOutputs: 5, layout, mixup: false };
  const state = {
    weight: new Float32Array([0, 1, 2, 0.5, -1]),
    bias: new Float32Array([0, 0, 0, 0, 0]),
    vWeight: new Float32Array(5),
    vBias: new Float32Array(5),
  };
  const x = new Float32Array([1, 2]);
  const labels = new Int32Array([1, 2]); // sample 0: class 1 (group 0 slot 2), sample 1: class 2
  const targets = softTargets(new Float32Array(10), labels, 5, layout, mixupDraw(0, 0, 2, 0));
  const fast = await createOrtStep(shape, { threads: 1, initial: structuredClone(state) });
  fast.xs[0].set(x);
  const [fastLoss] = await fast.run([{ labels, draw: mixupDraw(0, 0, 2, 0), lr: 0 }]);
  await fast.release();
  const loss = referenceStep(shape, state, x, targets, mixupDraw(0, 0, 2, 0), 0);
  // logits: sample 0 = [0, 1, 2 | 0.5, -1], sample 1 = [0, 2, 4 | 1, -2]
  const lse = (v: number[]) => Math.log(v.reduce((s, z) => s + Math.exp(z), 0));
  const g0 = ((lse([0, 1, 2]) - 2) + (lse([0, 2, 4]) - 0)) / 2; // targets: c1 (slot 2), others
  const g1 = ((lse([0.5, -1]) - 0.5) + (lse([1, -2]) - -2)) / 2; // targets: others, c2 (slot 1)
  assertClose(loss, g0 + g1, { atol: 1e-12, rtol: 1e-12, reason: "float64 both ways" });
  assertClose(fastLoss, g0 + g1, { atol: 0, rtol: 1e-6, reason: "float32 graph" });
});

Deno.test("ORT step: a 3-step unrolled run gives the same bytes as three 1-step runs", async () => {
  const layout = groupLayout(GROUPS, 10);
  const shape: StepShape = { batch: 32, dim: 16, numOutputs: 13, layout, mixup: true };
  const one = await createOrtStep(shape, { threads: 1 });
  const three = await createOrtStep(shape, { threads: 1, unroll: 3 });
  assert.equal(three.unroll, 3);
  const rng = createRng(4);
  for (let round = 0; round < 3; round++) {
    const batches: StepBatch[] = [];
    for (let j = 0; j < 3; j++) {
      for (let i = 0; i < three.xs[j].length; i++) three.xs[j][i] = rng.normal();
      const labels = Int32Array.from({ length: 32 }, () => rng.int(10));
      batches.push({ labels, draw: mixupDraw(8, round * 3 + j, 32, 0.3), lr: 0.1 * (j + 1) });
    }
    // A short run (2 steps) goes through the one-step session of the unrolled step.
    const take = round === 1 ? 2 : 3;
    const lossK = await three.run(batches.slice(0, take));
    for (let j = 0; j < take; j++) {
      one.xs[0].set(three.xs[j]);
      const [l] = await one.run([batches[j]]);
      assert.equal(l, lossK[j]);
    }
    assert.deepEqual(three.state(), one.state());
  }
  await one.release();
  await three.release();
});

Deno.test("packLayout: every output gets its own packed column inside its group's bucket row", () => {
  const sizes = [5, 1, 3, 3, 2];
  const groups: number[][] = [];
  let c = 0;
  for (const s of sizes) groups.push(Array.from({ length: s }, () => c++));
  const layout = groupLayout(groups, c);
  const packed = packLayout(layout, 0.5);
  const seen = new Set(packed.column);
  assert.equal(seen.size, layout.numOutputs);
  assert.ok(packed.width >= layout.numOutputs);
  for (let k = 0; k < layout.numGroups; k++) {
    const first = packed.column[layout.starts[k]];
    const bucket = packed.buckets.find((b) =>
      first >= b.offset && first < b.offset + b.count * b.width
    )!;
    assert.equal((first - bucket.offset) % bucket.width, 0, "others starts a bucket row");
    for (let j = 0; j < layout.sizes[k]; j++) {
      assert.equal(packed.column[layout.starts[k] + j], first + j);
    }
  }
});
