/**
 * Relation (Kim et al., NeurIPS 2023, "Neural Relation Graph"), as OpenOOD v1.5's
 * relation_postprocessor.py runs it: every training row is a node with its L2-normalised feature
 * f_j (`f / sqrt(|f|^2 + 1e-10)`) and its softmax vector p_j. A test row x relates to node j by
 * `r_j = max(f(x) . f_j, 0) * (p(x) . p_j)`; edges with `|r_j| <= 0.03` are cut, and the score is
 * `sum_j sign(r_j) |r_j|^pow` over the remaining edges (higher = more in-distribution). OpenOOD's
 * defaults: pow 1, sweep [1, 2, 4, 6, 8] (configs/postprocessors/relation.yml).
 *
 * Fast path: the two products per test block and training chunk run in onnxruntime (the training
 * features are streamed and normalised chunk by chunk, their softmax taken from the head's logits
 * of the chunk), the threshold and the power in TypeScript. Cost: N_test x N_train x (D + C)
 * multiply-adds, as in OpenOOD.
 *
 * @module
 */
import type { Matrix } from "../matrix.ts";
import { type ChunkOptions, linearLogits, type RowSource } from "../ort/linear.ts";
import { softmaxRows } from "../softmax.ts";
import { checkFeatures, type DetectorHead, forEachFeatureLogitsChunk } from "./common.ts";
import { defineDetector, need } from "./detector.ts";
import { referenceLogits } from "./reference_paths.ts";

/** Edges at or below this relation value are cut (OpenOOD's `thres`). */
export const RELATION_EDGE_THRESHOLD = 0.03;

/** The rows of `x` scaled to unit length as OpenOOD does: `x / sqrt(|x|^2 + 1e-10)`. */
export function normalizeRelationRows(x: Matrix): Matrix {
  const out = new Float32Array(x.data.length);
  const d = x.cols;
  for (let i = 0; i < x.rows; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += x.data[i * d + j] * x.data[i * d + j];
    const inv = 1 / Math.sqrt(s + 1e-10);
    for (let j = 0; j < d; j++) out[i * d + j] = x.data[i * d + j] * inv;
  }
  return { data: out, rows: x.rows, cols: d };
}

/** A fitted Relation model: the streamed training rows and the head. */
export interface RelationModel {
  train: RowSource;
  head: DetectorHead;
  pow: number;
  chunk?: ChunkOptions;
}

/** Adds `sum_j sign(r) |r|^pow` over the kept edges of a block of relations to `out`. */
function accumulate(dot: Matrix, sim: Matrix, pow: number, out: Float64Array): void {
  const n = dot.cols;
  for (let i = 0; i < dot.rows; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) {
      const k = i * n + j;
      const r = (dot.data[k] > 0 ? dot.data[k] : 0) * sim.data[k];
      if (Math.abs(r) > RELATION_EDGE_THRESHOLD) {
        s += Math.sign(r) * (pow === 1 ? Math.abs(r) : Math.pow(Math.abs(r), pow));
      }
    }
    out[i] += s;
  }
}

/** Relation score per row of `features` with their head `logits`. */
export async function relation(
  model: RelationModel,
  features: Matrix,
  logits: Matrix,
): Promise<Float32Array> {
  checkFeatures("Relation", features, model.head);
  const f = normalizeRelationRows(features);
  const p = softmaxRows(logits);
  const acc = new Float64Array(features.rows);
  const opts = { threads: model.chunk?.threads };
  await forEachFeatureLogitsChunk(model.train, model.head, async (_s, x, z) => {
    const ft = normalizeRelationRows(x);
    const pt = softmaxRows(z);
    const zeroF = new Float32Array(ft.rows);
    // x W^T + 0 with the training chunk as W: the N x n products of both kernels.
    const dot = await linearLogits(f, ft, zeroF, opts);
    const sim = await linearLogits(p, pt, zeroF, opts);
    accumulate(dot, sim, model.pow, acc);
  }, model.chunk);
  return Float32Array.from(acc);
}

/** The plain float64 reference of {@linkcode relation} on in-memory training rows. */
export function relationReference(
  train: Matrix,
  trainLogits: Matrix,
  pow: number,
  features: Matrix,
  logits: Matrix,
): Float32Array {
  const norm = (m: Matrix, i: number) => {
    let s = 0;
    for (let j = 0; j < m.cols; j++) s += m.data[i * m.cols + j] ** 2;
    return Math.sqrt(s + 1e-10);
  };
  const soft = (m: Matrix, i: number) => {
    const row = Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols));
    const mx = Math.max(...row);
    const e = row.map((v) => Math.exp(v - mx));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  };
  const out = new Float32Array(features.rows);
  for (let i = 0; i < features.rows; i++) {
    const ni = norm(features, i);
    const pi = soft(logits, i);
    let s = 0;
    for (let j = 0; j < train.rows; j++) {
      const nj = norm(train, j);
      let dot = 0;
      for (let d = 0; d < train.cols; d++) {
        dot += (features.data[i * train.cols + d] / ni) * (train.data[j * train.cols + d] / nj);
      }
      const pj = soft(trainLogits, j);
      let sim = 0;
      for (let c = 0; c < pi.length; c++) sim += pi[c] * pj[c];
      const r = Math.max(dot, 0) * sim;
      if (Math.abs(r) > RELATION_EDGE_THRESHOLD) s += Math.sign(r) * Math.abs(r) ** pow;
    }
    out[i] = s;
  }
  return out;
}

/** Relation in the registry (OpenOOD's defaults and sweep). */
export const RELATION_DETECTOR = defineDetector<RelationModel, { pow: number }>({
  key: "relation",
  label: "Relation",
  needs: { head: "flat", train: true, logits: true },
  hyperparameters: { pow: { default: 1, grid: [1, 2, 4, 6, 8] } },
  fit: (ctx, p) => {
    const t = need(ctx.train, "relation", "ID training features");
    checkFeatures("Relation", t.features, ctx.head);
    return { train: t.features, head: ctx.head, pow: p.pow, chunk: ctx.chunk };
  },
  score: (m, x, z) => relation(m, x, z),
  reference: async (m, x, z) => {
    const data = new Float32Array(m.train.rows * m.train.cols);
    await m.train.readRows(0, m.train.rows, data);
    const train = { data, rows: m.train.rows, cols: m.train.cols };
    return relationReference(
      train,
      referenceLogits(train, m.head.weight, m.head.bias),
      m.pow,
      x,
      z,
    );
  },
});
