/**
 * AUROC with ID as the positive class, exact, ties counted half (what `sklearn.metrics.
 * roc_auc_score(labels, scores)` returns in the released MOS code's `get_measures`). Also home of
 * {@linkcode scoreCurve}, the one sorted sweep every metric in lib/metrics is computed from.
 *
 * @module
 */
import { DataError } from "../errors.ts";

/** Score arrays the metrics accept: one value per sample, higher = more in-distribution. */
export type Scores = Float32Array | Float64Array;

/**
 * The distinct score values in DESCENDING order with how many ID and OOD samples sit exactly at
 * each. Group g's cumulative counts are the confusion counts at threshold `score >= values[g]`.
 */
export interface ScoreCurve {
  /** Number of distinct score values (groups). */
  length: number;
  /** Distinct score values, descending. */
  values: Float64Array;
  /** ID samples whose score equals `values[g]`. */
  idCount: Float64Array;
  /** OOD samples whose score equals `values[g]`. */
  oodCount: Float64Array;
  /** Total ID samples (the sum of `idCount`). */
  numId: number;
  /** Total OOD samples (the sum of `oodCount`). */
  numOod: number;
}

function checkScores(scores: Scores, which: string, label?: string): void {
  const of = label ? `${label}: ` : "";
  if (scores.length === 0) {
    throw new DataError(
      `${of}${which} scores are empty; both the ID and the OOD set need at least one sample`,
    );
  }
  for (let i = 0; i < scores.length; i++) {
    const v = scores[i];
    // v - v is NaN for NaN and for +-Infinity; sklearn rejects both (assert_all_finite).
    if (v - v !== 0) {
      throw new DataError(
        `${of}${which} score ${i} is ${v}; scores must be finite (a NaN or infinite score has ` +
          `no rank: check the features / logits for NaN, Inf or values that overflow float32)`,
      );
    }
  }
}

/**
 * Sorts the two score sets once each (native typed-array sort, no comparator) and merges them into
 * the tie-grouped descending curve. Empty or non-finite inputs are a `DataError`, naming `label`
 * (what the scores are, e.g. the method and the sets) when given. Equal values are
 * one group (+0 and -0 too), so ties are always handled as one threshold, as sklearn and the
 * Outlier-Exposure code do with `np.diff(sorted_scores) != 0`.
 */
export function scoreCurve(id: Scores, ood: Scores, label?: string): ScoreCurve {
  checkScores(id, "ID", label);
  checkScores(ood, "OOD", label);
  const a = id.slice().sort();
  const b = ood.slice().sort();
  const total = a.length + b.length;
  const values = new Float64Array(total);
  const idCount = new Float64Array(total);
  const oodCount = new Float64Array(total);
  let i = a.length - 1;
  let j = b.length - 1;
  let g = 0;
  while (i >= 0 || j >= 0) {
    // Largest remaining value among the two sorted tails.
    const v = i < 0 ? b[j] : j < 0 ? a[i] : (a[i] >= b[j] ? a[i] : b[j]);
    let ni = 0;
    let no = 0;
    while (i >= 0 && a[i] === v) {
      ni++;
      i--;
    }
    while (j >= 0 && b[j] === v) {
      no++;
      j--;
    }
    values[g] = v;
    idCount[g] = ni;
    oodCount[g] = no;
    g++;
  }
  return {
    length: g,
    values: values.subarray(0, g),
    idCount: idCount.subarray(0, g),
    oodCount: oodCount.subarray(0, g),
    numId: a.length,
    numOod: b.length,
  };
}

/** AUROC from a prepared {@linkcode scoreCurve}. */
export function aurocFromCurve(curve: ScoreCurve): number {
  // Walk from the lowest score up: each ID sample beats every OOD sample below its group and
  // ties with the OOD samples inside it (half credit).
  let oodBelow = 0;
  let wins = 0;
  for (let g = curve.length - 1; g >= 0; g--) {
    const no = curve.oodCount[g];
    wins += curve.idCount[g] * (oodBelow + 0.5 * no);
    oodBelow += no;
  }
  return wins / (curve.numId * curve.numOod);
}

/**
 * Area under the ROC curve with ID positive: the probability that a random ID sample scores
 * higher than a random OOD sample, ties counting 1/2. O(n log n).
 *
 * @example
 * ```ts
 * auroc(new Float32Array([2, 3]), new Float32Array([1, 2])); // (1 + 0.5 + 1 + 1) / 4 = 0.875
 * ```
 */
export function auroc(id: Scores, ood: Scores): number {
  return aurocFromCurve(scoreCurve(id, ood));
}
