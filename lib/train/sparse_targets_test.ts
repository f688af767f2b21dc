import assert from "node:assert/strict";
import { assertClose } from "../../tests/assert_close.ts";
import { groupLayout } from "../groups.ts";
import { createRng } from "../random.ts";
import { mixupDraw, softTargets } from "./mixup.ts";
import { entriesPerRow, othersRow, sparseTargets } from "./sparse_targets.ts";

/** Dense targets from the sparse form: osum * othersRow + the scattered corrections. */
function densify(
  B: number,
  width: number,
  index: Int32Array,
  value: Float32Array,
  osum: number,
  others: Float32Array | null,
): Float32Array {
  const out = new Float32Array(B * width);
  const E = index.length / B;
  for (let i = 0; i < B; i++) {
    if (others) { for (let o = 0; o < width; o++) out[i * width + o] = osum * others[o]; }
    for (let e = 0; e < E; e++) out[i * width + index[i * E + e]] += value[i * E + e];
  }
  return out;
}

Deno.test("sparseTargets: osum * othersRow + corrections are softTargets (flat, group, +-mixup)", () => {
  // Groups of 3, 1 and 2 classes: O = 6 + 3; a shuffled column order like the packed step's.
  const layout = groupLayout([[4, 0, 2], [5], [1, 3]], 6);
  const rng = createRng(3);
  const B = 40;
  for (const group of [false, true]) {
    const width = group ? layout.numOutputs + 2 : 6; // wider rows: padding columns stay 0
    const O = group ? layout.numOutputs : 6;
    const column = Int32Array.from({ length: O }, (_, o) => O - 1 - o);
    for (const alpha of [0, 0.1]) {
      // Labels from few classes: rows whose two labels share a column or a group are frequent.
      const labels = Int32Array.from({ length: B }, () => rng.int(3) * 2);
      const draw = mixupDraw(7, 1, B, alpha);
      const E = entriesPerRow(group ? layout : null, alpha > 0);
      assert.equal(E, (alpha > 0 ? 2 : 1) * (group ? 2 : 1));
      const index = new Int32Array(B * E);
      const value = new Float32Array(B * E);
      const l = group ? layout : null;
      const osum = sparseTargets(index, value, labels, l, draw, column);
      const others = group ? othersRow(layout, column, width) : null;
      const dense = softTargets(new Float32Array(B * width), labels, width, l, draw, column);
      assertClose(densify(B, width, index, value, osum, others), dense, {
        atol: 1.2e-7,
        reason: `group ${group}, alpha ${alpha}: (lam + lamc) - lam vs lamc in float32`,
      });
      assert.equal(osum, group ? Math.fround(draw.lam + draw.lamc * (alpha > 0 ? 1 : 0)) : 0);
    }
  }
});

Deno.test("othersRow and sparseTargets: the others columns, and a buffer of the wrong size", () => {
  const layout = groupLayout([[0, 1], [2]], 3); // slices [o, 0, 1], [o, 2]: O = 5
  const column = Int32Array.from([0, 1, 2, 3, 4]);
  assert.deepEqual(Array.from(othersRow(layout, column, 6)), [1, 0, 0, 1, 0, 0]);
  const draw = mixupDraw(0, 0, 2, 0);
  assert.throws(
    () =>
      sparseTargets(
        new Int32Array(3),
        new Float32Array(3),
        Int32Array.from([0, 2]),
        layout,
        draw,
        column,
      ),
    /need 2 x 2 entries/,
  );
});
