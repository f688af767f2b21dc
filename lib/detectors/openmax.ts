/**
 * OpenMax (Bendale & Boult, CVPR 2016) as OpenOOD v1.5 runs it (openmax_postprocessor.py):
 *
 * Fit. The head's logits of every training row that it classifies correctly give, per class c,
 * the mean activation vector `mav_c` (mean of those logit vectors) and the Euclidean distances of
 * those rows to it. A Weibull is fitted to the `tailSize` (20) largest distances of each class
 * the way libMR's `FitHigh` does: the tail is shifted by `10000 - min(tail)` (libMR's translation)
 * and a two-parameter Weibull (location 0) is fitted by maximum likelihood.
 *
 * Score. For a row with logits z, the `alpha` (3) top classes get weights `(alpha + 1 - r) /
 * alpha` (r = 1..alpha, ties broken towards the lower class index); every other class 0. Class c's
 * logit becomes `z_c (1 - w_c omega_c)`, `w_c` the Weibull CDF of the row's distance to `mav_c`
 * (shifted like the tail), and the removed mass `sum_c z_c w_c omega_c` is the logit of an
 * "unknown" class. The score is the largest softmax probability over the C + 1 recalibrated
 * logits, as OpenOOD's postprocessor returns it (`torch.max(conf, dim=1)`), unknown included.
 *
 * Weibull maximum likelihood. For x_1..x_n > 0 the shape k solves
 * `sum x^k ln x / sum x^k - 1/k - mean(ln x) = 0`, whose left side increases in k from -inf to
 * `max ln x - mean ln x > 0`; it is found by bisection in float64 on `y = x / max x` (so `y^k`
 * never overflows), and the scale is `max x * mean(y^k)^(1/k)`. A tail of equal values has no
 * finite solution: the limit k = inf is kept (a step CDF at the common value).
 *
 * Deviations: a class without any correctly classified training row has no mean vector (OpenOOD
 * stops there); here it is never recalibrated (w = 0). The recalibration only touches the
 * `alpha` top classes, so only their distances are computed (the others have omega = 0).
 *
 * @module
 */
import { DataError } from "../errors.ts";
import { type Matrix, rowArgmax } from "../matrix.ts";
import type { ChunkOptions, RowSource } from "../ort/linear.ts";
import { type DetectorHead, forEachFeatureLogitsChunk } from "./common.ts";
import { defineDetector, need } from "./detector.ts";

/** libMR's translation of the tail before the fit ("only makes small numerical differences"). */
export const WEIBULL_TRANSLATION = 10000;

/** A Weibull fitted to the tail of one class's distances. */
export interface WeibullTail {
  /** Shape k (Infinity for a tail of equal values). */
  shape: number;
  /** Scale lambda. */
  scale: number;
  /** What is added to a distance before the CDF: `10000 - min(tail)`. */
  shift: number;
}

/**
 * Maximum-likelihood shape and scale of a two-parameter Weibull (location 0) for positive
 * `x` (see the module doc).
 */
export function weibullMle(x: ArrayLike<number>): { shape: number; scale: number } {
  const n = x.length;
  let max = 0;
  for (let i = 0; i < n; i++) {
    if (!(x[i] > 0)) throw new RangeError(`Weibull fit needs positive values, got ${x[i]}`);
    max = Math.max(max, x[i]);
  }
  const lny = new Float64Array(n);
  let meanLn = 0;
  for (let i = 0; i < n; i++) {
    lny[i] = Math.log(x[i] / max);
    meanLn += lny[i] / n;
  }
  if (meanLn === 0) return { shape: Infinity, scale: max };
  const g = (k: number) => {
    let s = 0;
    let sl = 0;
    for (let i = 0; i < n; i++) {
      const p = Math.exp(k * lny[i]);
      s += p;
      sl += p * lny[i];
    }
    return sl / s - 1 / k - meanLn;
  };
  let lo = 1e-6;
  let hi = 1;
  while (g(hi) < 0) {
    lo = hi;
    hi *= 2;
  }
  for (let it = 0; it < 200 && hi - lo > 1e-15 * hi; it++) {
    const mid = 0.5 * (lo + hi);
    if (g(mid) < 0) lo = mid;
    else hi = mid;
  }
  const k = 0.5 * (lo + hi);
  let mean = 0;
  for (let i = 0; i < n; i++) mean += Math.exp(k * lny[i]) / n;
  return { shape: k, scale: max * Math.pow(mean, 1 / k) };
}

/** libMR's `FitHigh`: the `tailSize` largest values, translated, fitted by maximum likelihood. */
export function fitWeibullTail(values: ArrayLike<number>, tailSize: number): WeibullTail {
  if (values.length === 0) throw new RangeError("Weibull tail of no values");
  const tail = Float64Array.from(values).sort().slice(-tailSize);
  const shift = WEIBULL_TRANSLATION - tail[0];
  const { shape, scale } = weibullMle(tail.map((v) => v + shift));
  return { shape, scale, shift };
}

/** The Weibull CDF of `value` after the tail's shift (libMR's `w_score`). */
export function weibullScore(t: WeibullTail, value: number): number {
  const x = value + t.shift;
  if (!(x > 0)) return 0;
  const r = x / t.scale;
  if (t.shape === Infinity) return r < 1 ? 0 : r > 1 ? 1 : 1 - Math.exp(-1);
  return 1 - Math.exp(-Math.pow(r, t.shape));
}

/** A fitted OpenMax model. */
export interface OpenMaxModel {
  /** C x C mean logit vectors of correctly classified training rows (row c: class c). */
  mavs: Float64Array;
  classes: number;
  /** Per class: its Weibull tail, or null when no training row of it was classified correctly. */
  tails: (WeibullTail | null)[];
  alpha: number;
}

function euclidean(z: ArrayLike<number>, off: number, mav: Float64Array, c: number, C: number) {
  let s = 0;
  for (let j = 0; j < C; j++) {
    const d = z[off + j] - mav[c * C + j];
    s += d * d;
  }
  return Math.sqrt(s);
}

/** Per-class sums of the correctly classified rows' logits, then their means. */
async function classMeans(
  source: RowSource,
  labels: Int32Array,
  head: DetectorHead,
  opts: ChunkOptions,
): Promise<{ mavs: Float64Array; counts: Float64Array }> {
  const C = head.weight.rows;
  const mavs = new Float64Array(C * C);
  const counts = new Float64Array(C);
  await forEachFeatureLogitsChunk(source, head, (start, _x, z) => {
    for (let i = 0; i < z.rows; i++) {
      const y = labels[start + i];
      if (rowArgmax(z, i) !== y) continue;
      counts[y]++;
      for (let j = 0; j < C; j++) mavs[y * C + j] += z.data[i * C + j];
    }
  }, opts);
  for (let c = 0; c < C; c++) {
    for (let j = 0; j < C; j++) if (counts[c] > 0) mavs[c * C + j] /= counts[c];
  }
  return { mavs, counts };
}

/** Fits OpenMax on streamed, labelled training features (two passes; see the module doc). */
export async function fitOpenMax(
  source: RowSource,
  labels: Int32Array,
  head: DetectorHead,
  o: { alpha: number; tailSize: number } & ChunkOptions,
): Promise<OpenMaxModel> {
  if (labels.length !== source.rows) {
    throw new DataError(
      `OpenMax: ${labels.length} training labels for ${source.rows} training rows; pass the ` +
        `labels of the same rows.`,
    );
  }
  const C = head.weight.rows;
  const { mavs, counts } = await classMeans(source, labels, head, o);
  // Every class's largest distances, kept sorted ascending, at most tailSize of them.
  const tails: number[][] = Array.from({ length: C }, () => []);
  await forEachFeatureLogitsChunk(source, head, (start, _x, z) => {
    for (let i = 0; i < z.rows; i++) {
      const y = labels[start + i];
      if (rowArgmax(z, i) !== y) continue;
      const d = euclidean(z.data, i * C, mavs, y, C);
      const t = tails[y];
      if (t.length === o.tailSize && d <= t[0]) continue;
      let at = t.length;
      while (at > 0 && t[at - 1] > d) at--;
      t.splice(at, 0, d);
      if (t.length > o.tailSize) t.shift();
    }
  }, o);
  return {
    mavs,
    classes: C,
    tails: tails.map((t, c) => counts[c] > 0 ? fitWeibullTail(t, o.tailSize) : null),
    alpha: o.alpha,
  };
}

/** The `alpha` largest entries of row `i` (value descending, lower index first on ties). */
function topClasses(z: Matrix, i: number, alpha: number): number[] {
  const top: number[] = [];
  const C = z.cols;
  for (let c = 0; c < C; c++) {
    const v = z.data[i * C + c];
    let at = top.length;
    while (at > 0 && z.data[i * C + top[at - 1]] < v) at--;
    if (at < alpha) {
      top.splice(at, 0, c);
      if (top.length > alpha) top.pop();
    }
  }
  return top;
}

/** OpenMax score per row of N x C logits (higher = more in-distribution). */
export function openMax(model: OpenMaxModel, logits: Matrix): Float32Array {
  const C = model.classes;
  if (logits.cols !== C) {
    throw new DataError(
      `OpenMax: logits have ${logits.cols} columns but the model was fitted on ${C} classes; ` +
        `score with the head it was fitted with.`,
    );
  }
  const out = new Float32Array(logits.rows);
  const v = new Float64Array(C + 1);
  for (let i = 0; i < logits.rows; i++) {
    const off = i * C;
    for (let c = 0; c < C; c++) v[c] = logits.data[off + c];
    const top = topClasses(logits, i, model.alpha);
    let unknown = 0;
    for (let r = 0; r < top.length; r++) {
      const c = top[r];
      const tail = model.tails[c];
      if (tail === null) continue;
      const omega = (model.alpha - r) / model.alpha;
      const w = weibullScore(tail, euclidean(logits.data, off, model.mavs, c, C));
      const z = logits.data[off + c];
      v[c] = z * (1 - w * omega);
      unknown += z - v[c];
    }
    v[C] = unknown;
    let m = -Infinity;
    for (let c = 0; c <= C; c++) m = Math.max(m, v[c]);
    let s = 0;
    for (let c = 0; c <= C; c++) s += Math.exp(v[c] - m);
    // The largest probability is exp(m - m) / s.
    out[i] = 1 / s;
  }
  return out;
}

type OpenMaxParams = { alpha: number; tailSize: number };

/** OpenMax in the registry: OpenOOD's constants (weibull_alpha 3, weibull_tail 20). */
export const OPENMAX_DETECTOR = defineDetector<OpenMaxModel, OpenMaxParams>({
  key: "openmax",
  label: "OpenMax",
  needs: { head: "flat", train: true, labels: true, logits: true },
  note: "OpenMax: score = the largest of the C + 1 OpenMax probabilities (unknown included), as " +
    "OpenOOD's postprocessor returns it; Weibull tails by maximum likelihood with libMR's " +
    "translation; a class without a correctly classified training row is not recalibrated.",
  hyperparameters: {
    alpha: { default: 3, grid: [3] },
    tailSize: { default: 20, grid: [20] },
  },
  fit: (ctx, p) => {
    const t = need(ctx.train, "openmax", "labelled ID training features");
    return fitOpenMax(t.features, t.labels, ctx.head, { ...p, threads: ctx.chunk?.threads });
  },
  score: (m, _x, z) => Promise.resolve(openMax(m, z)),
});
