/**
 * Sharding an extraction over array jobs: shard i of n takes a contiguous, deterministic range of
 * the ordered image list, so the shards' feature sets concatenated in shard order equal one run.
 *
 * @module
 */
import { UsageError } from "../errors.ts";

/** Shard `index` (0-based) of `count`. */
export interface Shard {
  /** This shard's 0-based position, in [0, count). */
  index: number;
  /** Number of shards the list is split into (>= 1). */
  count: number;
}

/** Parses `i/n` (0 <= i < n). `label` names the source in errors (default "shard"). */
export function parseShard(text: string, label = "shard"): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw new UsageError(`${label} must look like i/n (e.g. 0/8), got "${text}"`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index >= count || !Number.isSafeInteger(count)) {
    throw new UsageError(`${label} ${text}: need 0 <= i < n and n >= 1`);
  }
  return { index, count };
}

/** The half-open range of list positions `[start, end)` of `shard` over `total` images. */
export function shardRange(total: number, shard: Shard): { start: number; end: number } {
  return {
    start: Math.floor((shard.index * total) / shard.count),
    end: Math.floor(((shard.index + 1) * total) / shard.count),
  };
}
