import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import { createRng } from "../random.ts";
import { assertClose } from "../../tests/assert_close.ts";
import { keepCount, percentileLinear, roundHalfEven, selectKth, topKMask } from "./percentile.ts";
import { naivePercentile } from "./test_util.ts";

Deno.test("percentileLinear equals a sort-based NumPy linear percentile (ties included)", () => {
  const rng = createRng(7);
  let worst = 0;
  for (const n of [1, 2, 5, 100, 1001]) {
    // Rounded values make ties common.
    const v = Float32Array.from({ length: n }, () => Math.round(rng.normal() * 4) / 2);
    for (const p of [0, 10, 33.3, 50, 90, 99, 100]) {
      worst = Math.max(
        worst,
        assertClose(percentileLinear(v, p), naivePercentile(v, p), {
          atol: 1e-12,
          rtol: 1e-12,
          reason: "same interpolation in float64",
        }),
      );
    }
  }
  console.log(`percentile: worst abs error ${worst}`);
  assert.throws(() => percentileLinear(new Float32Array([1, NaN]), 50), DataError);
});

Deno.test("percentile hand-worked: [1..5] at 90 -> 4.6; selectKth; NumPy rounding of k", () => {
  assertClose(percentileLinear([5, 1, 4, 2, 3], 90), 4.6, { atol: 1e-12, reason: "float64" });
  const a = Float64Array.from([3, 1, 2, 5, 4]);
  assert.equal(selectKth(a, 1), 2);
  assert.equal(roundHalfEven(2.5), 2);
  assert.equal(roundHalfEven(3.5), 4);
  assert.equal(keepCount(10, 65), 4); // round(6.5) = 6 (half to even), k = 4
  assert.equal(keepCount(2048, 90), 205); // round(1843.2) = 1843
  assert.throws(() => keepCount(4, 100), RangeError);
  const keep = new Uint8Array(5);
  topKMask([1, 3, 3, 0, 3], 2, keep, new Float64Array(5));
  assert.deepEqual(Array.from(keep), [0, 1, 1, 0, 0]); // ties keep the lowest indices
});
