/**
 * Plain float64 TypeScript score paths of the registry's onnxruntime-backed detectors (ReAct,
 * ASH, DICE, MOS + ReAct, KNN, ViM, Residual, RMDS, NNGuide): products, norms, quadratic forms
 * and energies in float64, row by row, with no chunking, no graph and no streaming search. The registry declares them as the `reference` of those entries;
 * lib/scoring/score_sets_all_methods_test.ts compares each fast path with them.
 *
 * @module
 */
import type { GroupLayout } from "../groups.ts";
import type { Matrix } from "../matrix.ts";
import type { RowSource } from "../row_source.ts";
import { mos } from "../scores/mos.ts";
import { ashRow, type AshVariant } from "./ash.ts";
import type { DetectorHead } from "./common.ts";
import { keepCount } from "./percentile.ts";

/**
 * `t(x) W^T + b` in float64 (rounded to float32 once at the end), `t` shaping one row of
 * features into `dst`.
 */
export function referenceLogits(
  features: Matrix,
  weight: Matrix,
  bias: Float32Array,
  transform: (src: Float32Array, dst: Float32Array) => void = (s, d) => d.set(s),
): Matrix {
  const { rows: o, cols: d } = weight;
  const out = new Float32Array(features.rows * o);
  const row = new Float32Array(d);
  for (let i = 0; i < features.rows; i++) {
    transform(features.data.subarray(i * d, (i + 1) * d), row);
    for (let c = 0; c < o; c++) {
      let s = bias[c];
      for (let j = 0; j < d; j++) s += row[j] * weight.data[c * d + j];
      out[i * o + c] = s;
    }
  }
  return { data: out, rows: features.rows, cols: o };
}

/** `logsumexp_j z_j` per row in float64. */
export function referenceEnergy(logits: Matrix): Float32Array {
  const out = new Float32Array(logits.rows);
  for (let i = 0; i < logits.rows; i++) {
    const z = logits.data.subarray(i * logits.cols, (i + 1) * logits.cols);
    let m = -Infinity;
    for (const v of z) m = Math.max(m, v);
    let s = 0;
    for (const v of z) s += Math.exp(v - m);
    out[i] = m + Math.log(s);
  }
  return out;
}

/** ReAct: energy of the logits of `min(x, threshold)`. */
export function reactReference(threshold: number, head: DetectorHead, x: Matrix): Float32Array {
  return referenceEnergy(referenceLogits(x, head.weight, head.bias, clip(threshold)));
}

/** MOS + ReAct: MOS of the group head's logits of `min(x, threshold)`. */
export function mosReactReference(
  threshold: number,
  head: DetectorHead,
  layout: GroupLayout,
  x: Matrix,
): Float32Array {
  return mos(layout, referenceLogits(x, head.weight, head.bias, clip(threshold)));
}

/** ASH (variant p, b or s) at `percentile`: energy of the logits of the shaped features. */
export function ashReference(
  v: AshVariant,
  head: DetectorHead,
  x: Matrix,
  percentile: number,
): Float32Array {
  const d = x.cols;
  const k = keepCount(d, percentile);
  const keep = new Uint8Array(d);
  const scratch = new Float64Array(d);
  return referenceEnergy(
    referenceLogits(x, head.weight, head.bias, (s, t) => ashRow(v, s, t, k, keep, scratch)),
  );
}

/** DICE: energy of the logits through the masked weight. */
export function diceReference(masked: Matrix, bias: Float32Array, x: Matrix): Float32Array {
  return referenceEnergy(referenceLogits(x, masked, bias));
}

function clip(c: number) {
  return (src: Float32Array, dst: Float32Array) => {
    for (let j = 0; j < src.length; j++) dst[j] = src[j] > c ? c : src[j];
  };
}

/** `x / max(|x|, 1e-12)` in float64 (torch `F.normalize`, as knn.ts normalises). */
function unitRow(x: Matrix, i: number): Float64Array {
  const d = x.cols;
  const out = new Float64Array(d);
  let s = 0;
  for (let j = 0; j < d; j++) s += x.data[i * d + j] ** 2;
  const n = Math.max(Math.sqrt(s), 1e-12);
  for (let j = 0; j < d; j++) out[j] = x.data[i * d + j] / n;
  return out;
}

/** All rows of a row source in memory. */
export async function readAllRows(source: RowSource): Promise<Matrix> {
  const data = new Float32Array(source.rows * source.cols);
  await source.readRows(0, source.rows, data);
  return { data, rows: source.rows, cols: source.cols };
}

/** KNN: `-d_k`, the distance to the k-th nearest unit-length training row, by a full sort. */
export async function knnReference(train: RowSource, k: number, x: Matrix): Promise<Float32Array> {
  const t = await readAllRows(train);
  const units = Array.from({ length: t.rows }, (_, j) => unitRow(t, j));
  const out = new Float32Array(x.rows);
  for (let i = 0; i < x.rows; i++) {
    const q = unitRow(x, i);
    const d = units.map((u) => Math.sqrt(u.reduce((s, v, j) => s + (q[j] - v) ** 2, 0)));
    d.sort((a, b) => a - b);
    out[i] = -d[k - 1];
  }
  return out;
}

/** `|| (x - u) NS ||` per row in float64. */
export function residualNormsReference(x: Matrix, origin: ArrayLike<number>, ns: Matrix): number[] {
  const d = x.cols;
  const r = ns.cols;
  return Array.from({ length: x.rows }, (_, i) => {
    let s = 0;
    for (let c = 0; c < r; c++) {
      let p = 0;
      for (let j = 0; j < d; j++) p += (x.data[i * d + j] - origin[j]) * ns.data[j * r + c];
      s += p * p;
    }
    return Math.sqrt(s);
  });
}

/** ViM: energy minus alpha times the residual norm. */
export function vimReference(
  m: { origin: ArrayLike<number>; basis: Matrix; alpha: number },
  x: Matrix,
  z: Matrix,
): Float32Array {
  const e = referenceEnergy(z);
  const r = residualNormsReference(x, m.origin, m.basis);
  return Float32Array.from(e, (v, i) => v - m.alpha * r[i]);
}

/** Residual: minus the residual norm. */
export function residualReference(
  m: { origin: ArrayLike<number>; basis: Matrix },
  x: Matrix,
): Float32Array {
  return Float32Array.from(residualNormsReference(x, m.origin, m.basis), (v) => -v);
}

/** `min_c (x - mu_c)^T P (x - mu_c)` per row in float64. */
function minQuadratic(means: Matrix, precision: Matrix, x: Matrix): number[] {
  const d = x.cols;
  const diff = new Float64Array(d);
  return Array.from({ length: x.rows }, (_, i) => {
    let best = Infinity;
    for (let c = 0; c < means.rows; c++) {
      for (let j = 0; j < d; j++) diff[j] = x.data[i * d + j] - means.data[c * d + j];
      let q = 0;
      for (let a = 0; a < d; a++) {
        let s = 0;
        for (let b = 0; b < d; b++) s += precision.data[a * d + b] * diff[b];
        q += diff[a] * s;
      }
      best = Math.min(best, q);
    }
    return best;
  });
}

/** RMDS: background distance minus the smallest class distance. */
export function rmdsReference(
  m: {
    classes: { means: Matrix; precision: Matrix };
    background: { means: Matrix; precision: Matrix };
  },
  x: Matrix,
): Float32Array {
  const cls = minQuadratic(m.classes.means, m.classes.precision, x);
  const bg = minQuadratic(m.background.means, m.background.precision, x);
  return Float32Array.from(cls, (v, i) => bg[i] - v);
}

/** NNGuide: energy times the mean of the k largest inner products with the guide bank. */
export function nnGuideReference(
  m: { bank: Matrix; k: number },
  x: Matrix,
  z: Matrix,
): Float32Array {
  const e = referenceEnergy(z);
  const d = x.cols;
  return Float32Array.from({ length: x.rows }, (_, i) => {
    const q = unitRow(x, i);
    const ip = Array.from({ length: m.bank.rows }, (_, j) => {
      let s = 0;
      for (let c = 0; c < d; c++) s += q[c] * m.bank.data[j * d + c];
      return s;
    }).sort((a, b) => b - a);
    return e[i] * ip.slice(0, m.k).reduce((a, b) => a + b, 0) / m.k;
  });
}
