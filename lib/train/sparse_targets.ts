/**
 * The soft targets of a training step in sparse form, for the ORT step (lib/train/step_graph.ts).
 *
 * The dense B x O targets of `softTargets` (lib/train/mixup.ts) are mostly zeros, and for a group
 * head mostly the same row: every group's "others" slot gets the full weight `lam + lamc`, except
 * in the groups of the row's two labels. So
 * `T = osum * othersRow + corrections`, with `osum = lam + lamc` (0 for a flat head, which has no
 * "others" row) and at most four corrections per row: per label `y` of weight `w` (the row's own
 * with `lam`, its mixup partner's with `lamc`), `+w` at y's column and, for a group head, `-w` at
 * the "others" column of y's group. The graph then forms `P - T` as `P - osum * othersRow` plus a
 * scatter-add of the negated corrections, and never sees the dense targets: at ImageNet-21k's
 * 21,851 outputs those are 45 MB per step to fill, feed and read twice.
 *
 * @module
 */
import type { GroupLayout } from "../groups.ts";
import type { MixupDraw } from "./mixup.ts";

/** Corrections per row: 1 or 2 labels (mixup), 1 or 2 entries per label (group head). */
export function entriesPerRow(layout: GroupLayout | null, mixup: boolean): number {
  return (mixup ? 2 : 1) * (layout ? 2 : 1);
}

/**
 * The "others" row of a group head in the step's column order: 1 at each group's "others"
 * column (`column[starts[k]]`), 0 elsewhere; `width` columns.
 */
export function othersRow(layout: GroupLayout, column: Int32Array, width: number): Float32Array {
  const row = new Float32Array(width);
  for (let k = 0; k < layout.numGroups; k++) row[column[layout.starts[k]]] = 1;
  return row;
}

/**
 * Writes the corrections of a batch (B rows of {@linkcode entriesPerRow} entries: column in
 * `index`, weight in `value`) in the step's column order and returns `osum`, the weight of the
 * "others" row (0 for a flat head). `osum * othersRow + corrections` equals `softTargets` up to
 * float32 rounding of the sums.
 */
export function sparseTargets(
  index: Int32Array,
  value: Float32Array,
  labels: Int32Array,
  layout: GroupLayout | null,
  draw: MixupDraw,
  column: Int32Array,
): number {
  const B = labels.length;
  const mixup = draw.perm !== null;
  const E = entriesPerRow(layout, mixup);
  if (index.length !== B * E || value.length !== B * E) {
    throw new RangeError(`Sparse targets need ${B} x ${E} entries, got ${index.length}`);
  }
  for (let i = 0; i < B; i++) {
    let at = i * E;
    const put = (label: number, w: number) => {
      if (!layout) {
        index[at] = column[label];
        value[at++] = w;
        return;
      }
      const g = layout.classGroup[label];
      index[at] = column[layout.starts[g] + layout.classSlot[label]];
      value[at++] = w;
      index[at] = column[layout.starts[g]];
      value[at++] = -w;
    };
    put(labels[i], draw.lam);
    if (draw.perm) put(labels[draw.perm[i]], draw.lamc);
  }
  return layout ? Math.fround(draw.lam + (mixup ? draw.lamc : 0)) : 0;
}
