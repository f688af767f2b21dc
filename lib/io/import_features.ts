/**
 * Adopting a feature set made elsewhere (features dumped from a user's own PyTorch model): a
 * directory with `features.npy` and optionally `labels.npy`, `logits.npy`, `paths.txt` gets a
 * validated `meta.json` with `"complete": true`, the sha256 of every array, and the names the user
 * gives. The arrays are read and checked as every reader here checks them (shapes, sizes, finite
 * values, label range) before meta.json is written, atomically; nothing else in the directory is
 * touched.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import { writeJsonAtomic } from "./atomic.ts";
import { type FeatureMeta, readFeatureSet } from "./feature_set.ts";
import { hashFile } from "./manifest.ts";

/** What {@linkcode importFeatureSet} records besides what the arrays say. */
export interface ImportOptions {
  /** Data set name (default: the directory's name). */
  dataset?: string;
  /** Backbone name (default "unknown"). */
  backbone?: string;
  /** When given, every label must be in [-1, numClasses). */
  numClasses?: number;
  /** Replace a meta.json that an earlier import wrote (never one written by extract). */
  force?: boolean;
  /**
   * How to replace an earlier import, for the error refusing it (default "import it with force
   * set to replace it"); a task names its flag, e.g. "pass --force to import the set again".
   */
  forceHint?: string;
}

/** The files an import hashes when present, in this order. */
const SET_FILES = ["features.npy", "labels.npy", "logits.npy", "paths.txt"];

async function existingMeta(path: string): Promise<Record<string, unknown> | null> {
  try {
    const v = JSON.parse(await Deno.readTextFile(path));
    return v !== null && typeof v === "object" && !Array.isArray(v) ? v : {};
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    return {};
  }
}

/**
 * Validates the bare set in `dir` and writes its meta.json; returns the meta. A directory that
 * already has a meta.json is refused (a `DataError`), except one from an earlier import with
 * `force`.
 */
export async function importFeatureSet(dir: string, o: ImportOptions = {}): Promise<FeatureMeta> {
  const metaPath = `${dir}/meta.json`;
  const prior = await existingMeta(metaPath);
  if (prior !== null && !(o.force && prior.imported !== undefined)) {
    throw new DataError(
      prior.imported !== undefined
        ? `${metaPath} exists from an earlier import; ${
          o.forceHint ?? "import it with force set to replace it"
        }`
        : `${metaPath} exists and was not written by import-features; this set needs no import ` +
          "(remove that meta.json only if it is yours and stale)",
    );
  }
  const set = await readFeatureSet(dir, { numClasses: o.numClasses, ignoreMeta: true });
  const hashes: Record<string, string> = {};
  for (const name of SET_FILES) {
    const present = await Deno.stat(`${dir}/${name}`).then(() => true, () => false);
    if (present) hashes[name] = `sha256:${await hashFile(`${dir}/${name}`)}`;
  }
  const labeled = set.labels.some((l) => l >= 0);
  const meta: FeatureMeta = {
    dataset: o.dataset ?? set.meta.dataset,
    backbone: o.backbone ?? "unknown",
    dim: set.meta.dim,
    count: set.meta.count,
    dtype: set.meta.dtype,
    ...(set.logits ? { logits_dim: set.logits.cols } : {}),
    ...(labeled ? { num_labeled: set.labels.filter((l) => l >= 0).length } : {}),
    imported: { files: hashes },
    complete: true,
  };
  await writeJsonAtomic(metaPath, meta);
  return meta;
}
