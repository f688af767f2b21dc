/**
 * Row-wise softmax family over logits matrices, numerically stable: every row is shifted by its
 * maximum before `exp`, and sums run in float64, so logits of 1e4 (or -1e4) neither overflow nor
 * lose the small terms. Results are stored as float32.
 *
 * A temperature `T` divides the logits first (`x / T`, as the released MOS code does with
 * `logits / temper`), so `softmaxRows(m, T)` is `softmax(x / T)`.
 *
 * @module
 */
import { DataError } from "./errors.ts";
import type { Matrix } from "./matrix.ts";

function checkTemperature(temperature: number): void {
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new RangeError(
      `Softmax temperature must be a positive finite number, got ${temperature}`,
    );
  }
}

function checkCols(m: Matrix): void {
  if (m.cols === 0 && m.rows > 0) {
    throw new DataError(
      `Logits have ${m.rows} rows but 0 columns; a softmax needs at least one class per row`,
    );
  }
}

function checkOut(m: Matrix, out: Matrix): void {
  if (out.rows !== m.rows || out.cols !== m.cols || out.data.length !== m.data.length) {
    throw new RangeError(
      `Output matrix is ${out.rows} x ${out.cols}, expected ${m.rows} x ${m.cols}`,
    );
  }
}

/** `max_j x_ij / T` over the `cols` values of one row starting at `base`. */
function rowMax(data: Float32Array, base: number, cols: number, temperature: number): number {
  let max = -Infinity;
  for (let j = 0; j < cols; j++) {
    const v = data[base + j] / temperature;
    if (v > max) max = v;
  }
  return max;
}

/** `sum_j exp(x_ij / T - max)` over one row, in float64. */
function rowExpSum(
  data: Float32Array,
  base: number,
  cols: number,
  temperature: number,
  max: number,
): number {
  let sum = 0;
  for (let j = 0; j < cols; j++) sum += Math.exp(data[base + j] / temperature - max);
  return sum;
}

/**
 * One float32 per row: `f(data, base, cols, max)` with `max` the row's largest `x / T`, after the
 * temperature and shape checks every row reduction shares.
 */
function reduceRows(
  m: Matrix,
  temperature: number,
  f: (data: Float32Array, base: number, cols: number, max: number) => number,
): Float32Array {
  checkTemperature(temperature);
  checkCols(m);
  const { rows, cols, data } = m;
  const out = new Float32Array(rows);
  for (let i = 0; i < rows; i++) {
    const base = i * cols;
    out[i] = f(data, base, cols, rowMax(data, base, cols, temperature));
  }
  return out;
}

/**
 * Per-row `log(sum_j exp(x_ij / T))`, i.e. the log-partition of the tempered logits. It is NOT
 * multiplied by `T`: the energy score `T * logsumexp(x / T)` does that itself.
 *
 * @example
 * ```ts
 * import { matrix } from "./matrix.ts";
 * logsumexpRows(matrix(1, 2, new Float32Array([0, 0]))); // [ln 2]
 * ```
 */
export function logsumexpRows(m: Matrix, temperature = 1): Float32Array {
  return reduceRows(m, temperature, (data, base, cols, max) =>
    // All -Infinity (log 0) or a +Infinity logit: the answer is the max itself; shifting by an
    // infinite max would produce NaN.
    max === -Infinity || max === Infinity
      ? max
      : max + Math.log(rowExpSum(data, base, cols, temperature, max)));
}

/**
 * Fills `out` (or a new matrix of `m`'s shape) row by row: `write(data, base, cols, max, o)` with
 * `max` the row's largest `x / T` writes `o[base .. base + cols)`. `out` may be `m` itself when
 * `write` reads each `data[base + j]` before it writes `o[base + j]`.
 */
function mapRows(
  m: Matrix,
  temperature: number,
  out: Matrix | undefined,
  write: (data: Float32Array, base: number, cols: number, max: number, o: Float32Array) => void,
): Matrix {
  checkCols(m);
  const { rows, cols, data } = m;
  const res = out ?? { data: new Float32Array(rows * cols), rows, cols };
  checkOut(m, res);
  for (let i = 0; i < rows; i++) {
    const base = i * cols;
    write(data, base, cols, rowMax(data, base, cols, temperature), res.data);
  }
  return res;
}

/**
 * Per-row `softmax(x / T)`. Writes into `out` (same shape; may be `m` itself for in-place use) or
 * a new matrix.
 */
export function softmaxRows(m: Matrix, temperature = 1, out?: Matrix): Matrix {
  checkTemperature(temperature);
  return mapRows(m, temperature, out, (data, base, cols, max, o) => {
    const inv = 1 / rowExpSum(data, base, cols, temperature, max);
    // Reads of data[base + j] happen before the write to the same index, so out === m is safe.
    for (let j = 0; j < cols; j++) o[base + j] = Math.exp(data[base + j] / temperature - max) * inv;
  });
}

/** Per-row `log softmax(x)` (temperature 1). `out` may be `m` itself. */
export function logSoftmaxRows(m: Matrix, out?: Matrix): Matrix {
  // x / 1 is x exactly, so the shared helpers at T = 1 give the same bits as untempered loops.
  return mapRows(m, 1, out, (data, base, cols, max, o) => {
    // log-sum-exp relative to the max, so x - max - log(sum) never subtracts two huge numbers.
    const lse = Math.log(rowExpSum(data, base, cols, 1, max));
    for (let j = 0; j < cols; j++) o[base + j] = data[base + j] - max - lse;
  });
}

/**
 * Per-row `max_j softmax(x / T)_j`, computed as `1 / sum_j exp((x_j - max) / T)` so the winning
 * probability keeps full precision even when it is within 1e-8 of 1.
 */
export function maxSoftmaxRows(m: Matrix, temperature = 1): Float32Array {
  return reduceRows(
    m,
    temperature,
    (data, base, cols, max) => 1 / rowExpSum(data, base, cols, temperature, max),
  );
}
