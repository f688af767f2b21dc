import assert from "node:assert/strict";
import { assertClose } from "../../tests/assert_close.ts";
import { UsageError } from "../errors.ts";
import { hyperRule, learningRate } from "./hyperrule.ts";

const EXACT = { atol: 0, rtol: 1e-15, reason: "same double arithmetic as BiT's get_lr" };

/** [step, expected lr or null] pairs, written out by hand from BiT's get_lr. */
function check(rule: ReturnType<typeof hyperRule>, table: [number, number | null][]): void {
  for (const [step, want] of table) {
    const got = learningRate(rule, step);
    if (want === null) assert.equal(got, null, `step ${step}`);
    else {
      assert.notEqual(got, null, `step ${step}`);
      assertClose(got!, want, { ...EXACT, reason: `step ${step}: ${EXACT.reason}` });
    }
  }
}

Deno.test("hyperRule: >= 500k images, supports [500, 6000, 12000, 18000, 20000]", () => {
  const r = hyperRule(1_281_167);
  assert.deepEqual(r.supports, [500, 6000, 12000, 18000, 20000]);
  assert.equal(r.totalSteps, 20000);
  assert.equal(r.warmup, 500);
  assert.equal(r.batch, 512);
  assert.equal(r.mixupAlpha, 0.1);
  assertClose(r.baseLr, 0.003, EXACT);
  check(r, [
    [0, 0], // lr at step 0 is zero (warm-up starts at 0)
    [1, 0.003 / 500],
    [250, 0.0015],
    [499, 0.003 * 499 / 500],
    [500, 0.003],
    [501, 0.003],
    [5999, 0.003],
    [6000, 0.003], // a boundary step still uses the old rate (BiT decays when s < step)
    [6001, 0.0003],
    [11999, 0.0003],
    [12000, 0.0003],
    [12001, 0.00003],
    [17999, 0.00003],
    [18000, 0.00003],
    [18001, 0.000003],
    [19999, 0.000003],
    [20000, null], // training stops before the last support
    [20001, null],
  ]);
});

Deno.test("hyperRule: 20k..500k images, supports [500, 3000, 6000, 9000, 10000]", () => {
  const r = hyperRule(20_000);
  assert.deepEqual(r.supports, [500, 3000, 6000, 9000, 10000]);
  assert.equal(r.mixupAlpha, 0.1);
  assert.deepEqual(hyperRule(499_999).supports, r.supports);
  assert.deepEqual(hyperRule(500_000).supports, [500, 6000, 12000, 18000, 20000]);
  check(r, [
    [0, 0],
    [499, 0.003 * 499 / 500],
    [500, 0.003],
    [501, 0.003],
    [2999, 0.003],
    [3000, 0.003],
    [3001, 0.0003],
    [5999, 0.0003],
    [6000, 0.0003],
    [6001, 0.00003],
    [8999, 0.00003],
    [9000, 0.00003],
    [9001, 0.000003],
    [9999, 0.000003],
    [10000, null],
    [10001, null],
  ]);
});

Deno.test("hyperRule: < 20k images, supports [100..500], no mixup", () => {
  const r = hyperRule(19_999);
  assert.deepEqual(r.supports, [100, 200, 300, 400, 500]);
  assert.equal(r.mixupAlpha, 0);
  check(r, [
    [0, 0],
    [1, 0.003 / 100],
    [99, 0.003 * 99 / 100],
    [100, 0.003],
    [101, 0.003],
    [199, 0.003],
    [200, 0.003],
    [201, 0.0003],
    [299, 0.0003],
    [300, 0.0003],
    [301, 0.00003],
    [399, 0.00003],
    [400, 0.00003],
    [401, 0.000003],
    [499, 0.000003],
    [500, null],
    [501, null],
  ]);
});

Deno.test("hyperRule: overrides scale the supports and set lr, batch, mixup, warm-up", () => {
  const r = hyperRule(1_281_167, { steps: 1000, batch: 256 });
  assert.deepEqual(r.supports, [25, 300, 600, 900, 1000]);
  assertClose(r.baseLr, 0.0015, EXACT);
  check(r, [
    [0, 0],
    [24, 0.0015 * 24 / 25],
    [25, 0.0015],
    [26, 0.0015],
    [299, 0.0015],
    [300, 0.0015],
    [301, 0.00015],
    [599, 0.00015],
    [600, 0.00015],
    [601, 0.000015],
    [899, 0.000015],
    [900, 0.000015],
    [901, 0.0000015],
    [999, 0.0000015],
    [1000, null],
  ]);
  const w = hyperRule(1_281_167, { steps: 1000, warmup: 50, lr: 0.1, mixupAlpha: 0 });
  assert.deepEqual(w.supports, [50, 300, 600, 900, 1000]);
  assert.equal(w.mixupAlpha, 0);
  check(w, [[0, 0], [49, 0.1 * 49 / 50], [50, 0.1], [51, 0.1], [300, 0.1], [301, 0.01]]);
  // Warm-up 0: full rate from step 0.
  check(hyperRule(100, { warmup: 0 }), [[0, 0.003], [200, 0.003], [201, 0.0003]]);
  // Tiny totals keep integer, non-decreasing supports ending at the total.
  assert.deepEqual(hyperRule(100, { steps: 3 }).supports, [1, 1, 2, 2, 3]);
});

Deno.test("hyperRule: invalid overrides are usage errors naming the override", () => {
  assert.throws(
    () => hyperRule(100, { steps: 0 }),
    (e) => e instanceof UsageError && /steps/.test(e.message),
  );
  assert.throws(
    () => hyperRule(100, { batch: 1.5 }),
    (e) => e instanceof UsageError && /batch/.test(e.message),
  );
  assert.throws(
    () => hyperRule(100, { warmup: 501 }),
    (e) => e instanceof UsageError && /warmup/.test(e.message),
  );
  assert.throws(
    () => hyperRule(100, { lr: -1 }),
    (e) => e instanceof UsageError && /lr/.test(e.message),
  );
  assert.throws(
    () => hyperRule(100, { mixupAlpha: NaN }),
    (e) => e instanceof UsageError && /mixup/.test(e.message),
  );
});
