import assert from "node:assert/strict";
import { UsageError } from "../../lib/errors.ts";
import { resolveShard } from "./shard_flags.ts";

Deno.test("resolveShard: flag, Slurm, Kubernetes, errors", () => {
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
