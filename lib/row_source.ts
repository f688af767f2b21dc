/**
 * Row sources: a float32 matrix read a block of rows at a time, whether it lives in memory
 * ({@linkcode matrixSource}) or in a file (`openNpy` in lib/io/npy.ts returns a reader that
 * satisfies {@linkcode RowSource}). Every streaming kernel (lib/ort) takes one, so memory stays
 * bounded by the chunk size. Training reads rows by index instead (`FeatureSource` in
 * lib/train/trainer.ts).
 *
 * @module
 */
import type { Matrix } from "./matrix.ts";

/** Rows of a float32 matrix read a block at a time. */
export interface RowSource {
  /** Number of rows the source holds. */
  rows: number;
  /** Values per row. */
  cols: number;
  /** Writes rows `[start, start + count)` into `out` (row-major, `count * cols` values). */
  readRows(start: number, count: number, out: Float32Array): void | Promise<void>;
  /** Optional zero-copy access for in-memory sources. */
  view?(start: number, count: number): Float32Array;
}

/**
 * Wraps an in-memory matrix as a {@linkcode RowSource} (reads are views, no copies).
 *
 * @example
 * ```ts
 * import { matrix } from "./matrix.ts";
 * const source = matrixSource(matrix(2, 3));
 * source.view!(1, 1); // row 1, sharing memory with the matrix
 * ```
 */
export function matrixSource(m: Matrix): RowSource {
  return {
    rows: m.rows,
    cols: m.cols,
    readRows(start, count, out) {
      out.set(m.data.subarray(start * m.cols, (start + count) * m.cols));
    },
    view(start, count) {
      return m.data.subarray(start * m.cols, (start + count) * m.cols);
    },
  };
}
