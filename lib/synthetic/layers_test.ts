import assert from "node:assert/strict";
import { createRng } from "../random.ts";
import { assertClose } from "../../tests/assert_close.ts";
import { rootMeanSquare, SYNTHETIC_LAYER_SPECS, syntheticLayers } from "./layers.ts";

Deno.test("syntheticLayers: shapes, ReLU, determinism, per-set noise, and the formula", async () => {
  const rng = createRng(1);
  const D = 32;
  const n = 20;
  const x = { data: Float32Array.from({ length: n * D }, () => rng.normal()), rows: n, cols: D };
  const rms = rootMeanSquare(x);
  const a = await syntheticLayers(x, { seed: 5, stream: 0, rms });
  const b = await syntheticLayers(x, { seed: 5, stream: 0, rms });
  const c = await syntheticLayers(x, { seed: 5, stream: 1, rms });
  assert.deepEqual(a.map((l) => l.name), SYNTHETIC_LAYER_SPECS.map((s) => s.name));
  assert.deepEqual(a.map((l) => l.matrix.cols), [2, 4, 8, 16, 32]);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a[0].matrix.data, c[0].matrix.data);
  for (const l of a) assert.ok(l.matrix.data.every((v) => v >= 0) && l.matrix.rows === n);
  // Reference for the root layer: same streams, plain loops.
  const proj = createRng(5);
  const noise = createRng(5 * 1024 + 1);
  const d0 = 2;
  const w = Float64Array.from({ length: d0 * D }, () => proj.normal() / Math.sqrt(D));
  const want: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d0; j++) {
      let s = 0;
      for (let k = 0; k < D; k++) s += x.data[i * D + k] * w[j * D + k];
      want.push(Math.max(0, s + SYNTHETIC_LAYER_SPECS[0].noise * rms * noise.normal()));
    }
  }
  assertClose(a[0].matrix.data, want, {
    atol: 1e-5,
    reason: "float32 weights and onnxruntime products vs float64 loops",
  });
});
