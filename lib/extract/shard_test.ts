import assert from "node:assert/strict";
import { UsageError } from "../errors.ts";
import { parseShard, resolveShard, shardRange } from "./shard.ts";

Deno.test("shardRange: contiguous, covering, sizes differ by at most one", () => {
  for (const total of [0, 1, 7, 16, 1000]) {
    for (const count of [1, 2, 3, 8, 20]) {
      let pos = 0;
      const sizes: number[] = [];
      for (let i = 0; i < count; i++) {
        const r = shardRange(total, { index: i, count });
        assert.equal(r.start, pos);
        sizes.push(r.end - r.start);
        pos = r.end;
      }
      assert.equal(pos, total);
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1);
    }
  }
  assert.deepEqual(shardRange(10, { index: 1, count: 3 }), { start: 3, end: 6 });
});

Deno.test("parseShard and resolveShard: flag, Slurm, Kubernetes, errors", () => {
  assert.deepEqual(parseShard("2/5"), { index: 2, count: 5 });
  for (const bad of ["5/5", "1", "a/b", "-1/3", "0/0"]) {
    assert.throws(() => parseShard(bad), UsageError);
  }
  assert.deepEqual(resolveShard("1/4", undefined, { SLURM_ARRAY_TASK_ID: "3" }), {
    index: 1,
    count: 4,
  });
  assert.deepEqual(
    resolveShard(undefined, undefined, { SLURM_ARRAY_TASK_ID: "3", SLURM_ARRAY_TASK_COUNT: "8" }),
    { index: 3, count: 8 },
  );
  assert.throws(
    () =>
      resolveShard(undefined, undefined, {
        SLURM_ARRAY_TASK_ID: "3",
        SLURM_ARRAY_TASK_COUNT: "8",
        SLURM_ARRAY_TASK_MIN: "1",
      }),
    UsageError,
  );
  assert.deepEqual(resolveShard(undefined, 6, { JOB_COMPLETION_INDEX: "5" }), {
    index: 5,
    count: 6,
  });
  assert.throws(
    () => resolveShard(undefined, undefined, { JOB_COMPLETION_INDEX: "5" }),
    UsageError,
  );
  assert.deepEqual(resolveShard(undefined, undefined, {}), { index: 0, count: 1 });
  assert.throws(() => resolveShard(undefined, 4, {}), UsageError);
});
