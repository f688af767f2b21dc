/**
 * Mixup on cached features, as the MOS code applies it to images: one lambda ~ Beta(alpha, alpha)
 * per batch and a random pairing permutation; x = lam x + (1 - lam) x[perm] and
 * loss = lam CE(y) + (1 - lam) CE(y[perm]). Cross-entropy is linear in its target, so the mixed
 * loss is the cross-entropy against the soft target lam onehot(y) + (1 - lam) onehot(y[perm]),
 * which is what {@linkcode softTargets} builds (per group for a group head).
 *
 * @module
 */
import type { GroupLayout } from "../groups.ts";
import { createRng, deriveSeed, shuffle } from "../random.ts";
import { STREAM_MIXUP } from "./sampler.ts";

/** One batch's mixup draw. Both weights are float32 values, shared by every implementation. */
export interface MixupDraw {
  /** Weight of the batch itself (1 when mixup is off). */
  lam: number;
  /** Weight of the paired rows: `fround(1 - lam)`. */
  lamc: number;
  /** Pairing permutation of 0..B-1, or `null` when mixup is off. */
  perm: Int32Array | null;
}

/**
 * The mixup draw of step `step`: a pure function of (seed, step), so resumed runs repeat it.
 * `alpha = 0` disables mixup (`lam = 1`, no permutation).
 */
export function mixupDraw(seed: number, step: number, batch: number, alpha: number): MixupDraw {
  if (!(alpha > 0)) return { lam: 1, lamc: 0, perm: null };
  const rng = createRng(deriveSeed(seed, STREAM_MIXUP, step));
  const lam = Math.fround(rng.beta(alpha, alpha));
  const perm = new Int32Array(batch);
  for (let i = 0; i < batch; i++) perm[i] = i;
  shuffle(rng, perm);
  return { lam, lamc: Math.fround(1 - lam), perm };
}

/**
 * Mixes rows in TypeScript: `out[i] = lam x[i] + lamc x[perm[i]]` (float64 arithmetic, one
 * rounding). The ORT step does the same inside its graph; this is the reference.
 */
export function mixRows(
  out: Float32Array,
  x: Float32Array,
  cols: number,
  draw: MixupDraw,
): Float32Array {
  const rows = x.length / cols;
  if (!draw.perm) {
    out.set(x);
    return out;
  }
  const { lam, lamc, perm } = draw;
  for (let i = 0; i < rows; i++) {
    const a = i * cols;
    const b = perm[i] * cols;
    for (let j = 0; j < cols; j++) out[a + j] = lam * x[a + j] + lamc * x[b + j];
  }
  return out;
}

function addTarget(
  out: Float32Array,
  row: number,
  label: number,
  w: number,
  layout: GroupLayout | null,
  columns: Int32Array | undefined,
): void {
  if (!layout) {
    out[row + (columns ? columns[label] : label)] += w;
    return;
  }
  const g = layout.classGroup[label];
  const slot = layout.classSlot[label];
  for (let k = 0; k < layout.numGroups; k++) {
    const o = layout.starts[k] + (k === g ? slot : 0);
    out[row + (columns ? columns[o] : o)] += w;
  }
}

/**
 * Writes the B x O soft targets of a batch into `out`: flat heads get `lam` at y and `lamc` at
 * y[perm]; group heads get, in every group, that weight at the label's slot when the label is in
 * the group and at the group's "others" slot (0) otherwise. Rows sum to 1 (flat) or K (group).
 * `numOutputs` is the row width; `columns`, when given, maps each output index to its column
 * (the ORT step's packed order, whose rows are wider than O).
 */
export function softTargets(
  out: Float32Array,
  labels: Int32Array,
  numOutputs: number,
  layout: GroupLayout | null,
  draw: MixupDraw,
  columns?: Int32Array,
): Float32Array {
  const B = labels.length;
  if (out.length !== B * numOutputs) {
    throw new RangeError(`Targets buffer has ${out.length} values, expected ${B} x ${numOutputs}`);
  }
  out.fill(0);
  for (let i = 0; i < B; i++) {
    const row = i * numOutputs;
    addTarget(out, row, labels[i], draw.lam, layout, columns);
    if (draw.perm) addTarget(out, row, labels[draw.perm[i]], draw.lamc, layout, columns);
  }
  return out;
}
