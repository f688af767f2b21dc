/**
 * Random grouping for the Table 2 ablation: the classes are shuffled with `createRng(seed)` and cut
 * into k consecutive chunks whose sizes differ by at most one (the first C mod k chunks get the
 * extra class). Classes inside a group are listed ascending so the slice order does not carry
 * the shuffle; the group order is the chunk order.
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import { createRng, shuffle } from "../random.ts";

/**
 * Splits classes 0..numClasses-1 into `k` random groups of equal size +-1, the same for the same
 * seed. Throws `UsageError` when k is not an integer in [2, numClasses].
 *
 * @example
 * ```ts
 * randomGroups(10, 3, 0).map((g) => g.length); // [4, 3, 3]
 * ```
 */
export function randomGroups(numClasses: number, k: number, seed: number): number[][] {
  if (!Number.isInteger(numClasses) || numClasses < 2) {
    throw new UsageError(
      `Random grouping needs at least 2 classes, got ${JSON.stringify(numClasses)}`,
    );
  }
  if (!Number.isInteger(k) || k < 2 || k > numClasses) {
    throw new UsageError(
      `Number of groups ${
        JSON.stringify(k)
      } for random grouping is invalid; use an integer from 2 ` +
        `to the number of classes (${numClasses})`,
    );
  }
  const order = shuffle(createRng(seed), Int32Array.from({ length: numClasses }, (_, i) => i));
  const base = Math.floor(numClasses / k);
  const extra = numClasses % k;
  const groups: number[][] = [];
  let pos = 0;
  for (let g = 0; g < k; g++) {
    const n = base + (g < extra ? 1 : 0);
    groups.push(Array.from(order.subarray(pos, pos + n)).sort((a, b) => a - b));
    pos += n;
  }
  return groups;
}
