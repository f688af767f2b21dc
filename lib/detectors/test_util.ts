/**
 * Seeded inputs and deliberately naive float64 references shared by the detector tests.
 *
 * @module
 */
import type { Matrix } from "../matrix.ts";
import { createRng } from "../random.ts";
import type { DetectorHead } from "./common.ts";

/** A seeded N(0, s^2) matrix, optionally ReLU'd (post-activation features) and shifted. */
export function randomMatrix(
  seed: number,
  rows: number,
  cols: number,
  opts: { relu?: boolean; scale?: number; shift?: number } = {},
): Matrix {
  const rng = createRng(seed);
  const s = opts.scale ?? 1;
  const data = Float32Array.from({ length: rows * cols }, () => {
    const v = rng.normal() * s + (opts.shift ?? 0);
    return opts.relu ? Math.max(0, v) : v;
  });
  return { data, rows, cols };
}

/** A seeded flat head with O outputs on D-d features. */
export function randomHead(seed: number, o: number, d: number, scale = 0.5): DetectorHead {
  const w = randomMatrix(seed, o, d, { scale });
  const b = randomMatrix(seed + 1, 1, o, { scale: 0.3 }).data;
  return { weight: w, bias: b, kind: "flat" };
}

/** Row i of a matrix as plain numbers. */
export function row(m: Matrix, i: number): number[] {
  return Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols));
}

/** x W^T + b for one row, float64. */
export function naiveLogitsRow(
  x: number[],
  head: { weight: Matrix; bias: Float32Array },
): number[] {
  const out: number[] = [];
  for (let c = 0; c < head.weight.rows; c++) {
    let s = head.bias[c];
    for (let j = 0; j < x.length; j++) s += head.weight.data[c * head.weight.cols + j] * x[j];
    out.push(s);
  }
  return out;
}

/** Logits of every row, as a float32 matrix (the "given" logits of a test). */
export function naiveLogits(x: Matrix, head: { weight: Matrix; bias: Float32Array }): Matrix {
  const out = new Float32Array(x.rows * head.weight.rows);
  for (let i = 0; i < x.rows; i++) out.set(naiveLogitsRow(row(x, i), head), i * head.weight.rows);
  return { data: out, rows: x.rows, cols: head.weight.rows };
}

/** log sum exp of plain numbers, float64. */
export function naiveLse(z: number[]): number {
  const m = Math.max(...z);
  return m + Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0));
}

/** Softmax of plain numbers, float64. */
export function naiveSoftmax(z: number[]): number[] {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** NumPy linear percentile by a full sort. */
export function naivePercentile(values: ArrayLike<number>, p: number): number {
  const v = Array.from(values).sort((a, b) => a - b);
  const h = ((v.length - 1) * p) / 100;
  const lo = Math.floor(h);
  return lo + 1 < v.length ? v[lo] + (h - lo) * (v[lo + 1] - v[lo]) : v[lo];
}

/** Inverse of a small dense matrix by Gauss-Jordan with partial pivoting (float64). */
export function naiveInverse(a: number[][]): number[][] {
  const n = a.length;
  const m = a.map((r, i) => [...r, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    [m[c], m[p]] = [m[p], m[c]];
    const d = m[c][c];
    for (let j = 0; j < 2 * n; j++) m[c][j] /= d;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r][c];
      for (let j = 0; j < 2 * n; j++) m[r][j] -= f * m[c][j];
    }
  }
  return m.map((r) => r.slice(n));
}
