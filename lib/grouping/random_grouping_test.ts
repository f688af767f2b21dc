import assert from "node:assert/strict";
import { UsageError } from "../errors.ts";
import { validateGroups } from "../groups.ts";
import { createRng } from "../random.ts";
import { randomGroups } from "./random_grouping.ts";

Deno.test("random groups partition the classes with sizes differing by at most one", () => {
  for (
    const [C, k] of [[1000, 2], [1000, 3], [1000, 36], [1000, 225], [1000, 789], [7, 7], [10, 3]]
  ) {
    const groups = randomGroups(C, k, 42);
    validateGroups(groups, C);
    assert.equal(groups.length, k);
    const sizes = groups.map((g) => g.length);
    // Hand-worked: C = q k + r gives r groups of q + 1 first, then k - r groups of q.
    const q = Math.floor(C / k);
    const r = C % k;
    assert.deepEqual(sizes, Array.from({ length: k }, (_, g) => (g < r ? q + 1 : q)));
    for (const g of groups) assert.deepEqual(g, [...g].sort((a, b) => a - b));
  }
  assert.deepEqual(randomGroups(10, 3, 0).map((g) => g.length), [4, 3, 3]);
});

Deno.test("random groups are deterministic per seed and follow createRng's shuffle", () => {
  assert.deepEqual(randomGroups(1000, 36, 7), randomGroups(1000, 36, 7));
  assert.notDeepEqual(randomGroups(1000, 36, 7), randomGroups(1000, 36, 8));
  // Independent expectation: a textbook Fisher-Yates over createRng(seed), cut into chunks.
  const rng = createRng(3);
  const order = Array.from({ length: 11 }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const expected = [order.slice(0, 4), order.slice(4, 8), order.slice(8)]
    .map((g) => g.sort((a, b) => a - b));
  assert.deepEqual(randomGroups(11, 3, 3), expected);
});

Deno.test("random grouping rejects k outside [2, C] with a UsageError naming k", () => {
  for (const k of [1, 0, 11, 2.5, Number.NaN]) {
    assert.throws(
      () => randomGroups(10, k, 0),
      (e: unknown) =>
        e instanceof UsageError && e.message.includes(`groups ${Number.isNaN(k) ? "null" : k} `),
    );
  }
  assert.throws(() => randomGroups(1, 2, 0), UsageError);
});
