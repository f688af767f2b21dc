import assert from "node:assert/strict";
import { matrix } from "./matrix.ts";
import { matrixSource, type RowSource } from "./row_source.ts";
import type { NpyReader } from "./io/npy.ts";

Deno.test("matrixSource: readRows copies and view shares the requested rows", () => {
  const m = matrix(3, 2, new Float32Array([1, 2, 3, 4, 5, 6]));
  const s = matrixSource(m);
  assert.deepEqual([s.rows, s.cols], [3, 2]);
  const out = new Float32Array(4).fill(-1);
  s.readRows(1, 2, out);
  assert.deepEqual([...out], [3, 4, 5, 6]);
  const v = s.view!(2, 1);
  assert.deepEqual([...v], [5, 6]);
  m.data[4] = 50;
  assert.equal(v[0], 50, "a view shares memory with the matrix");
  assert.equal(out[2], 5, "readRows copies");
  assert.equal(s.view!(0, 0).length, 0);
});

Deno.test("an npy reader is a RowSource (type-level check)", () => {
  const asSource = (r: NpyReader): RowSource => r;
  assert.equal(typeof asSource, "function");
});
