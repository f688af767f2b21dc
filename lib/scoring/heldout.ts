/**
 * The held-out protocol (OpenOOD v1.5 style) for detectors with hyperparameters:
 *
 * 1. the ID evaluation set is split deterministically, by a seeded permutation, into ID-val
 *    (5,000 rows for ImageNet's 50,000, as OpenOOD does) and ID-test (the rest);
 * 2. an OOD-val set, disjoint from the OOD test sets, is given by the user;
 * 3. each detector's grid is searched on (ID-val, OOD-val) by AUROC in OpenOOD's order (see
 *    {@linkcode expandGrid}), the first best wins (the `if auroc > max_auroc` loop of
 *    `Evaluator.hyperparam_search` in `openood/evaluation_api/evaluator.py`), so ties pick the
 *    setting OpenOOD v1.5 picks (the older `openood/evaluators/ood_evaluator.py` search, same
 *    order, keeps the LAST best instead);
 * 4. the chosen values are refitted on val and the test sets are scored ONCE.
 *
 * The search cannot read test data by construction: {@linkcode searchOnVal} takes only a
 * {@linkcode ValData} and hands the detector's `fit` / `score` nothing else, and
 * {@linkcode heldoutEvaluate} touches its `test` argument only after the search has returned.
 *
 * These runners ({@linkcode searchOnVal}, {@linkcode heldoutEvaluate}, and
 * {@linkcode fixedEvaluate} for the paper protocol's defaults) are the one path a detector's
 * scores take to a metric, so the float32 overflow guard (./numerics.ts) sits here: every score
 * vector is checked, and a NaN / infinite score stops the run with one error naming the method,
 * the dataset and its file (from {@linkcode DetectorSites}); errors of a fit get the same names.
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import type { Matrix } from "../matrix.ts";
import type { RowSource } from "../row_source.ts";
import { auroc } from "../metrics/auroc.ts";
import type { Scores } from "../metrics/auroc.ts";
import { createRng, shuffle } from "../random.ts";
import { checkFiniteScores, type NumericSite, withSite } from "../numerics.ts";

/** ID-val size OpenOOD v1.5 uses for ImageNet-1k (of its 50,000 val images). */
export const OPENOOD_ID_VAL_COUNT = 5000;

/** Row indices of the two halves of a split, each ascending. */
export interface IdSplit {
  val: Int32Array;
  test: Int32Array;
}

/**
 * The default ID-val size for an ID set of `n` rows: 5,000 (OpenOOD), or a tenth of the set when
 * it has fewer than 50,000 rows (so small sets keep most rows for testing), at least 1.
 */
export function defaultIdValCount(n: number): number {
  return Math.max(1, Math.min(OPENOOD_ID_VAL_COUNT, Math.floor(n / 10)));
}

/**
 * Splits rows 0..n-1 into `valCount` ID-val rows and n - valCount ID-test rows: the first
 * `valCount` entries of a seeded Fisher-Yates permutation are val; both lists are sorted, so
 * selecting them keeps the set's order. Same (n, valCount, seed), same split, on every machine.
 * A `valCount` outside [1, n) is a `UsageError` naming it as `o.label` (default "ID-val count";
 * a task passes its flag).
 */
export function splitIdRows(
  n: number,
  valCount: number,
  seed: number,
  o: { label?: string } = {},
): IdSplit {
  if (!Number.isInteger(n) || n < 2) {
    throw new UsageError(`The held-out protocol needs an ID set of at least 2 rows, got ${n}`);
  }
  if (!Number.isInteger(valCount) || valCount < 1 || valCount >= n) {
    throw new UsageError(
      `${o.label ?? "ID-val count"} must be an integer in [1, ${n - 1}] for an ID set of ${n} ` +
        `rows, got ${valCount}`,
    );
  }
  const perm = shuffle(createRng(seed), Int32Array.from({ length: n }, (_, i) => i));
  return { val: perm.slice(0, valCount).sort(), test: perm.slice(valCount).sort() };
}

/** The rows `rows` of `m`, copied, in the given order. */
export function selectRows(m: Matrix, rows: Int32Array): Matrix {
  const c = m.cols;
  const out = new Float32Array(rows.length * c);
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k];
    if (!(r >= 0 && r < m.rows)) throw new RangeError(`row ${r} outside [0, ${m.rows})`);
    out.set(m.data.subarray(r * c, r * c + c), k * c);
  }
  return { data: out, rows: rows.length, cols: c };
}

/** The entries `rows` of a per-row array (scores, labels), copied. */
export function selectEntries<T extends Float32Array | Int32Array>(a: T, rows: Int32Array): T {
  const out = new (a.constructor as { new (n: number): T })(rows.length);
  for (let k = 0; k < rows.length; k++) out[k] = a[rows[k]];
  return out;
}

/** A hyperparameter value. */
export type ParamValue = number | string | boolean;

/** One setting of a detector's hyperparameters. */
export type Params = Record<string, ParamValue>;

/**
 * The Cartesian product of a grid in OpenOOD's order: the FIRST key varies FASTEST, e.g.
 * `{a: [1, 2], b: [3, 4]}` -> `[{a: 1, b: 3}, {a: 2, b: 3}, {a: 1, b: 4}, {a: 2, b: 4}]`.
 * OpenOOD's `recursive_generator(list, n)` (evaluation_api/evaluator.py) loops over the LAST
 * key's values outside the combinations of the keys before it, so the first key is innermost.
 * The order decides ties in {@linkcode searchOnVal} (the first best wins), hence it matters.
 * An empty grid gives one empty setting.
 */
export function expandGrid(grid: Record<string, readonly ParamValue[]>): Params[] {
  let out: Params[] = [{}];
  for (const [key, values] of Object.entries(grid)) {
    if (values.length === 0) throw new RangeError(`grid of "${key}" is empty`);
    const next: Params[] = [];
    // Each later key's value in the outer loop: the keys before it keep cycling fastest.
    for (const v of values) for (const p of out) next.push({ ...p, [key]: v });
    out = next;
  }
  return out;
}

/** The validation data of the protocol: ID-val and OOD-val, and nothing else. */
export interface ValData<D> {
  readonly id: D;
  readonly ood: D;
}

/** The test data: ID-test and the named OOD test sets. */
export interface TestData<D> {
  readonly id: D;
  readonly ood: readonly { name: string; data: D }[];
}

/**
 * A detector as the protocols see it: candidate settings (the first is the default), a fit that
 * may read the validation data (ReAct's percentile of ID-val activations, the multi-layer
 * Mahalanobis regression), and a score of one set's data. `D` is whatever one set carries
 * (features, logits, layer features).
 */
export interface TunableDetector<P, M, D> {
  candidates: readonly P[];
  fit(params: P, val: ValData<D>): M | Promise<M>;
  score(model: M, data: D): Float32Array | Promise<Float32Array>;
}

/** A dataset name and the input file its data came from. */
export interface SetSite {
  set: string;
  file: string;
}

/** What the overflow guard names: the method, and the set and file of each data value. */
export interface DetectorSites<D> {
  method: string;
  /** Names one set's data (the value handed to `score`). */
  describe(data: D): SetSite;
  /** What the fit reads (default: `describe(val.id)`). */
  fit?: SetSite;
}

/** Names used when a caller gives no {@linkcode DetectorSites}: the protocol's roles. */
function defaultSites<D>(val: ValData<D>, test?: TestData<D>): DetectorSites<D> {
  return {
    method: "detector",
    describe(d: D): SetSite {
      const name = d === val.id
        ? "ID-val"
        : d === val.ood
        ? "OOD-val"
        : d === test?.id
        ? "ID-test"
        : test?.ood.find((s) => s.data === d)?.name ?? "a scored set";
      return { set: name, file: "its features file" };
    },
  };
}

/** `detector.score` behind the overflow guard; its DataErrors name the method and the set. */
async function guardedScore<M, D>(
  detector: TunableDetector<unknown, M, D>,
  model: M,
  data: D,
  sites: DetectorSites<D>,
): Promise<Float32Array> {
  const site: NumericSite = { method: sites.method, ...sites.describe(data) };
  const scores = await withSite(site, () => detector.score(model, data));
  checkFiniteScores(scores, site);
  return scores;
}

/** `detector.fit`, its DataErrors naming the method and the fitted set. */
function guardedFit<P, M, D>(
  detector: TunableDetector<P, M, D>,
  params: P,
  val: ValData<D>,
  sites: DetectorSites<D>,
): Promise<M> {
  const where = sites.fit ?? sites.describe(val.id);
  return withSite({ method: sites.method, ...where }, () => detector.fit(params, val));
}

/** One evaluated candidate. */
export interface Trial<P> {
  params: P;
  /** AUROC on (ID-val, OOD-val), a fraction. */
  auroc: number;
}

/** Outcome of a search. */
export interface SearchResult<P> {
  best: P;
  bestAuroc: number;
  trials: Trial<P>[];
}

/**
 * Fits and scores every candidate on the validation data only and picks the highest val AUROC
 * (the first on ties). With one candidate it is chosen without scoring. Non-finite scores are a
 * `DataError` naming `sites` (see the module doc).
 */
export async function searchOnVal<P, M, D>(
  detector: TunableDetector<P, M, D>,
  val: ValData<D>,
  sites: DetectorSites<D> = defaultSites(val),
): Promise<SearchResult<P>> {
  const { candidates } = detector;
  if (candidates.length === 0) throw new RangeError("a detector needs at least one candidate");
  if (candidates.length === 1) {
    return { best: candidates[0], bestAuroc: NaN, trials: [] };
  }
  const trials: Trial<P>[] = [];
  let best = 0;
  for (let k = 0; k < candidates.length; k++) {
    const model = await guardedFit(detector, candidates[k], val, sites);
    const id: Scores = await guardedScore(detector, model, val.id, sites);
    const ood: Scores = await guardedScore(detector, model, val.ood, sites);
    trials.push({ params: candidates[k], auroc: auroc(id, ood) });
    if (trials[k].auroc > trials[best].auroc) best = k;
  }
  return { best: candidates[best], bestAuroc: trials[best].auroc, trials };
}

/** Output of {@linkcode heldoutEvaluate}: the search and the test scores. */
export interface HeldoutResult<P, M> {
  search: SearchResult<P>;
  model: M;
  /** Scores of ID-test and of each OOD test set (by name), computed once. */
  scores: { id: Float32Array; ood: Map<string, Float32Array> };
}

/**
 * The held-out protocol for one detector: {@linkcode searchOnVal} on `val`, refit of the chosen
 * setting on `val`, then one scoring pass over `test` (read only after the search). Non-finite
 * scores are a `DataError` naming `sites`.
 */
export async function heldoutEvaluate<P, M, D>(
  detector: TunableDetector<P, M, D>,
  val: ValData<D>,
  test: TestData<D>,
  sites: DetectorSites<D> = defaultSites(val, test),
): Promise<HeldoutResult<P, M>> {
  const search = await searchOnVal(detector, val, sites);
  return { search, ...await scoreTest(detector, search.best, val, test, sites) };
}

/** Fit of `params` on `val`, then one guarded scoring pass over `test`. */
async function scoreTest<P, M, D>(
  detector: TunableDetector<P, M, D>,
  params: P,
  val: ValData<D>,
  test: TestData<D>,
  sites: DetectorSites<D>,
): Promise<{ model: M; scores: { id: Float32Array; ood: Map<string, Float32Array> } }> {
  const model = await guardedFit(detector, params, val, sites);
  const id = await guardedScore(detector, model, test.id, sites);
  const ood = new Map<string, Float32Array>();
  for (const s of test.ood) ood.set(s.name, await guardedScore(detector, model, s.data, sites));
  return { model, scores: { id, ood } };
}

/**
 * A fixed setting, no search (the paper protocol's defaults): `params` fitted on `val`, the test
 * sets scored once, every score vector through the overflow guard like
 * {@linkcode heldoutEvaluate}.
 */
export function fixedEvaluate<P, M, D>(
  detector: TunableDetector<P, M, D>,
  params: P,
  val: ValData<D>,
  test: TestData<D>,
  sites: DetectorSites<D> = defaultSites(val, test),
): Promise<{ model: M; scores: { id: Float32Array; ood: Map<string, Float32Array> } }> {
  return scoreTest(detector, params, val, test, sites);
}

/**
 * Reads the rows `rows` (ascending) of a streamed source into memory, one contiguous run per read.
 */
export async function gatherRows(source: RowSource, rows: Int32Array): Promise<Matrix> {
  const c = source.cols;
  const out = new Float32Array(rows.length * c);
  let k = 0;
  while (k < rows.length) {
    let end = k + 1;
    while (end < rows.length && rows[end] === rows[end - 1] + 1) end++;
    if (rows[k] < 0 || rows[end - 1] >= source.rows || (k > 0 && rows[k] <= rows[k - 1])) {
      throw new RangeError(`gatherRows needs ascending rows in [0, ${source.rows})`);
    }
    await source.readRows(rows[k], end - k, out.subarray(k * c, end * c));
    k = end;
  }
  return { data: out, rows: rows.length, cols: c };
}

/**
 * A view of `source` without the rows `excluded` (ascending, distinct): row i of the view is the
 * i-th row of `source` that is not excluded. Reads go to `source` in contiguous runs, so a
 * streamed file is still read sequentially.
 */
export function excludeRows(source: RowSource, excluded: Int32Array): RowSource {
  for (let k = 0; k < excluded.length; k++) {
    if (
      excluded[k] < 0 || excluded[k] >= source.rows || (k > 0 && excluded[k] <= excluded[k - 1])
    ) {
      throw new RangeError(`excludeRows needs ascending distinct rows in [0, ${source.rows})`);
    }
  }
  const rows = source.rows - excluded.length;
  const cols = source.cols;
  /** Number of excluded rows below physical row p. */
  const below = (p: number): number => {
    let lo = 0;
    let hi = excluded.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (excluded[mid] < p) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return {
    rows,
    cols,
    async readRows(start, count, out) {
      if (start < 0 || count < 0 || start + count > rows) {
        throw new RangeError(`readRows: rows [${start}, ${start + count}) past ${rows}`);
      }
      // The physical row of logical `start`: the smallest kept p with p - below(p) = start.
      let lo = start;
      let hi = start + excluded.length;
      while (lo < hi) {
        const mid = Math.floor((lo + hi) / 2);
        if (mid - below(mid + 1) < start) lo = mid + 1;
        else hi = mid;
      }
      let p = lo;
      let e = below(p);
      let done = 0;
      while (done < count) {
        while (e < excluded.length && excluded[e] === p) {
          p++;
          e++;
        }
        const stop = e < excluded.length ? excluded[e] : Infinity;
        const n = Math.min(stop - p, count - done);
        await source.readRows(p, n, out.subarray(done * cols, (done + n) * cols));
        done += n;
        p += n;
      }
    },
  };
}
