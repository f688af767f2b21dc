import assert from "node:assert/strict";
import { createBatchSampler, epochPermutation } from "./sampler.ts";

Deno.test("sampler: every example exactly once per epoch, batches straddle epochs", () => {
  const N = 10;
  const B = 4;
  const s = createBatchSampler(3, N, B);
  // Stream = perm(epoch 0) ++ perm(epoch 1) ++ ...; step t covers positions [tB, tB + B).
  const stream = [
    ...epochPermutation(3, 0, N),
    ...epochPermutation(3, 1, N),
    ...epochPermutation(3, 2, N),
  ];
  for (let t = 0; t < 7; t++) assert.deepEqual([...s.indices(t)], stream.slice(t * B, t * B + B));
  for (let e = 0; e < 3; e++) {
    assert.deepEqual([...epochPermutation(3, e, N)].sort((a, b) => a - b), [...Array(N).keys()]);
  }
  assert.notDeepEqual([...epochPermutation(3, 0, N)], [...epochPermutation(3, 1, N)]);
});

Deno.test("sampler: stateless — a fresh sampler at step s repeats the original draws", () => {
  const a = createBatchSampler(42, 1000, 64);
  const seq = Array.from({ length: 40 }, (_, t) => [...a.indices(t)]);
  const b = createBatchSampler(42, 1000, 64);
  for (const t of [39, 17, 0, 16, 31]) assert.deepEqual([...b.indices(t)], seq[t]);
  const c = createBatchSampler(43, 1000, 64);
  assert.notDeepEqual([...c.indices(0)], seq[0]);
});

Deno.test("sampler: batch larger than the data set spans several epochs", () => {
  const s = createBatchSampler(5, 3, 8);
  const idx = [...s.indices(1)];
  const stream = [0, 1, 2, 3, 4, 5].flatMap((e) => [...epochPermutation(5, e, 3)]);
  assert.deepEqual(idx, stream.slice(8, 16));
});
