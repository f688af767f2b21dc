/**
 * The paper's group-softmax layout. Group k owns the output slice `[starts[k], starts[k] + n_k + 1)`;
 * slice index 0 is "others", and class `groups[k][j]` is slice index `j + 1`. A head with C classes
 * in K groups has O = C + K outputs.
 *
 * @module
 */
import { DataError } from "./errors.ts";
import { quoteValue } from "./quote.ts";
import type { Matrix } from "./matrix.ts";

/** Precomputed index tables for a grouping of C classes. */
export interface GroupLayout {
  /** C, the number of classes. */
  numClasses: number;
  /** K, the number of groups. */
  numGroups: number;
  /** O = C + K. */
  numOutputs: number;
  /** Class ids of each group; class `groups[k][j]` sits at slice index `j + 1`. */
  groups: number[][];
  /** Output index where group k's slice starts (its "others" logit). */
  starts: Int32Array;
  /** Slice length n_k + 1 of each group. */
  sizes: Int32Array;
  /** Group of each class. */
  classGroup: Int32Array;
  /** Slice index (1-based, 0 is "others") of each class inside its group. */
  classSlot: Int32Array;
  /** Class of each output index, -1 for "others" outputs. */
  outputClass: Int32Array;
}

/**
 * Checks that `groups` partitions 0..C-1 (every class exactly once, no empty group) and throws a
 * `DataError` naming the first problem. `source` names where the groups came from (a file path).
 * Nothing is allocated from `numClasses` (a head.json may claim 500,000,000 classes): the tables
 * are sized by the class ids actually listed.
 */
export function validateGroups(groups: unknown, numClasses: number, source = "groups"): number[][] {
  if (!Number.isSafeInteger(numClasses) || numClasses < 1) {
    throw new DataError(
      `${source}: the number of classes must be a positive integer, got ${quoteValue(numClasses)}`,
    );
  }
  if (!Array.isArray(groups) || groups.length === 0) {
    throw new DataError(
      `${source}: expected a non-empty JSON array of groups (arrays of class ids), got ` +
        quoteValue(groups),
    );
  }
  // Class id -> its group; a Map, so memory follows the ids listed, not the declared count.
  const seen = new Map<number, number>();
  groups.forEach((g, k) => {
    if (!Array.isArray(g) || g.length === 0) {
      throw new DataError(
        `${source}: group ${k} must be a non-empty array of class ids, got ${quoteValue(g)}`,
      );
    }
    for (const c of g) {
      if (!Number.isInteger(c) || c < 0 || c >= numClasses) {
        throw new DataError(
          `${source}: group ${k} has class id ${quoteValue(c)} outside [0, ${numClasses}); ` +
            `class ids must be integers of the feature set's label space`,
        );
      }
      const before = seen.get(c);
      if (before !== undefined) {
        throw new DataError(
          `${source}: class ${c} appears in group ${before} and again in group ${k}; ` +
            `every class must be in exactly one group`,
        );
      }
      seen.set(c, k);
    }
  });
  if (seen.size !== numClasses) {
    // Ids are distinct and in range, so fewer than numClasses of them leave one of
    // 0..seen.size unlisted.
    let missing = 0;
    while (seen.has(missing)) missing++;
    throw new DataError(
      `${source}: class ${missing} is in no group (${numClasses - seen.size} classes missing); ` +
        `every class 0..${numClasses - 1} must be in exactly one group`,
    );
  }
  return groups as number[][];
}

/** Builds the layout tables for `groups` over `numClasses` classes (validated first). */
export function groupLayout(groups: number[][], numClasses: number): GroupLayout {
  validateGroups(groups, numClasses);
  const K = groups.length;
  const starts = new Int32Array(K);
  const sizes = new Int32Array(K);
  const classGroup = new Int32Array(numClasses);
  const classSlot = new Int32Array(numClasses);
  const numOutputs = numClasses + K;
  const outputClass = new Int32Array(numOutputs).fill(-1);
  let pos = 0;
  for (let k = 0; k < K; k++) {
    starts[k] = pos;
    sizes[k] = groups[k].length + 1;
    groups[k].forEach((c, j) => {
      classGroup[c] = k;
      classSlot[c] = j + 1;
      outputClass[pos + j + 1] = c;
    });
    pos += sizes[k];
  }
  return {
    numClasses,
    numGroups: K,
    numOutputs,
    groups,
    starts,
    sizes,
    classGroup,
    classSlot,
    outputClass,
  };
}

/**
 * Per-group target slot of each label: `out[i * K + k]` is the slice index of sample i's class in
 * group k if the class belongs to k, else 0 ("others").
 */
export function groupTargets(layout: GroupLayout, labels: Int32Array): Int32Array {
  const K = layout.numGroups;
  const out = new Int32Array(labels.length * K);
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i];
    if (!(c >= 0 && c < layout.numClasses)) {
      throw new DataError(
        `Label ${c} at row ${i} is outside [0, ${layout.numClasses}); group targets need class ` +
          `labels of the training set (no -1 / OOD rows)`,
      );
    }
    out[i * K + layout.classGroup[c]] = layout.classSlot[c];
  }
  return out;
}

/** Result of {@linkcode groupPredict}. */
export interface GroupPrediction {
  /** Predicted class per sample. */
  classes: Int32Array;
  /** Winning group per sample. */
  group: Int32Array;
  /** The winning in-group softmax probability (others excluded from the max). */
  confidence: Float32Array;
}

/**
 * The paper's group prediction: per group, softmax over the slice, drop "others", take max and
 * argmax; the group with the highest max wins and its argmax is the class.
 */
export function groupPredict(layout: GroupLayout, logits: Matrix): GroupPrediction {
  checkCols(layout, logits);
  const N = logits.rows;
  const O = logits.cols;
  const classes = new Int32Array(N);
  const group = new Int32Array(N);
  const confidence = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    const row = i * O;
    let best = -1;
    let bestClass = -1;
    let bestGroup = -1;
    for (let k = 0; k < layout.numGroups; k++) {
      const s = row + layout.starts[k];
      const n = layout.sizes[k];
      let m = -Infinity;
      for (let j = 0; j < n; j++) if (logits.data[s + j] > m) m = logits.data[s + j];
      let sum = 0;
      let top = -Infinity;
      let arg = 1;
      for (let j = 0; j < n; j++) {
        const v = logits.data[s + j];
        sum += Math.exp(v - m);
        if (j > 0 && v > top) {
          top = v;
          arg = j;
        }
      }
      const p = Math.exp(top - m) / sum;
      if (p > best) {
        best = p;
        bestGroup = k;
        bestClass = layout.outputClass[layout.starts[k] + arg];
      }
    }
    classes[i] = bestClass;
    group[i] = bestGroup;
    confidence[i] = best;
  }
  return { classes, group, confidence };
}

/** Per-group softmax probability of "others": an N x K matrix. */
export function othersProbabilities(layout: GroupLayout, logits: Matrix): Matrix {
  checkCols(layout, logits);
  const N = logits.rows;
  const O = logits.cols;
  const K = layout.numGroups;
  const out = new Float32Array(N * K);
  for (let i = 0; i < N; i++) {
    const row = i * O;
    for (let k = 0; k < K; k++) {
      const s = row + layout.starts[k];
      const n = layout.sizes[k];
      let m = -Infinity;
      for (let j = 0; j < n; j++) if (logits.data[s + j] > m) m = logits.data[s + j];
      let sum = 0;
      for (let j = 0; j < n; j++) sum += Math.exp(logits.data[s + j] - m);
      out[i * K + k] = Math.exp(logits.data[s] - m) / sum;
    }
  }
  return { data: out, rows: N, cols: K };
}

function checkCols(layout: GroupLayout, logits: Matrix): void {
  if (logits.cols !== layout.numOutputs) {
    throw new DataError(
      `Group logits have ${logits.cols} columns but the grouping needs ${layout.numOutputs} ` +
        `(${layout.numClasses} classes + ${layout.numGroups} "others"); use the head's own groups`,
    );
  }
}
