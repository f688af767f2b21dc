/**
 * Seeded, stateless batch sampling. The training stream is the concatenation of one fresh
 * permutation of all N training indices per epoch; step t takes stream positions
 * `[t * B, (t + 1) * B)`. Every example appears once per epoch, every batch has exactly B rows
 * (a batch may straddle two epochs; with N < B it spans several), and the indices of any step are
 * a pure function of (seed, step), so a run resumed at step s draws exactly what the
 * uninterrupted run drew.
 *
 * @module
 */
import { createRng, deriveSeed, shuffle } from "../random.ts";

/** Random streams derived from one run seed (`deriveSeed`); each gets its own generator per counter. */
export const STREAM_EPOCH = 1;
/** Stream of the per-step mixup draws (lambda and pairing permutation). */
export const STREAM_MIXUP = 2;

/** The permutation of `0..n-1` used in epoch `epoch` of a run seeded with `seed`. */
export function epochPermutation(seed: number, epoch: number, n: number): Int32Array {
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  return shuffle(createRng(deriveSeed(seed, STREAM_EPOCH, epoch)), perm);
}

/** Fills batches of training indices; see the module doc for the stream definition. */
export interface BatchSampler {
  /** Number of training examples N. */
  readonly size: number;
  /** Batch size B. */
  readonly batch: number;
  /** Writes the B indices of step `step` into `out` (length >= B) and returns `out`. */
  indices(step: number, out?: Int32Array): Int32Array;
}

/**
 * A sampler over `size` examples. It caches the permutations of the epochs it last touched
 * (pure functions of (seed, epoch), recomputed on demand), so it carries no RNG state.
 *
 * @example
 * ```ts
 * const sampler = createBatchSampler(7, 1000, 64);
 * const idx = sampler.indices(0); // 64 distinct indices from epoch 0
 * ```
 */
export function createBatchSampler(seed: number, size: number, batch: number): BatchSampler {
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`Sampler needs at least one example, got ${size}`);
  }
  if (!Number.isInteger(batch) || batch < 1) {
    throw new RangeError(`Batch size must be a positive integer, got ${batch}`);
  }
  deriveSeed(seed, 0, 0);
  const cache = new Map<number, Int32Array>();
  const perm = (epoch: number): Int32Array => {
    let p = cache.get(epoch);
    if (!p) {
      p = epochPermutation(seed, epoch, size);
      // A batch touches at most ceil(B / N) + 1 epochs; keep that many so none is recomputed.
      const keep = Math.ceil(batch / size) + 1;
      if (cache.size >= keep) cache.delete(cache.keys().next().value as number);
      cache.set(epoch, p);
    }
    return p;
  };
  return {
    size,
    batch,
    indices(step: number, out = new Int32Array(batch)): Int32Array {
      if (!Number.isSafeInteger(step) || step < 0) {
        throw new RangeError(`Step must be a non-negative integer, got ${step}`);
      }
      let pos = step * batch;
      let filled = 0;
      while (filled < batch) {
        const epoch = Math.floor(pos / size);
        const offset = pos - epoch * size;
        const take = Math.min(batch - filled, size - offset);
        out.set(perm(epoch).subarray(offset, offset + take), filled);
        filled += take;
        pos += take;
      }
      return out;
    },
  };
}
