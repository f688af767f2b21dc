/**
 * A {@linkcode FeatureSource} over a `.npy` feature file on disk, for training sets too large to
 * hold in memory (ImageNet: 1.28M x 2048, 5.2 GB as float16, 10.5 GB as float32).
 *
 * Each gather sorts the batch's row indices and reads every run of contiguous rows with one
 * `read`, so a batch costs at most one read per distinct run and the process holds only the
 * batch and one run's buffer; the operating system's page cache keeps the file (it is not part
 * of the process's resident memory, unlike a heap copy). Float16 files are converted exactly on
 * the fly, so training from a file gives the same bytes as training from the file read whole.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import { type NpyReader, openNpy } from "../io/npy.ts";
import type { FeatureSource } from "./trainer.ts";

/** A {@linkcode FeatureSource} that holds an open file; `close` it when training is done. */
export interface FileFeatureSource extends FeatureSource {
  /** The .npy file the rows are read from. */
  path: string;
  /** Closes the file; `gather` must not be called after it. */
  close(): void;
}

/** Options of {@linkcode npyFeatureSource} and {@linkcode openFileSource}. */
export interface FileSourceOptions {
  /**
   * Most rows read by one call (default 64): bounds the run buffer (64 x 2048 float32 = 512 KiB)
   * while still turning runs of neighbouring indices into one read.
   */
  maxRunRows?: number;
  /**
   * Throw a `DataError` naming the row when a gathered value is NaN or infinite (default true),
   * like `readFeatureSet` does for a whole set; checked per batch, so a scan of the file up
   * front is not needed.
   */
  checkFinite?: boolean;
}

/**
 * Wraps an open 2-D `.npy` reader (float32 or float16 rows) as a gathering
 * {@linkcode FeatureSource}. `close` closes the reader.
 *
 * @example
 * ```ts
 * import { readSetLabels } from "../io/feature_set.ts";
 * import { openNpy } from "../io/npy.ts";
 * import { hyperRule } from "./hyperrule.ts";
 * import { trainHead } from "./trainer.ts";
 * const source = npyFeatureSource(await openNpy("train/features.npy"));
 * const labels = await readSetLabels("train", source.rows, source.path);
 * const rule = hyperRule(labels.length);
 * try {
 *   // layout null: a flat head (groupLayout(groups, 1000) for a group head)
 *   await trainHead({ source, labels, numClasses: 1000, layout: null, rule, seed: 0 });
 * } finally {
 *   source.close();
 * }
 * ```
 */
export function npyFeatureSource(
  reader: NpyReader,
  opts: FileSourceOptions = {},
): FileFeatureSource {
  const maxRun = opts.maxRunRows ?? 64;
  if (!Number.isInteger(maxRun) || maxRun < 1) {
    throw new RangeError(`maxRunRows must be a positive integer, got ${maxRun}`);
  }
  const checkFinite = opts.checkFinite ?? true;
  if (reader.shape.length !== 2) {
    throw new DataError(
      `${reader.path} must be N x D features, got shape (${reader.shape.join(", ")})`,
    );
  }
  if (reader.dtype !== "<f4" && reader.dtype !== "<f2") {
    throw new DataError(`${reader.path} must be float32 or float16, got ${reader.dtype}`);
  }
  const { rows, cols } = reader;
  let run = new Float32Array(0);
  let keys = new Float64Array(0);

  const check = (out: Float32Array, from: number, to: number) => {
    for (let i = from; i < to; i++) {
      // x - x is NaN exactly for NaN and +-Inf.
      if (out[i] - out[i] !== 0) return i;
    }
    return -1;
  };

  return {
    path: reader.path,
    rows,
    cols,
    gather(indices: Int32Array, out: Float32Array): void {
      const n = indices.length;
      if (out.length < n * cols) {
        throw new RangeError(`gather: out holds ${out.length} < ${n * cols} values`);
      }
      if (keys.length < n) keys = new Float64Array(n);
      // One sortable key per entry: row * n + position (exact below 2^53).
      for (let i = 0; i < n; i++) {
        const r = indices[i];
        if (!(r >= 0 && r < rows)) {
          throw new RangeError(`gather: row ${r} outside [0, ${rows}) of ${reader.path}`);
        }
        keys[i] = r * n + i;
      }
      const sorted = keys.subarray(0, n).sort();
      let i = 0;
      while (i < n) {
        const first = Math.floor(sorted[i] / n);
        // Extend the run over repeats and the following rows, up to maxRun distinct rows.
        let j = i + 1;
        let last = first;
        while (j < n) {
          const r = Math.floor(sorted[j] / n);
          if (r !== last && (r !== last + 1 || r - first + 1 > maxRun)) break;
          last = r;
          j++;
        }
        const count = last - first + 1;
        if (j - i === 1) {
          // A lone row (the usual case for random batches) goes straight into its slot.
          const pos = sorted[i] - first * n;
          reader.readRowsSync(first, 1, out.subarray(pos * cols, (pos + 1) * cols));
        } else {
          if (run.length < count * cols) run = new Float32Array(maxRun * cols);
          reader.readRowsSync(first, count, run);
          for (let k = i; k < j; k++) {
            const r = Math.floor(sorted[k] / n);
            const pos = sorted[k] - r * n;
            const src = (r - first) * cols;
            out.set(run.subarray(src, src + cols), pos * cols);
          }
        }
        i = j;
      }
      if (checkFinite) {
        const bad = check(out, 0, n * cols);
        if (bad >= 0) {
          const row = indices[Math.floor(bad / cols)];
          throw new DataError(
            `${reader.path} has a non-finite value (${out[bad]}) in row ${row}; re-extract the ` +
              "features",
          );
        }
      }
    },
    close: () => reader.close(),
  };
}

/**
 * Opens a `.npy` feature file as a {@linkcode FileFeatureSource} (see the module doc).
 *
 * @example
 * ```ts
 * const source = await openFileSource("results/features/imagenet_train/features.npy");
 * ```
 */
export async function openFileSource(
  path: string,
  opts: FileSourceOptions = {},
): Promise<FileFeatureSource> {
  const reader = await openNpy(path);
  try {
    return npyFeatureSource(reader, opts);
  } catch (err) {
    reader.close();
    throw err;
  }
}
