/**
 * The one reader of the YAML experiment configs (paper, ablation and demo experiments, and the
 * `ood_groups` they share): parse the text, then read typed fields with unknown keys, wrong types
 * and out-of-range values as one {@linkcode ConfigError} naming the file and the key path, so a
 * typo never silently falls back to a default.
 *
 * @module
 */
import { parse } from "npm:yaml@2.9.1";
import { DataError } from "../errors.ts";

/**
 * A config file that cannot be used: invalid YAML, an unknown key, a value of the wrong type or
 * out of range. A {@linkcode DataError} (exit 1) whose message starts with the file.
 */
export class ConfigError extends DataError {
  /** The file (or other source) the config came from. */
  readonly source: string;

  /** `message` is the whole sentence, naming `source` (see {@linkcode ConfigReader.error}). */
  constructor(message: string, source: string) {
    super(message);
    this.name = "ConfigError";
    this.source = source;
  }
}

/** A YAML mapping, as parsed. */
export type ConfigObject = Record<string, unknown>;

/** Bounds of a number field. */
export interface ConfigNumberRule {
  integer?: boolean;
  /** Inclusive lower bound (default 0). */
  min?: number;
  /** Inclusive upper bound. */
  max?: number;
}

/**
 * Parses YAML `text`; invalid YAML is a ConfigError with the parser's first line. An empty
 * document is `empty` when given, else the error of a top level that is not a mapping.
 */
export function parseConfigYaml(
  text: string,
  source: string,
  empty?: ConfigObject,
): ConfigObject {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    // The yaml library's first line ends with ":" before a source excerpt; drop it.
    const first = (e instanceof Error ? e.message : String(e)).split("\n")[0].replace(/:\s*$/, "");
    throw new ConfigError(`${source} is not valid YAML: ${first}`, source);
  }
  if ((doc === null || doc === undefined) && empty !== undefined) return empty;
  return new ConfigReader(source).object(doc, "(top level)");
}

/** Typed field readers over parsed YAML; each mistake is a ConfigError naming the key path. */
export class ConfigReader {
  constructor(readonly source: string) {}

  /** A ConfigError about this reader's file. */
  error(problem: string): ConfigError {
    return new ConfigError(`${this.source}: ${problem}`, this.source);
  }

  /** `v` as a mapping (`where` is its key path). */
  object(v: unknown, where: string): ConfigObject {
    if (v === null || typeof v !== "object" || Array.isArray(v)) {
      throw this.error(`"${where}" must be a mapping`);
    }
    return v as ConfigObject;
  }

  /** Refuses any key of `o` outside `allowed` (`where` is the path of `o`, "" at the top). */
  onlyKeys(o: ConfigObject, allowed: readonly string[], where: string): void {
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) {
        throw this.error(
          `unknown key "${where ? `${where}.` : ""}${k}"; allowed: ${allowed.join(", ")}`,
        );
      }
    }
  }

  /** A non-empty string at `o[key]` (`where` is the path prefix, e.g. "sets."). */
  str(o: ConfigObject, key: string, where: string, fallback?: string): string {
    const v = o[key];
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== "string" || v === "") {
      throw this.error(`"${where}${key}" must be a non-empty string`);
    }
    return v;
  }

  /** A finite number within `rule` at `o[key]`, undefined when absent. */
  num(o: ConfigObject, key: string, where: string, rule: ConfigNumberRule): number | undefined {
    const v = o[key];
    if (v === undefined) return undefined;
    const min = rule.min ?? 0;
    if (
      typeof v !== "number" || !Number.isFinite(v) || v < min ||
      (rule.max !== undefined && v > rule.max) || (rule.integer && !Number.isInteger(v))
    ) {
      const upper = rule.max === undefined ? "" : ` and <= ${rule.max}`;
      throw this.error(
        `"${where}${key}" must be ${rule.integer ? "an integer" : "a number"} >= ${min}` +
          `${upper}, got ${JSON.stringify(v)}`,
      );
    }
    return v;
  }

  /** A boolean at `o[key]`, `fallback` when absent. */
  bool(o: ConfigObject, key: string, where: string, fallback: boolean): boolean {
    const v = o[key];
    if (v === undefined) return fallback;
    if (typeof v !== "boolean") throw this.error(`"${where}${key}" must be true or false`);
    return v;
  }

  /** One of `allowed` at `o[key]`, `fallback` when absent. */
  choice<T extends string>(
    o: ConfigObject,
    key: string,
    where: string,
    allowed: readonly T[],
    fallback: T,
  ): T {
    const v = o[key] ?? fallback;
    if (!(allowed as readonly unknown[]).includes(v)) {
      throw this.error(
        `"${where}${key}" must be ${allowed.join(" or ")}, got ${JSON.stringify(v)}`,
      );
    }
    return v as T;
  }

  /** A non-empty list of distinct integers >= `min` at `o[key]`, undefined when absent. */
  intList(o: ConfigObject, key: string, where: string, min: number): number[] | undefined {
    const v = o[key];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.length === 0) {
      throw this.error(`"${where}${key}" must be a non-empty list of integers`);
    }
    for (const x of v) {
      if (typeof x !== "number" || !Number.isInteger(x) || x < min) {
        throw this.error(`"${where}${key}" has ${JSON.stringify(x)}; give integers >= ${min}`);
      }
    }
    const seen = new Set<number>();
    for (const x of v as number[]) {
      if (seen.has(x)) throw this.error(`"${where}${key}" lists ${x} twice`);
      seen.add(x);
    }
    return v as number[];
  }

  /** A non-empty list of values from `allowed` at `o[key]` (duplicates dropped), or undefined. */
  choiceList<T extends string>(
    o: ConfigObject,
    key: string,
    where: string,
    allowed: readonly T[],
  ): T[] | undefined {
    const v = o[key];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.length === 0) {
      throw this.error(`"${where}${key}" must be a non-empty list of ${allowed.join(", ")}`);
    }
    for (const x of v) {
      if (!(allowed as readonly unknown[]).includes(x)) {
        throw this.error(
          `"${where}${key}" has ${JSON.stringify(x)}; choose from ${allowed.join(", ")}`,
        );
      }
    }
    return [...new Set(v as T[])];
  }

  /**
   * The `sets` mapping shared by the experiments: `train` and `id` directory names and a
   * non-empty `ood` mapping of set name -> directory name.
   */
  sets(v: unknown): { train: string; id: string; ood: { name: string; dir: string }[] } {
    const sets = this.object(v, "sets");
    this.onlyKeys(sets, ["train", "id", "ood"], "sets");
    const ood = this.object(sets.ood, "sets.ood");
    if (Object.keys(ood).length === 0) {
      throw this.error(`"sets.ood" is empty; name at least one OOD set`);
    }
    return {
      train: this.str(sets, "train", "sets."),
      id: this.str(sets, "id", "sets."),
      ood: Object.entries(ood).map(([name, dir]) => {
        if (typeof dir !== "string" || dir === "") {
          throw this.error(`"sets.ood.${name}" must be a directory name`);
        }
        return { name, dir };
      }),
    };
  }
}
