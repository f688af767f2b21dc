/**
 * The float32 overflow guard of every scoring path. Feature sets are checked for NaN / Inf when
 * they are read, but finite inputs can still overflow float32 on the way to a score: features of
 * 1e30 times a head's weights, a squared distance of features above ~1.8e19, a covariance of such
 * features. Where a method cannot be made stable in float32 (a logits GEMM that overflows has
 * lost the information), the result must not become a metric: this module turns the first
 * non-finite value of a logits matrix or a score vector into ONE `DataError` that names the
 * method, the dataset and the file, and gives fit-time errors the same context.
 *
 * The checks are single passes over N x K logits (computed once per set and shared by every
 * logit-based method) or over N scores, never over the N x D features.
 *
 * @module
 */
import { DataError } from "./errors.ts";
import type { Matrix } from "./matrix.ts";

/** Where a value was computed: the method, the dataset name and the file it was read from. */
export interface NumericSite {
  /** Method key (or several, comma-separated, for logits shared by several methods). */
  method: string;
  /** Dataset name (`id`, an OOD NAME, `--train`, ...). */
  set: string;
  /** The input file the values came from (a features.npy path, a layer .npy, ...). */
  file: string;
}

/** Index of the first NaN / +-Infinity in `data`, or -1. `x - x` is NaN exactly for those. */
export function firstNonFinite(data: ArrayLike<number>): number {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v - v !== 0) return i;
  }
  return -1;
}

/** Largest |value| of row `row` of `m` (for the error message only). */
function rowMaxAbs(m: Matrix, row: number): number {
  let best = 0;
  const base = row * m.cols;
  for (let j = 0; j < m.cols; j++) {
    const a = Math.abs(m.data[base + j]);
    if (a > best) best = a;
  }
  return best;
}

function describeRow(features: Matrix | undefined, row: number): string {
  if (!features || row >= features.rows) return "";
  return ` (its largest |feature| is ${rowMaxAbs(features, row).toExponential(2)})`;
}

/**
 * Throws one `DataError` when `scores` holds a NaN or infinite value: the method produced a value
 * float32 cannot hold from finite inputs. `features` (optional, the scored rows) lets the message
 * show how large that row's features are.
 *
 * @example
 * ```ts
 * const scores = new Float32Array([-12.5, -30.1, -8.7]);
 * checkFiniteScores(scores, { method: "mahalanobis", set: "sun", file: "sun/features.npy" });
 * ```
 */
export function checkFiniteScores(
  scores: ArrayLike<number>,
  site: NumericSite,
  features?: Matrix,
): void {
  const bad = firstNonFinite(scores);
  if (bad === -1) return;
  throw new DataError(
    `${site.method}: the score of row ${bad} of set "${site.set}" is ${scores[bad]}: ` +
      `${site.file}${describeRow(features, bad)} overflows float32 (largest finite ` +
      `3.4e38) in this method; rescale those features (or drop ${site.method})`,
  );
}

/** Where a logits matrix came from: its feature file and the head's weight file. */
export interface LogitsSite extends NumericSite {
  /** The head's weight file (`<head>/weight.npy`). */
  weights: string;
}

/**
 * Throws one `DataError` when a logits matrix holds a NaN or infinite value. A GEMM that
 * overflowed float32 has lost the logits, so no softmax trick can recover the scores.
 */
export function checkFiniteLogits(
  logits: Matrix,
  site: LogitsSite,
  opts: { features?: Matrix; rowOffset?: number } = {},
): void {
  const bad = firstNonFinite(logits.data);
  if (bad === -1) return;
  const row = Math.floor(bad / logits.cols);
  // A chunk of a streamed set names the file's row, not the chunk's.
  throw new DataError(
    `${site.method}: the logits of row ${row + (opts.rowOffset ?? 0)} of set "${site.set}" ` +
      `are not finite (output ${bad % logits.cols} is ${logits.data[bad]}): ${site.file}` +
      `${describeRow(opts.features, row)} times ${site.weights} overflows float32 (largest ` +
      `finite 3.4e38); rescale those features or retrain the head`,
  );
}

/**
 * Runs a fit (or any step reading `site.file`) and re-throws a `DataError` it raises with the
 * method, set and file in front, unless the message already names the file or starts with the
 * method. Other errors pass unchanged.
 */
export async function withSite<T>(site: NumericSite, fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    // A message that already names the file, or starts with the method, has its context.
    if (
      e instanceof DataError && !e.message.includes(site.file) &&
      !e.message.startsWith(site.method)
    ) {
      throw new DataError(`${site.method} on set "${site.set}" (${site.file}): ${e.message}`);
    }
    throw e;
  }
}
