/**
 * Classifier heads on disk: `weight.npy` (O x D float32), `bias.npy` (O float32) and `head.json`
 * (`kind`, `num_classes`, `groups`, optional `train` and `features`), written last. A flat head has
 * O = C; a group head (the paper's MOS layout, see lib/groups.ts) has O = C + K.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import { validateGroups } from "../groups.ts";
import type { Matrix } from "../matrix.ts";
import { writeJsonAtomic } from "./atomic.ts";
import { readJsonFile } from "./json_file.ts";
import { type NpyArray, readNpy, readNpyHeader, toFloat32, writeNpy } from "./npy.ts";
import { quoteValue } from "../quote.ts";

/** Contents of `head.json`. Unknown keys from other tools are kept. */
export interface HeadInfo {
  /** "flat": C softmax outputs; "group": the paper's group-softmax layout, C + K outputs. */
  kind: "flat" | "group";
  /** C, the number of classes (labels in [0, C)). */
  num_classes: number;
  /** Class ids of each group in sub order; `[]` for a flat head. */
  groups: number[][];
  /** Training record (config, seed, steps, final_loss, val_accuracy); absent for foreign heads. */
  train?: Record<string, unknown>;
  /** Id of the feature set the head was trained on. */
  features?: string;
  /** Keys written by other tools, kept as they are. */
  [key: string]: unknown;
}

/** A head in memory. */
export interface Head {
  /** Directory the head was read from (absent for a head built in memory). */
  dir?: string;
  /** Its head.json: kind, classes and grouping. */
  info: HeadInfo;
  /** O x D. */
  weight: Matrix;
  /** Length O. */
  bias: Float32Array;
}

/** Number of outputs O a head with `info` must have. */
export function headOutputs(info: Pick<HeadInfo, "kind" | "num_classes" | "groups">): number {
  return info.kind === "group" ? info.num_classes + info.groups.length : info.num_classes;
}

/** Runs `read` on a head file, turning "not found" into "the head is incomplete". */
async function explainMissing<T>(path: string, dir: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof DataError && err.message === `${path} not found`) {
      throw new DataError(`${path} is missing; the head in ${dir} is incomplete, retrain it`);
    }
    throw err;
  }
}

/** Reads a head array whose header was checked, refusing one replaced since (other shape). */
async function readWithShape(
  path: string,
  dir: string,
  dtype: string,
  shape: number[],
): Promise<NpyArray> {
  const arr = await explainMissing(path, dir, () => readNpy(path));
  if (arr.dtype !== dtype || arr.shape.join() !== shape.join()) {
    throw new DataError(`${path} changed while the head was read; rerun`);
  }
  return arr;
}

function parseInfo(raw: unknown, path: string): HeadInfo {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new DataError(`${path} must hold a JSON object; retrain the head or fix the file`);
  }
  const info = raw as Record<string, unknown>;
  if (info.kind !== "flat" && info.kind !== "group") {
    throw new DataError(`${path}: "kind" must be "flat" or "group", got ${quoteValue(info.kind)}`);
  }
  const C = info.num_classes;
  if (typeof C !== "number" || !Number.isSafeInteger(C) || C < 1) {
    throw new DataError(
      `${path}: "num_classes" must be a positive integer, got ${quoteValue(C)}`,
    );
  }
  let groups: number[][] = [];
  if (info.kind === "group") {
    groups = validateGroups(info.groups, C, path);
  } else if (
    info.groups !== undefined && info.groups !== null &&
    !(Array.isArray(info.groups) && info.groups.length === 0)
  ) {
    // A flat head may record a grouping (for analysis); it must still be a valid one.
    groups = validateGroups(info.groups, C, path);
  }
  if (info.features !== undefined && typeof info.features !== "string") {
    throw new DataError(
      `${path}: "features" must be a string, got ${quoteValue(info.features)}`,
    );
  }
  return { ...info, kind: info.kind, num_classes: C, groups } as HeadInfo;
}

/**
 * Reads and validates a head directory: the kind, the grouping (group heads), and that weight and
 * bias have O = C (flat) or O = C + K (group) rows.
 */
export async function readHead(dir: string): Promise<Head> {
  const jsonPath = `${dir}/head.json`;
  let raw: unknown;
  try {
    raw = await readJsonFile(jsonPath, "retrain the head or fix the file");
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    const exists = await Deno.stat(dir).then(() => true, () => false);
    throw new DataError(
      exists
        ? `${jsonPath} is missing, so the head is incomplete; retrain it with \`deno task train-head\``
        : `Head not found: ${dir}; train one with \`deno task train-head\``,
    );
  }
  const info = parseInfo(raw, jsonPath);
  const O = headOutputs(info);
  const what = info.kind === "group"
    ? `${info.num_classes} classes + ${info.groups.length} groups`
    : `${info.num_classes} classes`;

  // Shapes are compared from the headers (file sizes checked against them) before either array
  // is read, so head.json's sizes and the files' are reconciled before any allocation.
  const wPath = `${dir}/weight.npy`;
  const bPath = `${dir}/bias.npy`;
  const wh = await explainMissing(wPath, dir, () => readNpyHeader(wPath));
  if (wh.shape.length !== 2 || (wh.dtype !== "<f4" && wh.dtype !== "<f2")) {
    throw new DataError(
      `${wPath} must be a 2-D float32 array (O x D), got ${wh.dtype} shape ` +
        `(${wh.shape.join(", ")}); retrain the head`,
    );
  }
  if (wh.shape[0] !== O) {
    throw new DataError(
      `${wPath} has ${wh.shape[0]} rows but ${jsonPath} needs ${O} outputs (${what}); the files ` +
        "do not belong together",
    );
  }
  const bh = await explainMissing(bPath, dir, () => readNpyHeader(bPath));
  if (bh.shape.length !== 1 || (bh.dtype !== "<f4" && bh.dtype !== "<f2")) {
    throw new DataError(
      `${bPath} must be a 1-D float32 array, got ${bh.dtype} shape (${bh.shape.join(", ")}); ` +
        "retrain the head",
    );
  }
  if (bh.shape[0] !== O) {
    throw new DataError(`${bPath} has ${bh.shape[0]} values but ${jsonPath} needs ${O} (${what})`);
  }
  const w = await readWithShape(wPath, dir, wh.dtype, wh.shape);
  const b = await readWithShape(bPath, dir, bh.dtype, bh.shape);
  const weight = { data: toFloat32(w), rows: O, cols: w.shape[1] };
  const bias = toFloat32(b);
  for (const [arr, path] of [[weight.data, wPath], [bias, bPath]] as const) {
    for (let i = 0; i < arr.length; i++) {
      if (arr[i] - arr[i] !== 0) {
        throw new DataError(
          `${path} has a non-finite value (${arr[i]}) at index ${i}; retrain the head`,
        );
      }
    }
  }
  return { dir, info, weight, bias };
}

/**
 * Writes `weight.npy`, `bias.npy`, then `head.json` (each atomically). The old `head.json` is
 * removed first so an interrupted write never pairs old metadata with new weights. Shape
 * mismatches are programming errors (RangeError).
 */
export async function writeHead(dir: string, head: Head): Promise<void> {
  const { info, weight, bias } = head;
  const O = headOutputs(info);
  if (weight.rows !== O || bias.length !== O) {
    throw new RangeError(
      `writeHead: ${info.kind} head needs ${O} outputs, got weight ${weight.rows} x ` +
        `${weight.cols} and bias ${bias.length}`,
    );
  }
  if (weight.data.length !== weight.rows * weight.cols) {
    throw new RangeError(`writeHead: weight data length ${weight.data.length} != rows x cols`);
  }
  if (info.kind === "group") validateGroups(info.groups, info.num_classes);
  await Deno.mkdir(dir, { recursive: true });
  await Deno.remove(`${dir}/head.json`).catch((err) => {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  });
  await writeNpy(`${dir}/weight.npy`, {
    dtype: "<f4",
    shape: [weight.rows, weight.cols],
    data: weight.data,
  });
  await writeNpy(`${dir}/bias.npy`, { dtype: "<f4", shape: [O], data: bias });
  await writeJsonAtomic(`${dir}/head.json`, info);
}
