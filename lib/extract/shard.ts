/**
 * Sharding an extraction over array jobs: shard i of n takes a contiguous, deterministic range of
 * the ordered image list, so the shards' feature sets concatenated in shard order equal one run.
 *
 * @module
 */
import { UsageError } from "../errors.ts";

/** Shard `index` (0-based) of `count`. */
export interface Shard {
  index: number;
  count: number;
}

/** Parses `i/n` (0 <= i < n). `flag` names the source in errors. */
export function parseShard(text: string, flag = "--shard"): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw new UsageError(`${flag} must look like i/n (e.g. 0/8), got "${text}"`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index >= count || !Number.isSafeInteger(count)) {
    throw new UsageError(`${flag} ${text}: need 0 <= i < n and n >= 1`);
  }
  return { index, count };
}

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
  if (flag !== undefined) return parseShard(flag);
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

/** The half-open range of list positions `[start, end)` of `shard` over `total` images. */
export function shardRange(total: number, shard: Shard): { start: number; end: number } {
  return {
    start: Math.floor((shard.index * total) / shard.count),
    end: Math.floor(((shard.index + 1) * total) / shard.count),
  };
}
