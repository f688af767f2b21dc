/**
 * Dense row-major float32 matrices, the currency of every kernel in lib/.
 *
 * @module
 */

/** A row-major matrix: element (i, j) is `data[i * cols + j]`. */
export interface Matrix {
  /** The `rows * cols` elements, row-major. */
  data: Float32Array;
  /** Row count (samples for features and logits, outputs O for a weight matrix). */
  rows: number;
  /** Values per row; `data.length` is `rows * cols`. */
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

/**
 * Index of the largest value of row `i`; the first one on ties, as `torch.max` and `np.argmax`.
 * A NaN never wins a comparison, so it is picked only when it stands first (callers that care
 * check finiteness before). A row of zero columns gives 0.
 *
 * @example
 * ```ts
 * rowArgmax(matrix(1, 3, new Float32Array([1, 5, 5])), 0); // 1
 * ```
 */
export function rowArgmax(m: Matrix, i: number): number {
  const data = m.data;
  const base = i * m.cols;
  let best = 0;
  let v = data[base];
  for (let j = 1; j < m.cols; j++) {
    if (data[base + j] > v) {
      v = data[base + j];
      best = j;
    }
  }
  return best;
}

/** {@linkcode rowArgmax} of every row: the predicted class of each row of logits or probabilities. */
export function argmaxRows(m: Matrix): Int32Array {
  const out = new Int32Array(m.rows);
  for (let i = 0; i < m.rows; i++) out[i] = rowArgmax(m, i);
  return out;
}
