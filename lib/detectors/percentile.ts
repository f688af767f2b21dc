/**
 * Order statistics for the detectors: NumPy's default (`method="linear"`) percentile, used by ReAct
 * (clip threshold over ID activations) and DICE (sparsification threshold over weight
 * contributions), and the per-row top-k selection of ASH and SCALE. Selection is O(n)
 * (quickselect) so a 50k x 2048 activation set needs no full sort.
 *
 * @module
 */
import { DataError } from "../errors.ts";

/**
 * Puts the k-th smallest value (0-based) of `a` at `a[k]`, smaller-or-equal values before it and
 * larger-or-equal after it (in place, Hoare partitioning with median-of-three pivots).
 */
export function selectKth(a: Float32Array | Float64Array, k: number): number {
  if (!Number.isInteger(k) || k < 0 || k >= a.length) {
    throw new RangeError(`selectKth: k = ${k} outside [0, ${a.length})`);
  }
  let lo = 0;
  let hi = a.length - 1;
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    // Median of three into a[mid].
    if (a[mid] < a[lo]) swap(a, mid, lo);
    if (a[hi] < a[lo]) swap(a, hi, lo);
    if (a[hi] < a[mid]) swap(a, hi, mid);
    const pivot = a[mid];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        swap(a, i, j);
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return a[k];
}

function swap(a: Float32Array | Float64Array, i: number, j: number): void {
  const t = a[i];
  a[i] = a[j];
  a[j] = t;
}

/**
 * `numpy.percentile(values, p)` with the default linear interpolation: with the sorted values v and
 * h = (n - 1) p / 100, the result is `v[floor h] + (h - floor h) (v[floor h + 1] - v[floor h])`.
 * Copies `values` (the input is left untouched). NaN values are a DataError (NumPy would return
 * NaN, which would silently disable the detector).
 */
export function percentileLinear(values: ArrayLike<number>, p: number, what = "values"): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`Percentile must be in [0, 100], got ${p}`);
  const n = values.length;
  if (n === 0) throw new DataError(`Cannot take a percentile of 0 ${what}; pass non-empty data.`);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v !== v) {
      throw new DataError(`${what} contain NaN (index ${i}); check the features for NaN values.`);
    }
    a[i] = v;
  }
  const h = ((n - 1) * p) / 100;
  const lo = Math.floor(h);
  const vLo = selectKth(a, lo);
  if (lo + 1 >= n || h === lo) return vLo;
  // After selection everything above index lo is >= a[lo]: the next order statistic is their min.
  let vHi = Infinity;
  for (let i = lo + 1; i < n; i++) if (a[i] < vHi) vHi = a[i];
  return vLo + (h - lo) * (vHi - vLo);
}

/** `numpy.round` (round half to even) of a non-negative float64. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Number of activations ASH and SCALE keep for a percentile p over n values, exactly as their
 * released code: `k = n - round(n * p / 100)` (NumPy rounding). A k of 0 is a RangeError (the
 * rescaled variants would divide by zero).
 */
export function keepCount(n: number, p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`Percentile must be in [0, 100], got ${p}`);
  const k = n - roundHalfEven((n * p) / 100);
  if (k < 1) {
    throw new RangeError(
      `Percentile ${p} keeps no activation of ${n}; use a percentile below ${
        (100 * (n - 0.5)) / n
      }`,
    );
  }
  return k;
}

/**
 * Marks the `k` largest values of `row` in `keep` (1 = kept): all values above the k-th largest,
 * then values equal to it in index order until k are kept (deterministic where `torch.topk` leaves
 * ties unspecified). `scratch` holds at least `row.length` values.
 */
export function topKMask(
  row: ArrayLike<number>,
  k: number,
  keep: Uint8Array,
  scratch: Float64Array,
): void {
  const n = row.length;
  for (let j = 0; j < n; j++) scratch[j] = row[j];
  const s = n === scratch.length ? scratch : scratch.subarray(0, n);
  const t = selectKth(s, n - k);
  let kept = 0;
  for (let j = 0; j < n; j++) {
    const on = row[j] > t ? 1 : 0;
    keep[j] = on;
    kept += on;
  }
  for (let j = 0; j < n && kept < k; j++) {
    if (row[j] === t) {
      keep[j] = 1;
      kept++;
    }
  }
}
