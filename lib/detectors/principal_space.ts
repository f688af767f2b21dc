/**
 * The principal subspace shared by ViM and Residual (Wang et al., "ViM: Out-Of-Distribution with
 * Virtual-logit Matching", CVPR 2022): features are re-centred on the origin `u = -pinv(W) b` (the
 * point where every logit is zero), the uncentred second-moment matrix
 * `(1/N) sum_i (x_i - u)(x_i - u)^T` of ID training features is eigendecomposed, and the
 * eigenvectors beyond the `dim` largest eigenvalues span the residual space NS. Checked against
 * OpenOOD `openood/postprocessors/vim_postprocessor.py` and `residual_postprocessor.py`
 * (`u = -np.matmul(pinv(w), b)`, `EmpiricalCovariance(assume_centered=True).fit(feature - u)`,
 * `np.linalg.eig`, `NS = eigenvectors[:, argsort(-eig_vals)[dim:]]`, residual
 * `norm((x - u) @ NS, axis=-1)`).
 *
 * Scale: the second-moment matrix is accumulated over streamed training rows by the onnxruntime
 * scatter kernel of lib/ort/gram.ts (float64 accumulator), so 1.28M x 2048 never sits in memory;
 * the D x D symmetric eigendecomposition runs in TypeScript float64 (`symmetricEigen`, tens of
 * seconds at D = 2048, once per fit). `pinv(W)` is `W^T (W W^T)^+` (or `(W^T W)^+ W^T` when
 * O > D), the pseudo-inverse of the smaller Gram matrix taken like `scipy.linalg.pinvh`: equal to
 * NumPy's SVD `pinv` for a full-rank head.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import type { Matrix } from "../matrix.ts";
import { buildModel, node } from "../ort/graph.ts";
import { withinClassScatter } from "../ort/gram.ts";
import { cachedSession, defaultThreads } from "../ort/kernel_cache.ts";
import {
  type ChunkOptions,
  chunkRowsOf,
  forEachRowChunk,
  matrixSource,
  type RowSource,
} from "../ort/linear.ts";
import { f32Tensor } from "../ort/session.ts";
import { pinvSymmetric } from "../linalg/pinv_symmetric.ts";
import { symmetricEigen } from "../linalg/symmetric_eigen.ts";
import { checkFeatures, type DetectorHead } from "./common.ts";

/** A fitted principal space. */
export interface PrincipalSpace {
  /** The origin u = -pinv(W) b (length D). */
  origin: Float64Array;
  /** Eigenvalues of the second-moment matrix around u, descending. */
  eigenvalues: Float64Array;
  /** D x D, row j is the unit eigenvector of `eigenvalues[j]`. */
  eigenvectors: Float64Array;
}

/** `u = -pinv(W) b` in float64 for an O x D weight. */
export function headOrigin(weight: Matrix, bias: Float32Array): Float64Array {
  const { rows: o, cols: d, data: w } = weight;
  if (bias.length !== o) {
    throw new DataError(`Head bias has ${bias.length} values but the weight has ${o} rows.`);
  }
  const u = new Float64Array(d);
  if (o <= d) {
    // pinv(W) b = W^T (W W^T)^+ b.
    const g = new Float64Array(o * o);
    for (let a = 0; a < o; a++) {
      for (let b = a; b < o; b++) {
        let s = 0;
        for (let k = 0; k < d; k++) s += w[a * d + k] * w[b * d + k];
        g[a * o + b] = s;
        g[b * o + a] = s;
      }
    }
    const gp = pinvSymmetric(g, o, Math.max(o, d) * 2 ** -52);
    const y = new Float64Array(o);
    for (let a = 0; a < o; a++) {
      let s = 0;
      for (let b = 0; b < o; b++) s += gp[a * o + b] * bias[b];
      y[a] = s;
    }
    for (let a = 0; a < o; a++) {
      for (let k = 0; k < d; k++) u[k] -= w[a * d + k] * y[a];
    }
  } else {
    // pinv(W) b = (W^T W)^+ W^T b.
    const g = new Float64Array(d * d);
    const wb = new Float64Array(d);
    for (let a = 0; a < o; a++) {
      for (let i = 0; i < d; i++) {
        const wi = w[a * d + i];
        wb[i] += wi * bias[a];
        for (let j = i; j < d; j++) g[i * d + j] += wi * w[a * d + j];
      }
    }
    for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) g[i * d + j] = g[j * d + i];
    const gp = pinvSymmetric(g, d, Math.max(o, d) * 2 ** -52);
    for (let i = 0; i < d; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += gp[i * d + j] * wb[j];
      u[i] = -s;
    }
  }
  return u;
}

/** Fits the principal space of streamed ID training features around the head's origin. */
export async function fitPrincipalSpace(
  train: RowSource,
  head: DetectorHead,
  opts: ChunkOptions = {},
): Promise<PrincipalSpace> {
  checkFeatures("ViM / Residual fit", train, head);
  const n = train.rows;
  if (n === 0) {
    throw new DataError(`ViM / Residual fit got 0 training rows; pass ID train features.`);
  }
  const d = train.cols;
  const origin = headOrigin(head.weight, head.bias);
  // One "class" whose mean is u: the scatter kernel then gives sum (x - u)(x - u)^T.
  const scatter = await withinClassScatter(train, new Int32Array(n), {
    numClasses: 1,
    dim: d,
    counts: Float64Array.of(n),
    means: origin,
    total: n,
  }, opts);
  for (let i = 0; i < scatter.length; i++) {
    scatter[i] /= n;
    if (!Number.isFinite(scatter[i])) {
      throw new DataError(
        `ViM / Residual fit: the feature covariance is not finite (the training features hold ` +
          `NaN / Inf, or values so large that their squares overflow float32); check and ` +
          `rescale the training features.`,
      );
    }
  }
  const { values, vectors } = symmetricEigen(scatter, d);
  const order = Array.from({ length: d }, (_, i) => i).sort((a, b) =>
    values[b] - values[a] || a - b
  );
  const eigenvalues = new Float64Array(d);
  const eigenvectors = new Float64Array(d * d);
  order.forEach((j, r) => {
    eigenvalues[r] = values[j];
    eigenvectors.set(vectors.subarray(j * d, (j + 1) * d), r * d);
  });
  return { origin, eigenvalues, eigenvectors };
}

/** The D x (D - dim) residual basis NS: column j is the eigenvector of the (dim + j)-th eigenvalue. */
export function residualBasis(space: PrincipalSpace, dim: number): Matrix {
  const d = space.origin.length;
  if (!Number.isInteger(dim) || dim < 0 || dim >= d) {
    // A hyperparameter (ViM's and Residual's `dim`), so bad input, not a programming error: the
    // OpenOOD defaults (ViM 256, Residual 512) exceed small feature dimensions.
    throw new DataError(
      `principal dimension ${dim} must be an integer from 0 to ${d - 1} (below the feature ` +
        `dimension ${d}); give a smaller dim hyperparameter for ${d}-d features`,
    );
  }
  const r = d - dim;
  const ns = new Float32Array(d * r);
  for (let j = 0; j < r; j++) {
    const v = (dim + j) * d;
    for (let i = 0; i < d; i++) ns[i * r + j] = space.eigenvectors[v + i];
  }
  return { data: ns, rows: d, cols: r };
}

function residualGraph(d: number, r: number): Uint8Array {
  return buildModel({
    name: "residual_norm",
    inputs: [
      { name: "x", type: "float32", shape: ["n", d] },
      { name: "u", type: "float32", shape: [d] },
      { name: "ns", type: "float32", shape: [d, r] },
    ],
    outputs: [{ name: "norm", type: "float32", shape: ["n"] }],
    nodes: [
      // Centre first: u can be far from the data, and x NS - u NS would cancel in float32.
      node("Sub", ["x", "u"], ["xc"]),
      node("MatMul", ["xc", "ns"], ["res"]),
      node("ReduceL2", ["res"], ["norm"], { axes: [1], keepdims: 0 }),
    ],
  });
}

/** `|| (x - u) NS ||` per row of `features` (a matrix or streamed rows), by onnxruntime. */
export async function residualNorms(
  features: Matrix | RowSource,
  origin: ArrayLike<number>,
  ns: Matrix,
  opts: ChunkOptions = {},
): Promise<Float32Array> {
  const src: RowSource = "data" in features ? matrixSource(features) : features;
  const d = src.cols;
  if (ns.rows !== d || origin.length !== d) {
    throw new DataError(
      `Residual space is for ${ns.rows}-d features but the features are ${d}-d; ` +
        `fit on the same backbone's features.`,
    );
  }
  const r = ns.cols;
  const session = await cachedSession(
    `residualnorm:${d}:${r}`,
    () => residualGraph(d, r),
    defaultThreads(opts.threads),
  );
  const u = f32Tensor(Float32Array.from(origin), [d]);
  const nsT = f32Tensor(ns.data, [d, r]);
  const out = new Float32Array(src.rows);
  await forEachRowChunk(src, chunkRowsOf(opts), async (start, n, rows) => {
    await session.run(
      { x: f32Tensor(rows, [n, d]), u, ns: nsT },
      { norm: f32Tensor(out.subarray(start, start + n), [n]) },
    );
  });
  return out;
}
