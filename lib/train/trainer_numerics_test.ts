/**
 * Head training on finite features that overflow float32: the run stops with one DataError naming
 * the features file and the step, and returns no head (so no NaN / Infinity head is written).
 */
import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import { matrix } from "../matrix.ts";
import { hyperRule } from "./hyperrule.ts";
import { type FeatureSource, gatherSource, trainHead, type TrainOptions } from "./trainer.ts";

const C = 4;
const D = 8;
const N = 64;

/** Rows of class i mod C with `value` on dimension c (and 0.5 elsewhere). */
function features(value: number) {
  const x = matrix(N, D);
  const y = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    y[i] = i % C;
    for (let j = 0; j < D; j++) x.data[i * D + j] = j === y[i] ? value : 0.5;
  }
  return { x, y };
}

function options(value: number, steps: number, lr: number, extra: Partial<TrainOptions> = {}) {
  const { x, y } = features(value);
  return {
    source: gatherSource(x),
    labels: y,
    numClasses: C,
    layout: null,
    rule: hyperRule(N, { steps, batch: 16, lr, warmup: 0, mixupAlpha: 0 }),
    seed: 3,
    featuresPath: "/sets/train/features.npy",
    ...extra,
  } satisfies TrainOptions;
}

function rejectsWith(parts: (string | RegExp)[]) {
  return (e: unknown) => {
    assert.ok(e instanceof DataError, `expected a DataError, got ${e}`);
    for (const p of parts) {
      assert.ok(
        typeof p === "string" ? e.message.includes(p) : p.test(e.message),
        `${p} missing: ${e.message}`,
      );
    }
    return true;
  };
}

for (const engine of ["ort", "reference"] as const) {
  Deno.test(`trainHead (${engine}): weights that overflow in the last update are an error`, async () => {
    // Step 1's loss is finite (zero weights: log C) but its update, lr x (p - y) x 3.4e38 / B,
    // overflows: without the final check the head would come back with Infinity weights.
    await assert.rejects(
      () => trainHead({ ...options(3.4e38, 1, 100), engine }),
      rejectsWith(["/sets/train/features.npy", "after step 1", /weight \d+ is -?Infinity/]),
    );
  });
}

Deno.test("trainHead: a loss that overflows float32 names the file and the step", async () => {
  // The float32 graph: logits of 1e30 features overflow after the first updates. (The float64
  // reference engine holds these values; its float32 weights are checked by the test above.)
  await assert.rejects(
    () => trainHead(options(1e30, 20, 0.1)),
    rejectsWith(["/sets/train/features.npy", /the loss of step \d+ is NaN/]),
  );
});

Deno.test("trainHead: without featuresPath the error names a file-backed source's path", async () => {
  const o = options(3.4e38, 1, 100, { featuresPath: undefined });
  const source: FeatureSource & { path: string } = { ...o.source, path: "/big/features.npy" };
  await assert.rejects(
    () => trainHead({ ...o, source }),
    rejectsWith(["Head training on /big/features.npy diverged", /or lower the learning rate$/]),
  );
  await assert.rejects(
    () => trainHead({ ...o, source, divergedHint: "rescale them or lower --lr" }),
    rejectsWith([/learning rate, rescale them or lower --lr$/]),
  );
  // Large but trainable features are not refused: 1e3 with a small rate trains normally.
  const ok = await trainHead(options(1e3, 5, 1e-6));
  assert.ok(ok.weight.data.every(Number.isFinite) && Number.isFinite(ok.finalLoss));
});
