/**
 * Class means and the shared within-class scatter `sum_i (x_i - mu_{y_i})(x_i - mu_{y_i})^T` over
 * streamed rows, for the Mahalanobis detector's fit on up to 1.28M x 2048 training features.
 *
 * Two passes: class sums first (float64, in TypeScript: N x D additions), then the scatter of the
 * class-centred rows. Centring before the product avoids the catastrophic cancellation of
 * `X^T X - N mu mu^T` in float32 (post-ReLU features have means as large as their spread). Each
 * chunk's centring (Gather + Sub) and product (Gemm transA on column blocks) run in one
 * onnxruntime graph; chunk products are added into a float64 D x D accumulator so rounding does not
 * grow with N.
 *
 * The product is computed on the upper block triangle only (the scatter is symmetric): with 4
 * column blocks that is 10 of 16 blocks, measured ~1.9x faster than one full Gemm at D = 2048.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import { buildModel, int64Const, node, type NodeSpec, type ValueSpec } from "./graph.ts";
import { cachedSession, defaultThreads } from "./kernel_cache.ts";
import {
  type ChunkOptions,
  chunkRowsOf,
  forEachRowChunk,
  type RowSource,
  STREAM_CHUNK_ROWS,
} from "./linear.ts";
import { f32Tensor, ort } from "./session.ts";

/** Per-class sums, counts and means, all float64, means row-major C x D. */
export interface ClassStats {
  numClasses: number;
  dim: number;
  /** Rows per class. */
  counts: Float64Array;
  /** C x D means (NaN rows for classes with no samples). */
  means: Float64Array;
  /** Total rows. */
  total: number;
}

function checkLabels(source: RowSource, labels: Int32Array, numClasses: number): void {
  if (!Number.isInteger(numClasses) || numClasses <= 0) {
    throw new RangeError(`numClasses must be a positive integer, got ${numClasses}`);
  }
  if (labels.length !== source.rows) {
    throw new DataError(
      `Got ${labels.length} labels for ${source.rows} feature rows; ` +
        `labels.npy and features.npy must come from the same feature set.`,
    );
  }
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i];
    if (!(c >= 0 && c < numClasses)) {
      throw new DataError(
        `Label ${c} of row ${i} is outside [0, ${numClasses}); ` +
          `fit on labelled ID training rows only.`,
      );
    }
  }
}

/** Pass one: per-class counts and means of the rows of `source`, accumulated in float64. */
export async function classStats(
  source: RowSource,
  labels: Int32Array,
  numClasses: number,
  opts: ChunkOptions = {},
): Promise<ClassStats> {
  checkLabels(source, labels, numClasses);
  const d = source.cols;
  const sums = new Float64Array(numClasses * d);
  const counts = new Float64Array(numClasses);
  await forEachRowChunk(source, chunkRowsOf(opts, STREAM_CHUNK_ROWS), (start, n, rows) => {
    for (let r = 0; r < n; r++) {
      const c = labels[start + r];
      counts[c]++;
      const src = r * d;
      const dst = c * d;
      for (let j = 0; j < d; j++) sums[dst + j] += rows[src + j];
    }
  });
  for (let c = 0; c < numClasses; c++) {
    const base = c * d;
    const n = counts[c];
    for (let j = 0; j < d; j++) sums[base + j] = n > 0 ? sums[base + j] / n : NaN;
  }
  return { numClasses, dim: d, counts, means: sums, total: source.rows };
}

/** Column block boundaries: `blocks` nearly equal blocks of [0, d). */
function blockBounds(d: number): number[] {
  // Blocks under ~256 columns make small GEMMs that lose more to overhead than symmetry saves.
  const k = d >= 1024 ? 4 : d >= 512 ? 2 : 1;
  const b: number[] = [];
  for (let i = 0; i <= k; i++) b.push(Math.floor((i * d) / k));
  return b;
}

function scatterGraph(d: number, c: number, bounds: number[]): Uint8Array {
  const k = bounds.length - 1;
  const nodes: NodeSpec[] = [
    node("Gather", ["means", "y"], ["mu"], { axis: 0 }),
    node("Sub", ["x", "mu"], ["xc"]),
  ];
  const inits = [int64Const("axis1", [1])];
  const outputs: ValueSpec[] = [];
  for (let a = 0; a < k; a++) {
    inits.push(int64Const(`s${a}`, [bounds[a]]), int64Const(`e${a}`, [bounds[a + 1]]));
    nodes.push(node("Slice", ["xc", `s${a}`, `e${a}`, "axis1"], [`xc${a}`]));
  }
  for (let a = 0; a < k; a++) {
    for (let b = a; b < k; b++) {
      const name = `g${a}_${b}`;
      nodes.push(node("Gemm", [`xc${a}`, `xc${b}`], [name], { transA: 1 }));
      outputs.push({
        name,
        type: "float32",
        shape: [bounds[a + 1] - bounds[a], bounds[b + 1] - bounds[b]],
      });
    }
  }
  return buildModel({
    name: "within_class_scatter",
    inputs: [
      { name: "x", type: "float32", shape: ["n", d] },
      { name: "y", type: "int32", shape: ["n"] },
      { name: "means", type: "float32", shape: [c, d] },
    ],
    outputs,
    nodes,
    initializers: inits,
  });
}

/**
 * Pass two: the within-class scatter `sum_i (x_i - mu_{y_i})(x_i - mu_{y_i})^T` (D x D, float64,
 * symmetric) with `stats.means` from {@linkcode classStats} on the same rows.
 */
export async function withinClassScatter(
  source: RowSource,
  labels: Int32Array,
  stats: ClassStats,
  opts: ChunkOptions = {},
): Promise<Float64Array> {
  checkLabels(source, labels, stats.numClasses);
  const d = source.cols;
  if (stats.dim !== d) {
    throw new RangeError(`Class stats have dim ${stats.dim}, rows have ${d}`);
  }
  const c = stats.numClasses;
  const bounds = blockBounds(d);
  const k = bounds.length - 1;
  const session = await cachedSession(
    `scatter:${d}:${c}:${bounds.join(",")}`,
    () => scatterGraph(d, c, bounds),
    defaultThreads(opts.threads),
  );
  // Empty classes have NaN means but no rows gather them; zeros keep the tensor finite anyway.
  const means32 = new Float32Array(c * d);
  for (let i = 0; i < means32.length; i++) {
    const v = stats.means[i];
    means32[i] = v === v ? v : 0;
  }
  const meansT = f32Tensor(means32, [c, d]);
  const outBufs: Record<string, Float32Array> = {};
  for (let a = 0; a < k; a++) {
    for (let b = a; b < k; b++) {
      outBufs[`g${a}_${b}`] = new Float32Array(
        (bounds[a + 1] - bounds[a]) * (bounds[b + 1] - bounds[b]),
      );
    }
  }
  const fetches: Record<string, ort.Tensor> = {};
  for (let a = 0; a < k; a++) {
    for (let b = a; b < k; b++) {
      const name = `g${a}_${b}`;
      fetches[name] = f32Tensor(outBufs[name], [
        bounds[a + 1] - bounds[a],
        bounds[b + 1] - bounds[b],
      ]);
    }
  }
  const acc = new Float64Array(d * d);
  await forEachRowChunk(source, chunkRowsOf(opts, STREAM_CHUNK_ROWS), async (start, n, rows) => {
    const y = labels.subarray(start, start + n);
    await session.run({
      x: f32Tensor(rows, [n, d]),
      y: new ort.Tensor("int32", y, [n]),
      means: meansT,
    }, fetches);
    for (let a = 0; a < k; a++) {
      for (let b = a; b < k; b++) {
        const g = outBufs[`g${a}_${b}`];
        const r0 = bounds[a];
        const c0 = bounds[b];
        const w = bounds[b + 1] - c0;
        for (let i = r0; i < bounds[a + 1]; i++) {
          const src = (i - r0) * w;
          const dst = i * d + c0;
          for (let j = 0; j < w; j++) acc[dst + j] += g[src + j];
        }
      }
    }
  });
  // Only the upper block triangle was accumulated; mirror it (diagonal blocks are full).
  for (let i = 0; i < d; i++) {
    for (let j = i + 1; j < d; j++) acc[j * d + i] = acc[i * d + j];
  }
  return acc;
}
