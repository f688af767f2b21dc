import assert from "node:assert/strict";
import { UsageError } from "../errors.ts";
import { inferArch } from "./arch.ts";
import { checkpointHead } from "./checkpoint_head.ts";
import { randomBitWeights } from "./random_weights.ts";

Deno.test("checkpointHead: weight row k is the kernel's column k; bias and label space kept", () => {
  const w = randomBitWeights({ units: [1, 1, 1, 1], rootChannels: 32, numClasses: 5, seed: 2 });
  const arch = inferArch(w, "t.npz");
  const head = checkpointHead(w, arch, "t.npz");
  const kernel = w.get("resnet/head/conv2d/kernel")!.data as Float32Array; // (1, 1, D, K)
  const D = 1024;
  assert.equal(head.weight.rows, 5);
  assert.equal(head.weight.cols, D);
  for (const [k, d] of [[0, 0], [4, 1023], [2, 517]]) {
    assert.equal(head.weight.data[k * D + d], kernel[d * 5 + k]);
  }
  assert.deepEqual([...head.bias], [...(w.get("resnet/head/conv2d/bias")!.data as Float32Array)]);
  assert.equal(head.info.kind, "flat");
  assert.equal(head.info.num_classes, 5);
  assert.deepEqual(head.info.pretrained, { source: "t.npz", arch: arch.name, label_space: null });
  assert.equal(
    (checkpointHead(w, arch, "t.npz", "my.tsv").info.pretrained as { label_space: string })
      .label_space,
    "my.tsv",
  );
  const headless = randomBitWeights({ units: [1, 1, 1, 1], rootChannels: 32, seed: 2 });
  assert.throws(
    () => checkpointHead(headless, inferArch(headless, "h.npz"), "h.npz"),
    (e: unknown) => e instanceof UsageError && /h\.npz has no classifier head/.test(e.message),
  );
});
