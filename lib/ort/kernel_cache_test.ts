import assert from "node:assert/strict";
import { matrix } from "../matrix.ts";
import { cachedSessionCount, defaultThreads, releaseKernels } from "./kernel_cache.ts";
import { linearLogits } from "./linear.ts";

Deno.test("repeated kernel calls of one shape reuse one session", async () => {
  await releaseKernels();
  assert.equal(cachedSessionCount(), 0);
  const w = matrix(3, 4, Float32Array.from({ length: 12 }, (_, i) => i));
  const b = Float32Array.from([1, 2, 3]);
  const x = matrix(5, 4, Float32Array.from({ length: 20 }, (_, i) => i / 10));
  const first = await linearLogits(x, w, b, { threads: 1 });
  await linearLogits(x, w, b, { threads: 1, chunkRows: 2 });
  assert.equal(cachedSessionCount(), 1);
  // Another weight of the same shape reuses the session: weights are inputs, not baked in.
  const w2 = matrix(3, 4, w.data.map((v) => -v));
  const second = await linearLogits(x, w2, b, { threads: 1 });
  assert.equal(cachedSessionCount(), 1);
  // Hand-worked: row 0 of x is [0, .1, .2, .3]; W row 0 is [0, 1, 2, 3]: 1.4 + bias 1.
  assert.ok(Math.abs(first.data[0] - 2.4) < 1e-6, `got ${first.data[0]}`);
  assert.ok(Math.abs(second.data[0] - -0.4) < 1e-6, `got ${second.data[0]}`);
  await linearLogits(matrix(2, 3), matrix(3, 3), b, { threads: 1 });
  assert.equal(cachedSessionCount(), 2);
  await releaseKernels();
  assert.equal(cachedSessionCount(), 0);
});

Deno.test("defaultThreads validates its input", () => {
  assert.equal(defaultThreads(3), 3);
  assert.ok(defaultThreads() >= 1);
  assert.throws(() => defaultThreads(0), RangeError);
});
