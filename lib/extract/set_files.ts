/**
 * The files of a feature set written by `extract` or `merge-shards`, and which of them a run may
 * replace or remove. Every path such a run writes is `--out` joined with a fixed name: the output
 * arrays are `features.npy` (the model's first output) and `<output name>.npy`, where output
 * names are checked to be plain file-name stems; names read from a model or a meta.json are never
 * joined onto a path before that check.
 *
 * Ownership: a run replaces or removes only files that a `manifest.json` written by extract or
 * merge-shards (stage `extract` / `merge-shards`, its `files` list) or that run's `meta.json`
 * lists. Any other file in `--out` is foreign: it is left alone and named in a warning, or, when
 * the run would overwrite it or a reader of the feature set would take it for part of the set
 * (`logits.npy`, `paths.txt`, the layer arrays `root.npy` ... `block4.npy`), the run refuses
 * before writing anything.
 *
 * Commit order ({@linkcode commitSetFiles}): meta.json (the completion marker) is removed, stale
 * files of the previous result are removed, the new manifest.json replaces the old one (so the
 * directory always holds a manifest listing every file of ours that it contains), the new files
 * are renamed into place and meta.json comes last.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import { commitStaging } from "../io/staging.ts";
import { quoteValue } from "../quote.ts";

/** Files every extract / merge-shards result holds besides its output arrays. */
export const FIXED_FILES: readonly string[] = Object.freeze([
  "labels.npy",
  "paths.txt",
  "skipped.tsv",
  "manifest.json",
  "meta.json",
]);

/**
 * Names a reader picks up by their presence alone, without meta.json listing them
 * (`readFeatureSet`: logits.npy, paths.txt; table1-extended: the multi-layer arrays). A foreign
 * file with such a name would be read as part of the new set, so a run refuses it.
 */
const READ_BY_PRESENCE: ReadonlySet<string> = new Set([
  "features.npy",
  "labels.npy",
  "logits.npy",
  "paths.txt",
  "views.npy",
  "root.npy",
  "block1.npy",
  "block2.npy",
  "block3.npy",
  "block4.npy",
]);

/** Output array names that would collide with a fixed file (labels.npy, views.npy). */
const RESERVED_OUTPUTS: ReadonlySet<string> = new Set(["labels", "views"]);

/** Name of the training-views output (file `views.npy`, `rows_per_image` = V). */
export const VIEWS_OUTPUT = "views";

/** Most outputs a model or a meta.json may list. */
const MAX_OUTPUTS = 64;

/** A plain file-name stem: no separator, no leading dot, at most 128 characters. */
const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$/;

/** Whether `name` can name an output array (and so be part of a file name). */
export function isSafeOutputName(name: unknown): name is string {
  return typeof name === "string" && NAME_RE.test(name) && !name.endsWith(".");
}

/** The file of output `name`: the primary (first) output is always `features.npy`. */
export function outputFileName(name: string, primary: boolean): string {
  return primary ? "features.npy" : `${name}.npy`;
}

/**
 * Refuses (DataError) model outputs whose names cannot become file names of a feature set:
 * anything but letters, digits and `_ . : -`, a leading dot, or the reserved `labels` / `views`.
 * `model` names the file in the error, `o.label` the kind of input (default "model").
 */
export function assertModelOutputNames(
  model: string,
  names: readonly string[],
  o: { label?: string } = {},
): void {
  const label = o.label ?? "model";
  if (names.length > MAX_OUTPUTS) {
    throw new DataError(
      `${label} ${model} has ${names.length} outputs; at most ${MAX_OUTPUTS} are supported`,
    );
  }
  for (const name of names) {
    if (!isSafeOutputName(name) || RESERVED_OUTPUTS.has(name)) {
      throw new DataError(
        `${label} ${model}: output name ${quoteValue(name)} cannot name a feature-set file ` +
          "(use letters, digits, _ . : - and not labels or views); rename the model's outputs",
      );
    }
  }
}

/** One output array of a feature set, as meta.json's `outputs` lists it. */
export interface SetOutput {
  name: string;
  file: string;
  dim: number;
  dtype: "float32" | "float16";
  /** Rows per image (the training views array has V); absent means 1. */
  rows_per_image?: number;
}

function isInt(v: unknown, min: number, max: number): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= min && v <= max;
}

/**
 * Validates the `outputs` of a meta.json (`where` names the file) against what extract writes:
 * entry 0 is the primary output in `features.npy`, every other entry `<name>.npy` with a safe,
 * unique name, `views` (if any) last with `rows_per_image` equal to meta's `views`. A meta.json
 * without `outputs` (written before outputs were recorded) has the single `features` output.
 * Returns the outputs with their file names rebuilt from the names.
 */
export function validateSetOutputs(meta: Record<string, unknown>, where: string): SetOutput[] {
  const raw = meta.outputs;
  if (raw === undefined) {
    return [{
      name: "features",
      file: "features.npy",
      dim: meta.dim as number,
      dtype: meta.dtype as "float32" | "float16",
    }];
  }
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_OUTPUTS) {
    throw new DataError(
      `${where}: "outputs" must be a list of 1 to ${MAX_OUTPUTS} entries, got ${
        quoteValue(raw)
      }; re-extract this set`,
    );
  }
  const views = meta.views ?? 1;
  const seen = new Set<string>();
  const out: SetOutput[] = [];
  raw.forEach((e: unknown, i: number) => {
    const at = `${where}: outputs[${i}]`;
    if (e === null || typeof e !== "object" || Array.isArray(e)) {
      throw new DataError(`${at} must be an object, got ${quoteValue(e)}; re-extract this set`);
    }
    const o = e as Record<string, unknown>;
    const isViews = i > 0 && o.name === VIEWS_OUTPUT;
    if (!isSafeOutputName(o.name) || (i > 0 && !isViews && RESERVED_OUTPUTS.has(o.name))) {
      throw new DataError(
        `${at}.name ${quoteValue(o.name)} is not an output name extract writes (letters, ` +
          "digits, _ . : -); re-extract this set",
      );
    }
    if (seen.has(o.name) || (i > 0 && o.name === "features")) {
      throw new DataError(`${at}.name "${o.name}" is listed twice; re-extract this set`);
    }
    seen.add(o.name);
    const file = outputFileName(o.name, i === 0);
    if (o.file !== file) {
      throw new DataError(
        `${at}.file ${quoteValue(o.file)} is not "${file}", the name extract writes for output ` +
          `"${o.name}"; this meta.json was edited or damaged: re-extract this set`,
      );
    }
    if (!isInt(o.dim, 1, 1 << 24)) {
      throw new DataError(
        `${at}.dim ${quoteValue(o.dim)} must be an integer in [1, ${1 << 24}]; re-extract this set`,
      );
    }
    if (o.dtype !== "float32" && o.dtype !== "float16") {
      throw new DataError(
        `${at}.dtype ${quoteValue(o.dtype)} must be "float32" or "float16"; re-extract this set`,
      );
    }
    if (isViews) {
      if (i !== raw.length - 1 || !isInt(o.rows_per_image, 2, 1024) || o.rows_per_image !== views) {
        throw new DataError(
          `${at} (views) must be the last output with rows_per_image equal to "views" ` +
            `(${quoteValue(views)}), got ${quoteValue(o.rows_per_image)}; re-extract this set`,
        );
      }
    } else if (o.rows_per_image !== undefined && o.rows_per_image !== 1) {
      throw new DataError(
        `${at}.rows_per_image ${quoteValue(o.rows_per_image)} is only allowed for views; ` +
          "re-extract this set",
      );
    }
    out.push({
      name: o.name,
      file,
      dim: o.dim,
      dtype: o.dtype,
      ...(isViews ? { rows_per_image: o.rows_per_image as number } : {}),
    });
  });
  return out;
}

/** Every top-level file of a result with `outputs`: the arrays, then {@linkcode FIXED_FILES}. */
export function setFileNames(outputs: readonly SetOutput[]): string[] {
  return [...outputs.map((o) => o.file), ...FIXED_FILES];
}

/** Whether `name` is a file an extract / merge-shards result can hold (no path separator). */
function isSetFileName(name: unknown): name is string {
  if (typeof name !== "string") return false;
  if (FIXED_FILES.includes(name)) return true;
  return name.endsWith(".npy") && isSafeOutputName(name.slice(0, -4));
}

async function readJson(path: string): Promise<Record<string, unknown> | null> {
  try {
    const v = JSON.parse(await Deno.readTextFile(path));
    return v !== null && typeof v === "object" && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

/** Stages whose manifest.json vouches for a feature set's files. */
const SET_STAGES = new Set(["extract", "merge-shards"]);

/**
 * The files of `out` that an earlier extract / merge-shards run wrote, by its own records: the
 * `files` of a manifest.json of ours, and, beside such a manifest, the outputs of meta.json (a
 * result written before manifests listed files). Names that are not set file names are ignored,
 * so a damaged record can never point outside `out`.
 */
export async function ownedFiles(out: string): Promise<Set<string>> {
  const owned = new Set<string>();
  const manifest = await readJson(`${out}/manifest.json`);
  if (
    manifest?.tool !== "mos-toolkit" || typeof manifest.stage !== "string" ||
    !SET_STAGES.has(manifest.stage)
  ) {
    return owned;
  }
  owned.add("manifest.json");
  if (Array.isArray(manifest.files)) {
    for (const f of manifest.files) if (isSetFileName(f)) owned.add(f);
    return owned;
  }
  const meta = await readJson(`${out}/meta.json`);
  if (meta) {
    for (const f of FIXED_FILES) owned.add(f);
    try {
      for (const o of validateSetOutputs(meta, `${out}/meta.json`)) owned.add(o.file);
    } catch { /* not a meta.json of ours: only the fixed names */ }
  }
  return owned;
}

/** What a run may do in its output directory. */
export interface SetFilesPlan {
  /** Files of the previous result that the new one does not have: removed at commit. */
  stale: string[];
  /** One line naming the foreign entries left alone, when there are any. */
  warnings: string[];
}

/** Entries that are a run's own bookkeeping, never foreign: its lock and temp files. */
function isBookkeeping(name: string, extra: readonly string[]): boolean {
  return name === ".lock" || extra.includes(name) || /\.tmp-\d+-[0-9a-z]+$/.test(name);
}

/**
 * Checks `out` before a run writes `files` there. Throws a DataError naming the first foreign
 * file the run would overwrite or a reader would mistake for part of the set; returns the stale
 * files of the previous result and a warning naming the other foreign entries. `task` and
 * `internal` (entries of the run's own making, e.g. `.parts`) shape the check and the message;
 * `label` names `out` in it (default "output directory").
 */
export async function planSetFiles(
  out: string,
  files: readonly string[],
  opts: { task: string; internal?: readonly string[]; label?: string },
): Promise<SetFilesPlan> {
  const label = opts.label ?? "output directory";
  const owned = await ownedFiles(out);
  const internal = opts.internal ?? [];
  const stale: string[] = [];
  const conflicts: string[] = [];
  const foreign: string[] = [];
  const names: string[] = [];
  for await (const e of Deno.readDir(out)) names.push(e.name);
  names.sort();
  for (const name of names) {
    if (isBookkeeping(name, internal)) continue;
    if (owned.has(name)) {
      if (!files.includes(name)) stale.push(name);
    } else if (files.includes(name) || READ_BY_PRESENCE.has(name)) {
      conflicts.push(name);
    } else {
      foreign.push(name);
    }
  }
  if (conflicts.length > 0) {
    throw new DataError(
      `${label} ${out} holds ${conflicts.join(", ")}, which no extract or merge-shards run wrote ` +
        `there (no manifest.json of theirs lists ${conflicts.length > 1 ? "them" : "it"}), and ` +
        `${opts.task} would ${conflicts.some((c) => files.includes(c)) ? "overwrite" : "read"} ${
          conflicts.length > 1 ? "them" : "it"
        } as part of the feature set; move ` +
        `${conflicts.length > 1 ? "them" : "it"} away or choose an empty ${label}`,
    );
  }
  const warnings = foreign.length === 0 ? [] : [
    `${label} ${out} also holds ${foreign.length} ${foreign.length > 1 ? "entries" : "entry"} ` +
    `that ${opts.task} did not write (${foreign.slice(0, 5).join(", ")}${
      foreign.length > 5 ? ", ..." : ""
    }); ${foreign.length > 1 ? "they were" : "it was"} left alone`,
  ];
  return { stale, warnings };
}

/**
 * Moves a fully written result from `staging` into `out` (see the module doc for the order):
 * `staging` must hold manifest.json (with `files`) and meta.json. Renames need no space, so a
 * full disk during the writes never reaches this point and the previous result stays as it was.
 */
export async function commitSetFiles(
  staging: string,
  out: string,
  stale: readonly string[],
): Promise<void> {
  await removeIfPresent(`${out}/meta.json`);
  for (const f of stale) await removeIfPresent(`${out}/${f}`);
  await Deno.rename(`${staging}/manifest.json`, `${out}/manifest.json`);
  await commitStaging(staging, out, ["meta.json"]);
}

async function removeIfPresent(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}
