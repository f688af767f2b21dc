import assert from "node:assert/strict";
import { argmaxRows, matrix, rowArgmax, rowSlice } from "./matrix.ts";
import { createRng } from "./random.ts";

Deno.test("rowArgmax: hand-worked rows, first index on ties, -Infinity, leading NaN", () => {
  const m = matrix(
    5,
    3,
    new Float32Array([
      [1, 5, 2],
      [7, 7, 7],
      [-Infinity, -Infinity, -3],
      [NaN, 9, 10],
      [0, NaN, -1],
    ].flat()),
  );
  assert.deepEqual([0, 1, 2, 3, 4].map((i) => rowArgmax(m, i)), [1, 0, 2, 0, 0]);
  assert.deepEqual([...argmaxRows(m)], [1, 0, 2, 0, 0]);
});

Deno.test("argmaxRows matches a naive first-maximum search on random rows with ties", () => {
  const rng = createRng(4);
  const rows = 50;
  const cols = 13;
  // Values on a coarse grid so ties are common.
  const data = Float32Array.from({ length: rows * cols }, () => rng.int(6) - 3);
  const got = argmaxRows(matrix(rows, cols, data));
  for (let i = 0; i < rows; i++) {
    const row = [...data.subarray(i * cols, (i + 1) * cols)];
    assert.equal(got[i], row.indexOf(Math.max(...row)), `row ${i}`);
  }
});

Deno.test("argmaxRows on a row view and on shapes with one column or no rows", () => {
  const m = matrix(3, 2, new Float32Array([0, 1, 3, 2, 4, 5]));
  assert.deepEqual([...argmaxRows(rowSlice(m, 1, 3))], [0, 1]);
  assert.deepEqual([...argmaxRows(matrix(2, 1, new Float32Array([8, -8])))], [0, 0]);
  assert.equal(argmaxRows(matrix(0, 4)).length, 0);
});
