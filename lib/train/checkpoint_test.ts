import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import { checkpointPath, configHash, readCheckpoint, writeCheckpoint } from "./checkpoint.ts";

function sample() {
  const f = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * k));
  return {
    step: 3,
    configHash: "abc",
    state: { weight: f(12, 1), bias: f(3, 2), vWeight: f(12, 3), vBias: f(3, 4) },
    losses: new Float32Array([2.5, 2.25, 2, 0, 0]),
  };
}

Deno.test("checkpoint: round trip, config mismatch, missing and damaged files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await readCheckpoint(dir, { configHash: "abc", numOutputs: 3, dim: 4 }), null);
    const ck = sample();
    await writeCheckpoint(dir, ck);
    const back = await readCheckpoint(dir, { configHash: "abc", numOutputs: 3, dim: 4 });
    assert.ok(back);
    assert.equal(back.step, 3);
    assert.deepEqual(back.state, ck.state);
    assert.deepEqual(back.losses, ck.losses.subarray(0, 3));
    const meta = JSON.parse(await Deno.readTextFile(`${dir}/checkpoint.json`));
    assert.equal(meta.step, 3);
    assert.equal(meta.lastLoss, 2);
    assert.equal(await readCheckpoint(dir, { configHash: "xyz", numOutputs: 3, dim: 4 }), null);
    assert.equal(await readCheckpoint(dir, { configHash: "abc", numOutputs: 4, dim: 3 }), null);
    const bytes = await Deno.readFile(checkpointPath(dir));
    bytes[bytes.length - 5] ^= 0xff;
    await Deno.writeFile(checkpointPath(dir), bytes);
    await assert.rejects(
      readCheckpoint(dir, { configHash: "abc", numOutputs: 3, dim: 4 }),
      (e) => e instanceof DataError && /checksum/.test(e.message),
    );
    await Deno.writeFile(checkpointPath(dir), new TextEncoder().encode("hello"));
    await assert.rejects(
      readCheckpoint(dir, { configHash: "abc", numOutputs: 3, dim: 4 }),
      (e) => e instanceof DataError && /delete it/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("configHash: key order and typed arrays do not matter, values do", async () => {
  const a = await configHash({ x: 1, y: [1, 2], z: new Int32Array([3]) });
  const b = await configHash({ z: [3], y: [1, 2], x: 1 });
  assert.equal(a, b);
  assert.match(a, /^[0-9a-f]{64}$/);
  assert.notEqual(await configHash({ x: 2, y: [1, 2], z: [3] }), a);
});
