/**
 * Dense row-major float32 matrices, the currency of every kernel in lib/.
 *
 * @module
 */

/** A row-major matrix: element (i, j) is `data[i * cols + j]`. */
export interface Matrix {
  data: Float32Array;
  rows: number;
  cols: number;
}

/**
 * Makes a matrix, allocating zeros when `data` is omitted.
 *
 * @example
 * ```ts
 * const m = matrix(2, 3); // 2 x 3 zeros
 * ```
 */
export function matrix(rows: number, cols: number, data?: Float32Array): Matrix {
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(cols) || cols < 0) {
    throw new RangeError(`Matrix shape must be non-negative integers, got ${rows} x ${cols}`);
  }
  const d = data ?? new Float32Array(rows * cols);
  if (d.length !== rows * cols) {
    throw new RangeError(`Matrix data has ${d.length} values, expected ${rows} x ${cols}`);
  }
  return { data: d, rows, cols };
}

/** A view of rows `[start, end)` sharing memory with `m`. */
export function rowSlice(m: Matrix, start: number, end: number): Matrix {
  return { data: m.data.subarray(start * m.cols, end * m.cols), rows: end - start, cols: m.cols };
}
