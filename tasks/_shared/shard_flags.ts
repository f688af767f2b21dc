/**
 * Which shard `deno task extract` runs, from its `--shard` / `--shard-count` flags or the array
 * job's environment (Slurm, Kubernetes); the flag names are the task's, so this lives here.
 *
 * @module
 */
import { UsageError } from "../../lib/errors.ts";
import { parseShard, type Shard } from "../../lib/extract/shard.ts";

/**
 * The shard to run: `--shard i/n` when given; else Slurm array variables
 * (`SLURM_ARRAY_TASK_ID`, with `SLURM_ARRAY_TASK_COUNT`; the array must be 0..n-1) or a
 * Kubernetes Indexed Job's `JOB_COMPLETION_INDEX` with `--shard-count n`; else 0/1 (no sharding).
 */
export function resolveShard(
  flag: string | undefined,
  shardCount: number | undefined,
  env: Record<string, string | undefined>,
): Shard {
  if (flag !== undefined) return parseShard(flag, "--shard");
  const slurmId = env.SLURM_ARRAY_TASK_ID;
  if (slurmId !== undefined && slurmId !== "") {
    const count = shardCount ?? Number(env.SLURM_ARRAY_TASK_COUNT);
    const min = env.SLURM_ARRAY_TASK_MIN;
    if (min !== undefined && min !== "" && Number(min) !== 0) {
      throw new UsageError(
        `SLURM_ARRAY_TASK_MIN is ${min}; submit the array as --array=0-<n-1> so task ids are ` +
          "shard indices, or pass --shard i/n",
      );
    }
    if (!Number.isFinite(count)) {
      throw new UsageError(
        "SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not; pass --shard-count n",
      );
    }
    return parseShard(`${slurmId}/${count}`, "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT");
  }
  const k8s = env.JOB_COMPLETION_INDEX;
  if (k8s !== undefined && k8s !== "") {
    if (shardCount === undefined) {
      throw new UsageError(
        "JOB_COMPLETION_INDEX is set (Kubernetes Indexed Job); pass --shard-count with the " +
          "job's completions",
      );
    }
    return parseShard(`${k8s}/${shardCount}`, "JOB_COMPLETION_INDEX/--shard-count");
  }
  if (shardCount !== undefined && shardCount !== 1) {
    throw new UsageError(
      "--shard-count needs a shard index from --shard, SLURM_ARRAY_TASK_ID or " +
        "JOB_COMPLETION_INDEX",
    );
  }
  return { index: 0, count: 1 };
}
