/**
 * The YAML plan of `deno task extract-all` (experiments/extract.yaml): one backbone, an output
 * root, shared defaults and the image sets to extract, each with its expected image count.
 *
 * @module
 */
import { parse } from "npm:yaml@2.9.1";
import { DataError } from "../errors.ts";

/** One set of the plan, defaults applied. */
export interface PlannedSet {
  /** Key in `sets:`; also the output folder under `out_root`. */
  name: string;
  images: string;
  /** Images the set must hold (checked before extracting). */
  count: number;
  views: number;
  viewSeed: number;
  unlabeled: boolean;
  batch: number;
  dtype: "f32" | "f16";
  size: number;
  resize: "pil" | "sharp";
  /** Where users get the images (printed when the folder is missing). */
  source?: string;
}

/** A parsed plan. */
export interface ExtractPlan {
  model: string;
  backbone: string;
  outRoot: string;
  sets: PlannedSet[];
}

const SET_KEYS = [
  "images",
  "count",
  "views",
  "view_seed",
  "unlabeled",
  "batch",
  "dtype",
  "size",
  "resize",
  "source",
] as const;

/** Parses and validates a plan; `source` names the file in errors. */
export function parseExtractPlan(text: string, source: string): ExtractPlan {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new DataError(`${source} is not valid YAML (${(err as Error).message.split("\n")[0]})`);
  }
  const obj = (v: unknown, where: string): Record<string, unknown> => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) {
      throw new DataError(`${source}: ${where} must be a mapping`);
    }
    return v as Record<string, unknown>;
  };
  const root = obj(doc, "the document");
  const str = (o: Record<string, unknown>, key: string, where: string): string => {
    const v = o[key];
    if (typeof v !== "string" || v === "") {
      throw new DataError(`${source}: ${where}${key} must be a non-empty string`);
    }
    return v;
  };
  const defaults = root.defaults === undefined ? {} : obj(root.defaults, "defaults");
  for (const k of Object.keys(defaults)) {
    if (!(SET_KEYS as readonly string[]).includes(k) || ["images", "count", "source"].includes(k)) {
      throw new DataError(`${source}: unknown key defaults.${k}`);
    }
  }
  const setsObj = obj(root.sets, "sets");
  const sets: PlannedSet[] = [];
  for (const [name, raw] of Object.entries(setsObj)) {
    // The name is the set's output folder under out_root: one plain path segment, never "." or
    // "..", which would put the output at or above out_root.
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(name)) {
      throw new DataError(
        `${source}: set name ${JSON.stringify(name)} must be letters, digits, _ . - (not ` +
          "starting with a dot, at most 128 characters); it names the set's output folder",
      );
    }
    const s = { ...defaults, ...obj(raw, `sets.${name}`) };
    for (const k of Object.keys(s)) {
      if (!(SET_KEYS as readonly string[]).includes(k)) {
        throw new DataError(`${source}: unknown key sets.${name}.${k}`);
      }
    }
    // Upper bounds as for `deno task extract`'s flags: past them a value is a typo, never a run.
    const int = (key: string, fallback: number, min: number, max: number): number => {
      const v = s[key] ?? fallback;
      if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max) {
        throw new DataError(
          `${source}: sets.${name}.${key} must be an integer in [${min}, ${max}], got ${
            JSON.stringify(v)
          }`,
        );
      }
      return v;
    };
    const choice = <T extends string>(key: string, allowed: readonly T[], fallback: T): T => {
      const v = s[key] ?? fallback;
      if (!(allowed as readonly unknown[]).includes(v)) {
        throw new DataError(`${source}: sets.${name}.${key} must be one of ${allowed.join(", ")}`);
      }
      return v as T;
    };
    if (s.unlabeled !== undefined && typeof s.unlabeled !== "boolean") {
      throw new DataError(`${source}: sets.${name}.unlabeled must be true or false`);
    }
    sets.push({
      name,
      images: str(s, "images", `sets.${name}.`),
      count: int("count", -1, 1, Number.MAX_SAFE_INTEGER),
      views: int("views", 1, 1, 64),
      viewSeed: int("view_seed", 0, 0, Number.MAX_SAFE_INTEGER),
      unlabeled: s.unlabeled === true,
      batch: int("batch", 32, 1, 4096),
      dtype: choice("dtype", ["f32", "f16"] as const, "f16"),
      size: int("size", 480, 32, 4096),
      resize: choice("resize", ["pil", "sharp"] as const, "pil"),
      ...(typeof s.source === "string" ? { source: s.source } : {}),
    });
  }
  if (sets.length === 0) throw new DataError(`${source}: sets is empty`);
  return {
    model: str(root, "model", ""),
    backbone: str(root, "backbone", ""),
    outRoot: str(root, "out_root", "").replace(/\/+$/, ""),
    sets,
  };
}
