/**
 * KL matching (Hendrycks et al., "Scaling out-of-distribution detection for real-world settings"),
 * as the released MOS code runs it (`test_baselines.py`, score `KL_Div`, read via the code search
 * of deeplearning-wisc/large_scale_ood):
 *
 * - templates: for every class c, the mean softmax vector of the ID samples whose label is c
 *   (`np.mean(probs[labels == c], axis=0)`, labels = ground truth of the evaluated ID set);
 * - score: `-min_c KL(p || t_c)` with `KL(p || q) = sum_i p_i log(p_i / q_i)` and `0 log 0 = 0`
 *   (`np.sum(np.where(p != 0, p * np.log(p / q), 0))`): the sample's distribution comes first.
 *
 * Empty classes: in the released code the mean of no rows is NaN, every KL against it is NaN, and
 * `cur_div < min_div` is false for NaN, so such a class is silently never the minimum. Here a
 * class with no samples gets a template row of NaN, and {@linkcode klMatching} skips any template
 * row that contains NaN: the same outcome, made explicit.
 *
 * Zero template entries: where `t_ci = 0` (float32 underflow) and `p_i > 0` the released code
 * gives KL = +inf. Here `t_ci` is floored at {@linkcode KL_TEMPLATE_FLOOR} (the smallest positive
 * float32), so that KL is large but finite; entries with `t_ci > 0` are untouched.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import { argmaxRows, type Matrix } from "../matrix.ts";

/** Floor applied to template probabilities before the log: 2^-149, the smallest float32 > 0. */
export const KL_TEMPLATE_FLOOR = 1.401298464324817e-45;

/** Options of {@linkcode klTemplates}. */
export interface KlTemplateOptions {
  /**
   * Leave out the classes without rows instead of giving them NaN rows. The score is the same
   * (NaN rows are skipped); the matrix holds only the classes seen, e.g. 2,000 x 21,843 instead of
   * 21,843 x 21,843 (1.9 GB) when an ID set covers 2,000 of ImageNet-21k's classes.
   */
  dropEmpty?: boolean;
}

/**
 * Mean probability vector per class: row c of the returned C x K matrix is the mean of the rows of
 * `probs` (N x K) whose label is c, accumulated in float64. A class with no rows gets a row of NaN
 * (skipped by {@linkcode klMatching}). Labels outside [0, numClasses) (such as -1 for OOD or
 * unlabeled rows) are a `DataError`: filter them out first; so is a NaN probability (a row
 * whose logits overflowed), which would otherwise pass for an empty class.
 */
export function klTemplates(
  probs: Matrix,
  labels: Int32Array,
  numClasses: number,
  options: KlTemplateOptions = {},
): Matrix {
  if (!Number.isInteger(numClasses) || numClasses <= 0) {
    throw new RangeError(`numClasses must be a positive integer, got ${numClasses}`);
  }
  if (labels.length !== probs.rows) {
    throw new DataError(
      `KL templates got ${labels.length} labels for ${probs.rows} probability rows; ` +
        `labels and probabilities must come from the same feature set`,
    );
  }
  const K = probs.cols;
  // Rows grouped by class (a stable counting sort), then each class summed in one float64 row:
  // the same additions in the same order as a C x K float64 accumulator, without its memory
  // (3.8 GB at 21,843 classes).
  const counts = new Int32Array(numClasses + 1);
  for (let i = 0; i < probs.rows; i++) {
    const c = labels[i];
    if (!(c >= 0 && c < numClasses)) {
      throw new DataError(
        `KL templates: label ${c} of row ${i} is outside [0, ${numClasses}); ` +
          `templates need ID rows with class labels (drop OOD / unlabeled rows)`,
      );
    }
    counts[c + 1]++;
  }
  for (let c = 0; c < numClasses; c++) counts[c + 1] += counts[c];
  const order = new Int32Array(probs.rows);
  const next = counts.slice(0, numClasses);
  for (let i = 0; i < probs.rows; i++) order[next[labels[i]]++] = i;
  const p = probs.data;
  let present = 0;
  for (let c = 0; c < numClasses; c++) if (counts[c + 1] > counts[c]) present++;
  const rows = options.dropEmpty ? present : numClasses;
  const out = new Float32Array(rows * K);
  const sum = new Float64Array(K);
  let row = 0;
  for (let c = 0; c < numClasses; c++) {
    const [from, to] = [counts[c], counts[c + 1]];
    if (from === to && options.dropEmpty) continue;
    const base = row++ * K;
    if (from === to) {
      out.fill(NaN, base, base + K);
      continue;
    }
    sum.fill(0);
    for (let r = from; r < to; r++) {
      const i = order[r];
      const src = i * K;
      for (let j = 0; j < K; j++) {
        const v = p[src + j];
        // A NaN row (logits that overflowed float32) would make class c's template NaN, and NaN
        // templates are skipped as empty: the class would silently vanish from the score.
        if (v !== v) {
          throw new DataError(
            `KL templates: the probabilities of row ${i} (class ${c}) are NaN: its logits are ` +
              `not finite (NaN, or a float32 overflow of features x weights); rescale the ` +
              `features or retrain the head`,
          );
        }
        sum[j] += v;
      }
    }
    const n = to - from;
    for (let j = 0; j < K; j++) out[base + j] = sum[j] / n;
  }
  return { data: out, rows, cols: K };
}

/**
 * Templates of the "clean" variant: built from a held-out ID split, grouping rows by their
 * predicted class (argmax of `probs`, or `predicted` when given) instead of ground truth, so no
 * label of the evaluated set leaks into the detector. Returns a K x K matrix (K = `probs.cols`);
 * classes never predicted get NaN rows and are skipped.
 */
export function klTemplatesClean(probs: Matrix, predicted?: Int32Array): Matrix {
  const K = probs.cols;
  const pred = predicted ?? argmaxRows(probs);
  return klTemplates(probs, pred, K);
}

/**
 * KL matching score per row of `probs` (N x K softmax probabilities):
 * `-min_c KL(p || templates_c)` over the template rows without NaN (higher = more ID).
 *
 * Computed as `KL_c = sum_{p_i > 0} p_i log p_i - sum_i p_i log max(t_ci, floor)` in float64; the
 * second term is a product with `log(templates)^T`, which is what an accelerated kernel can do as
 * one matrix multiply.
 */
export function klMatching(probs: Matrix, templates: Matrix): Float32Array {
  const K = probs.cols;
  if (templates.cols !== K) {
    throw new DataError(
      `KL templates have ${templates.cols} columns but the probabilities have ${K}; ` +
        `build the templates from the same head's outputs`,
    );
  }
  const C = templates.rows;
  const t = templates.data;
  const logT = new Float64Array(C * K);
  const active = new Int32Array(C);
  let numActive = 0;
  for (let c = 0; c < C; c++) {
    const base = c * K;
    let ok = true;
    for (let j = 0; j < K; j++) {
      const v = t[base + j];
      if (v !== v) {
        ok = false;
        break;
      }
      logT[numActive * K + j] = Math.log(v > KL_TEMPLATE_FLOOR ? v : KL_TEMPLATE_FLOOR);
    }
    if (ok) active[numActive++] = c;
  }
  if (numActive === 0) {
    throw new DataError(
      `All ${C} KL templates are empty (NaN); the template set had no labelled ID rows`,
    );
  }
  const p = probs.data;
  const out = new Float32Array(probs.rows);
  for (let i = 0; i < probs.rows; i++) {
    const base = i * K;
    let negEntropy = 0;
    for (let j = 0; j < K; j++) {
      const v = p[base + j];
      if (v !== 0) negEntropy += v * Math.log(v);
    }
    let minKl = Infinity;
    let nan = negEntropy !== negEntropy;
    for (let a = 0; a < numActive; a++) {
      const tb = a * K;
      let cross = 0;
      for (let j = 0; j < K; j++) cross += p[base + j] * logT[tb + j];
      const kl = negEntropy - cross;
      if (kl < minKl) minKl = kl;
      else if (kl !== kl) nan = true;
    }
    out[i] = nan ? NaN : -minKl;
  }
  return out;
}
