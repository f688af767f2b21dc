/**
 * train-head on a feature set with augmented views (extract --views V): each example contributes
 * one seeded view per step, a rerun is byte-identical, and the views change the result.
 */
import assert from "node:assert/strict";
import { readFeatureSet, writeFeatureSet } from "../lib/io/feature_set.ts";
import { writeNpy } from "../lib/io/npy.ts";
import { createRng } from "../lib/random.ts";
import { runTask, withTempDir, writeFixture } from "./cli_helpers.ts";

async function sha(path: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("train-head draws one seeded view per example per step from views.npy", async () => {
  await withTempDir(async (root) => {
    const fx = await writeFixture(`${root}/fx`);
    const base = await readFeatureSet(fx.train);
    const V = 3;
    const { rows: N, cols: D } = base.features;
    // Views: the evaluation features plus seeded jitter, as crops / flips would perturb them.
    const rng = createRng(5);
    const views = new Float32Array(N * V * D);
    for (let i = 0; i < N; i++) {
      for (let v = 0; v < V; v++) {
        for (let j = 0; j < D; j++) {
          const x = base.features.data[i * D + j] + 0.5 * rng.normal();
          views[(i * V + v) * D + j] = Math.max(0, x);
        }
      }
    }
    const withViews = `${root}/train_views`;
    await writeFeatureSet(withViews, {
      meta: { ...base.meta, dataset: "fixture-train-views", views: V },
      features: base.features,
      labels: base.labels,
    });
    await writeNpy(`${withViews}/views.npy`, { dtype: "<f4", shape: [N * V, D], data: views });

    const train = async (features: string, out: string) => {
      const r = await runTask("train_head.ts", [
        "--features",
        features,
        "--out",
        out,
        "--steps",
        "120",
        "--val",
        fx.val,
      ]);
      assert.equal(r.code, 0, r.stderr);
      return await sha(`${out}/weight.npy`);
    };
    const a = await train(withViews, `${root}/h_views_a`);
    const b = await train(withViews, `${root}/h_views_b`);
    const plain = await train(fx.train, `${root}/h_plain`);
    assert.equal(a, b, "same seed, same views: byte-identical heads");
    assert.notEqual(a, plain, "training on views must differ from training on features.npy");
    const info = JSON.parse(await Deno.readTextFile(`${root}/h_views_a/head.json`));
    assert.equal(info.train.config.views, V);
    assert.ok(info.train.val_accuracy >= 0.9, `val accuracy ${info.train.val_accuracy}`);
  });
});
