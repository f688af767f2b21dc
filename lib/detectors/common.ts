/**
 * Pieces shared by the post-hoc detectors in lib/detectors: the head they read, shape checks with
 * user-facing messages, the energy score most of them end in, and streamed passes over training
 * features (means, features together with their logits) that keep memory bounded at
 * 1.28M x 2048.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import { type GroupLayout, groupLayout } from "../groups.ts";
import type { Head } from "../io/head.ts";
import type { Matrix } from "../matrix.ts";
// One argmax for the whole library; re-exported because every detector imports its helpers here.
export { rowArgmax } from "../matrix.ts";
import {
  type ChunkOptions,
  chunkRowsOf,
  forEachRowChunk,
  linearLogits,
  linearLogitsStream,
  type RowSource,
} from "../ort/linear.ts";
import { logsumexpRows } from "../softmax.ts";

/** The trained linear head a detector reads: `logits = x W^T + b`, W is O x D. */
export interface DetectorHead {
  /** Weight matrix W, O x D (one row per output logit). */
  weight: Matrix;
  /** Bias b, length O. */
  bias: Float32Array;
  /** "flat": O = C softmax classes; "group": the paper's group-softmax layout (O = C + K). */
  kind: "flat" | "group";
  /** The group layout of a group head. */
  layout?: GroupLayout;
}

/** The detector view of a head read from disk: a group head gets its layout. */
export function detectorHead(head: Pick<Head, "weight" | "bias" | "info">): DetectorHead {
  const kind = head.info.kind;
  return {
    weight: head.weight,
    bias: head.bias,
    kind,
    layout: kind === "group" ? groupLayout(head.info.groups, head.info.num_classes) : undefined,
  };
}

/** Throws a DataError when `features` does not match the head's input dimension. */
export function checkFeatures(what: string, features: { cols: number }, head: DetectorHead): void {
  if (features.cols !== head.weight.cols) {
    throw new DataError(
      `${what}: features have ${features.cols} columns but the head expects ` +
        `${head.weight.cols}; use features from the backbone the head was trained on.`,
    );
  }
}

/** Throws a DataError when `logits` is not `rows` x `cols`. */
export function checkLogits(what: string, logits: Matrix, rows: number, cols: number): void {
  if (logits.rows !== rows || logits.cols !== cols) {
    throw new DataError(
      `${what}: logits are ${logits.rows} x ${logits.cols} but ${rows} x ${cols} were expected; ` +
        `pass the head's logits of the same feature rows.`,
    );
  }
}

/** The head kind a method reads. */
export type HeadKind = "flat" | "group" | "any";

/**
 * The one head-kind check of every method: a DataError naming the method `key`, the head
 * (`where`, e.g. its directory) and the head it needs.
 */
export function checkHeadKind(
  key: string,
  need: HeadKind,
  kind: "flat" | "group",
  where = "the head",
): void {
  if (need === "any" || need === kind) return;
  throw new DataError(
    `Method "${key}" needs a ${need} head but ${where} is a ${kind} head; score it with a ` +
      (need === "flat"
        ? `flat softmax head (trained with groups "flat")`
        : `group-softmax head (trained with a grouping, e.g. the taxonomy)`) +
      ` or drop "${key}" from the methods.`,
  );
}

/** Energy score `logsumexp_j z_j` per row (T = 1), the score ReAct, ASH, SCALE and DICE end in. */
export function energyScore(logits: Matrix): Float32Array {
  return logsumexpRows(logits, 1);
}

/** Per-column mean of every row of `source`, accumulated in float64 over streamed chunks. */
export async function columnMeans(
  source: RowSource,
  opts: ChunkOptions = {},
): Promise<Float64Array> {
  if (source.rows === 0) {
    throw new DataError(`Cannot average 0 training rows; pass a non-empty training feature set.`);
  }
  const d = source.cols;
  const sums = new Float64Array(d);
  await forEachRowChunk(source, chunkRowsOf(opts), (_s, n, rows) => {
    for (let r = 0; r < n; r++) {
      const base = r * d;
      for (let j = 0; j < d; j++) sums[j] += rows[base + j];
    }
  });
  for (let j = 0; j < d; j++) sums[j] /= source.rows;
  return sums;
}

/**
 * Throws a DataError when `logits` holds a NaN or infinite value: features times the head's
 * weights overflowed float32 (or the features hold NaN), and a detector must not turn that into
 * a finite score (an argmax over NaN, a skipped row). `what` names the detector and the rows;
 * row numbers start at `rowOffset`. One pass over N x O values.
 */
export function checkLogitsFinite(what: string, logits: Matrix, rowOffset = 0): void {
  const z = logits.data;
  for (let i = 0; i < z.length; i++) {
    const v = z[i];
    if (v - v !== 0) {
      const row = rowOffset + Math.floor(i / logits.cols);
      throw new DataError(
        `${what}: the head's logits of row ${row} are not finite (output ${i % logits.cols} is ` +
          `${v}): the features times the head's weights overflow float32; rescale the ` +
          `features or retrain the head.`,
      );
    }
  }
}

/**
 * Calls `fn(start, features, logits)` for consecutive chunks of `source`, with the head's logits
 * of the chunk computed by onnxruntime. Both matrices are only valid during the call. Logits that
 * overflow float32 are a DataError naming the training row (every caller fits on them).
 */
export async function forEachFeatureLogitsChunk(
  source: RowSource,
  head: { weight: Matrix; bias: Float32Array },
  fn: (start: number, features: Matrix, logits: Matrix) => void | Promise<void>,
  opts: ChunkOptions = {},
): Promise<void> {
  const chunk = chunkRowsOf(opts);
  await forEachRowChunk(source, chunk, async (start, n, rows) => {
    const x: Matrix = { data: rows, rows: n, cols: source.cols };
    const logits = await linearLogits(x, head.weight, head.bias, {
      threads: opts.threads,
      chunkRows: n,
    });
    checkLogitsFinite("Detector fit on the training features", logits, start);
    await fn(start, x, logits);
  });
}

/**
 * Logits `t(x) W^T + b` of features transformed row-block by row-block by `transform(src, dst,
 * rows)` (ReAct clipping, ASH pruning, ...): the transformed copy exists one chunk at a time, so an
 * N x D input never gets a second N x D buffer. Returns the N x O logits.
 */
export function transformedLogits(
  features: Matrix,
  head: { weight: Matrix; bias: Float32Array },
  transform: (src: Float32Array, dst: Float32Array, rows: number) => void,
  opts: ChunkOptions = {},
): Promise<Matrix> {
  const d = features.cols;
  const source: RowSource = {
    rows: features.rows,
    cols: d,
    readRows(start, count, out) {
      transform(features.data.subarray(start * d, (start + count) * d), out, count);
    },
  };
  return linearLogitsStream(source, head.weight, head.bias, opts);
}
