/**
 * Training on cached augmented views: a {@linkcode FeatureSource} over `views.npy` (written by
 * `extract --views V`: rows i*V .. i*V+V-1 are the V training views of example i) that hands the
 * trainer ONE view per example per step. The view is a pure function of (seed, step, example),
 * so the same step draws the same views in a resumed run, whatever the batch composition.
 *
 * The trainer passes the step as `gather`'s third argument; a call without it is an error, since
 * a silent fixed view would quietly train without augmentation.
 *
 * `views.npy` holds V times the rows of `features.npy` (ImageNet with 10 views: 26 GB as float16),
 * so above {@linkcode VIEW_FILE_BYTES} it is not read into memory: the picked view rows are
 * gathered from the file per batch (lib/train/file_source.ts), with the same bytes as from memory.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import { readFeatureMeta } from "../io/feature_set.ts";
import { float16BitsToFloat32, type NpyDtype, openNpy, readNpy, readNpyHeader } from "../io/npy.ts";
import { deriveSeed, mix32 } from "../random.ts";
import { npyFeatureSource } from "./file_source.ts";
import type { FeatureSource } from "./trainer.ts";

/** Random stream of the per-step view picks (sampler: 1, 2; extraction views: 101). */
export const STREAM_VIEW_PICK = 102;

/** Per-step key of {@linkcode viewIndex} (hoisted out of the per-row loop). */
export function stepKey(seed: number, step: number): number {
  return deriveSeed(seed, STREAM_VIEW_PICK, step) % 4294967296;
}

/** The view (0..views-1) example `row` uses at `step` of a run seeded with `seed`. */
export function viewIndex(seed: number, step: number, row: number, views: number): number {
  return pick(stepKey(seed, step), row, views);
}

function pick(key: number, row: number, views: number): number {
  const h = mix32(key ^ mix32((row + 0x9e3779b9) >>> 0) ^ Math.floor(row / 4294967296));
  return Math.floor((h / 4294967296) * views);
}

/** `views.npy` files above this size are gathered from disk instead of read whole (1 GiB). */
export const VIEW_FILE_BYTES = 1 << 30;

/** A training source that gathers one view per example per step. */
export interface ViewSource extends FeatureSource {
  /** Views per example. */
  views: number;
  /** Copies, for each `indices[i]`, its view of step `step` into `out[i * cols ..]`. */
  gather(indices: Int32Array, out: Float32Array, step?: number): void;
  /** Releases the open file of a disk-backed source (a no-op in memory). */
  close(): void;
}

/** The views.npy row of each index at `step`: `indices[i] * views + pick`. */
function viewRows(
  indices: Int32Array,
  rows: Int32Array,
  seed: number,
  step: number | undefined,
  views: number,
): void {
  if (step === undefined) {
    throw new RangeError("viewSource.gather needs the training step (third argument)");
  }
  const key = stepKey(seed, step);
  for (let i = 0; i < indices.length; i++) {
    rows[i] = indices[i] * views + pick(key, indices[i], views);
  }
}

/**
 * A view source over `rows * views` rows of `cols` values (float32, or float16 bits kept as
 * they are so the views take half the memory, converted per gathered row).
 */
export function viewSource(
  data: Float32Array | Uint16Array,
  rows: number,
  cols: number,
  views: number,
  seed: number,
): ViewSource {
  if (data.length !== rows * views * cols) {
    throw new RangeError(`viewSource: ${data.length} values for ${rows} x ${views} x ${cols}`);
  }
  deriveSeed(seed, 0, 0); // validates the seed
  let picked = new Int32Array(0);
  return {
    rows,
    cols,
    views,
    gather(indices: Int32Array, out: Float32Array, step?: number): void {
      if (picked.length < indices.length) picked = new Int32Array(indices.length);
      viewRows(indices, picked, seed, step, views);
      for (let i = 0; i < indices.length; i++) {
        const r = picked[i] * cols;
        const dst = out.subarray(i * cols, (i + 1) * cols);
        if (data instanceof Float32Array) dst.set(data.subarray(r, r + cols));
        else float16BitsToFloat32(data.subarray(r, r + cols), dst);
      }
    },
    close() {},
  };
}

/** Index of the first NaN / infinite value (float32, or float16 bits), or -1. */
function firstNonFinite(data: Float32Array | Uint16Array): number {
  if (data instanceof Uint16Array) {
    for (let i = 0; i < data.length; i++) if ((data[i] & 0x7c00) === 0x7c00) return i;
  } else {
    // x - x is NaN exactly for NaN and +-Infinity.
    for (let i = 0; i < data.length; i++) if (data[i] - data[i] !== 0) return i;
  }
  return -1;
}

/**
 * Opens the training views of feature set `dir` (its meta.json must say `views` > 1 and
 * `views.npy` must be count*views x dim). Returns null when the set has no views (V = 1), so
 * callers fall back to features.npy. Files above `fileBytes` (default {@linkcode VIEW_FILE_BYTES})
 * stay on disk; `close` the source when training is done. A missing views.npy is a `DataError`
 * ending with `o.hint` (default "extract the set's views again"; a task names its flag).
 */
export async function openViewSource(
  dir: string,
  seed: number,
  fileBytes: number = VIEW_FILE_BYTES,
  o: { hint?: string } = {},
): Promise<ViewSource | null> {
  const meta = await readFeatureMeta(dir);
  const views = typeof meta.views === "number" ? meta.views : 1;
  if (views <= 1) return null;
  if (!Number.isInteger(views)) {
    throw new DataError(`${dir}/meta.json: "views" must be an integer, got ${meta.views}`);
  }
  const path = `${dir}/views.npy`;
  let size: number;
  try {
    size = (await Deno.stat(path)).size;
  } catch {
    throw new DataError(
      `${path} is missing but meta.json says views ${views}; ` +
        (o.hint ?? "extract the set's views again"),
    );
  }
  const check = (dtype: NpyDtype, shape: number[]) => {
    if (
      shape.length !== 2 || shape[0] !== meta.count * views || shape[1] !== meta.dim ||
      (dtype !== "<f4" && dtype !== "<f2")
    ) {
      throw new DataError(
        `${path} is ${dtype} (${shape.join(", ")}), expected float (${
          meta.count * views
        }, ${meta.dim}) for ${meta.count} images x ${views} views; rerun the extraction`,
      );
    }
  };
  deriveSeed(seed, 0, 0); // validates the seed before a file is opened
  if (size > fileBytes) {
    const reader = await openNpy(path);
    try {
      check(reader.dtype, reader.shape);
    } catch (e) {
      reader.close();
      throw e;
    }
    // Non-finite values are reported per gathered batch, naming the views.npy row.
    const file = npyFeatureSource(reader);
    let picked = new Int32Array(0);
    return {
      rows: meta.count,
      cols: meta.dim,
      views,
      gather(indices: Int32Array, out: Float32Array, step?: number): void {
        if (picked.length < indices.length) picked = new Int32Array(indices.length);
        const rows = picked.subarray(0, indices.length);
        viewRows(indices, rows, seed, step, views);
        file.gather(rows, out);
      },
      close: () => file.close(),
    };
  }
  // The header (and the file's size against it) is checked before the file is read whole.
  const header = await readNpyHeader(path);
  check(header.dtype, header.shape);
  const arr = await readNpy(path);
  check(arr.dtype, arr.shape);
  // The same check as the disk path, once for the whole array (float16: exponent bits all ones).
  const bad = firstNonFinite(arr.data as Float32Array | Uint16Array);
  if (bad >= 0) {
    throw new DataError(
      `${path} has a non-finite value in row ${Math.floor(bad / meta.dim)}; re-extract the views`,
    );
  }
  return viewSource(
    arr.data as Float32Array | Uint16Array,
    meta.count,
    meta.dim,
    views,
    seed,
  );
}
