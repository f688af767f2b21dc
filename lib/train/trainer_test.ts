import assert from "node:assert/strict";
import { assertClose } from "../../tests/assert_close.ts";
import { groupLayout } from "../groups.ts";
import { type Matrix, matrix } from "../matrix.ts";
import { createRng } from "../random.ts";
import { checkpointPath, readCheckpoint } from "./checkpoint.ts";
import { hyperRule } from "./hyperrule.ts";
import { evaluateAccuracy, gatherSource, trainHead, type TrainOptions } from "./trainer.ts";

const C = 10;
const D = 16;
const GROUPS = [[0, 3, 7], [1, 2, 4, 8, 9], [5, 6]];

/** Seeded Gaussian blobs around class centroids 6 standard deviations apart (per axis). */
function blobs(n: number, seed: number): { x: Matrix; y: Int32Array } {
  const centroidRng = createRng(1234);
  const centroids = Array.from({ length: C * D }, () => 3 * centroidRng.normal());
  const rng = createRng(seed);
  const x = matrix(n, D);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = rng.int(C);
    y[i] = c;
    for (let d = 0; d < D; d++) x.data[i * D + d] = centroids[c * D + d] + 0.5 * rng.normal();
  }
  return { x, y };
}

const train = blobs(3000, 1);
const val = blobs(1000, 2);

function options(layout: boolean, extra: Partial<TrainOptions> = {}): TrainOptions {
  return {
    source: gatherSource(train.x),
    labels: train.y,
    numClasses: C,
    layout: layout ? groupLayout(GROUPS, C) : null,
    rule: hyperRule(train.x.rows, { steps: 150, batch: 64, lr: 0.05, mixupAlpha: 0.2 }),
    seed: 9,
    ...extra,
  };
}

for (const grouped of [false, true]) {
  const name = grouped ? "group" : "flat";
  Deno.test(`trainHead: ${name} head reaches >= 95% validation accuracy on separable blobs`, async () => {
    const layout = grouped ? groupLayout(GROUPS, C) : null;
    const res = await trainHead(options(grouped));
    assert.equal(res.steps, 150);
    assert.equal(res.weight.rows, grouped ? C + GROUPS.length : C);
    const acc = await evaluateAccuracy(res.weight, res.bias, layout, val.x, val.y);
    assert.ok(acc >= 0.95, `${name} validation accuracy ${acc}`);
    // The loss went down from its zero-head value (log C flat; sum of log(n_k + 1) grouped).
    const start = grouped ? GROUPS.reduce((s, g) => s + Math.log(g.length + 1), 0) : Math.log(C);
    assertClose(res.lossHistory[0], start, { atol: 1e-5, reason: "zero head: uniform softmax" });
    assert.ok(res.finalLoss < 0.5 * start, `final loss ${res.finalLoss} vs start ${start}`);
  });
}

Deno.test("trainHead: ORT engine matches the reference engine (flat and group, 30 steps)", async () => {
  for (const grouped of [false, true]) {
    const rule = hyperRule(train.x.rows, { steps: 30, batch: 32, lr: 0.05, mixupAlpha: 0.2 });
    const a = await trainHead(options(grouped, { rule }));
    const b = await trainHead(options(grouped, { rule, engine: "reference" }));
    const tol = {
      atol: 5e-6,
      rtol: 5e-4,
      reason: "float32 ORT vs float64 reference over 30 steps",
    };
    assertClose(a.weight.data, b.weight.data, tol);
    assertClose(a.bias, b.bias, tol);
    assertClose(a.lossHistory, b.lossHistory, { atol: 3e-6, rtol: 1e-5, reason: tol.reason });
  }
});

Deno.test("trainHead: abort after step 35 and resume gives byte-identical weights", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const grouped of [false, true]) {
      const rule = hyperRule(train.x.rows, { steps: 60, batch: 32, lr: 0.05, mixupAlpha: 0.2 });
      const full = await trainHead(options(grouped, { rule }));
      const ckdir = `${dir}/${grouped ? "group" : "flat"}`;
      const ctrl = new AbortController();
      const seen: number[] = [];
      await assert.rejects(
        trainHead(options(grouped, {
          rule,
          checkpoint: { dir: ckdir, every: 20 },
          signal: ctrl.signal,
          onProgress: (s) => {
            seen.push(s);
            if (s === 35) ctrl.abort(new Error("killed at 35"));
          },
        })),
        /killed at 35/,
      );
      assert.equal(seen.at(-1), 35);
      const mid = await Deno.stat(checkpointPath(ckdir));
      assert.ok(mid.size > 0);
      const resumed = await trainHead(
        options(grouped, { rule, checkpoint: { dir: ckdir, every: 20 } }),
      );
      assert.equal(resumed.resumedFrom, 20);
      assert.deepEqual(resumed.weight.data, full.weight.data);
      assert.deepEqual(resumed.bias, full.bias);
      assert.deepEqual(resumed.lossHistory, full.lossHistory);
      assert.equal(resumed.finalLoss, full.finalLoss);
      // The finished run left a final checkpoint: a rerun trains nothing and returns the same head.
      const again = await trainHead(
        options(grouped, { rule, checkpoint: { dir: ckdir, every: 20 } }),
      );
      assert.equal(again.resumedFrom, 60);
      assert.deepEqual(again.weight.data, full.weight.data);
      // Another seed is another config: the checkpoint is not reused.
      const O = grouped ? C + GROUPS.length : C;
      assert.equal(
        await readCheckpoint(ckdir, { configHash: "other", numOutputs: O, dim: D }),
        null,
      );
      const other = await trainHead(
        options(grouped, { rule, seed: 10, checkpoint: { dir: ckdir, every: 20 } }),
      );
      assert.equal(other.resumedFrom, 0);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("trainHead: results do not depend on the unroll (byte-identical for 1, 3, 4)", async () => {
  const rule = hyperRule(train.x.rows, { steps: 25, batch: 32, lr: 0.05, mixupAlpha: 0.2 });
  const base = await trainHead(options(true, { rule, unroll: 1 }));
  for (const unroll of [3, 4]) {
    const r = await trainHead(options(true, { rule, unroll }));
    assert.deepEqual(r.weight.data, base.weight.data);
    assert.deepEqual(r.bias, base.bias);
    assert.deepEqual(r.lossHistory, base.lossHistory);
  }
});

Deno.test("trainHead: rejects labels outside the class range with a DataError", async () => {
  const labels = train.y.slice();
  labels[7] = C;
  await assert.rejects(trainHead({ ...options(false), labels }), /label 10 at row 7/);
});

Deno.test("evaluateAccuracy: flat argmax and group prediction on a hand-made head", async () => {
  // Flat head = identity on 3 features: prediction is the argmax feature.
  const eye = matrix(3, 3, new Float32Array([1, 0, 0, 0, 1, 0, 0, 0, 1]));
  const feats = matrix(4, 3, new Float32Array([5, 1, 0, 0, 2, 1, 0, 0, 3, 1, 0, 0]));
  const y = new Int32Array([0, 1, 1, -1]); // third row is class 2 -> wrong; -1 skipped
  assertClose(await evaluateAccuracy(eye, new Float32Array(3), null, feats, y), 2 / 3, {
    atol: 1e-12,
    reason: "exact count",
  });
  // Group head {0,1},{2}: outputs [o0, c0, c1, o1, c2]; rows route feature j to class j.
  const layout = groupLayout([[0, 1], [2]], 3);
  const w = matrix(5, 3, new Float32Array([0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1]));
  const acc = await evaluateAccuracy(w, new Float32Array(5), layout, feats, y);
  assertClose(acc, 2 / 3, { atol: 1e-12, reason: "exact count" });
});
