/**
 * Near-OOD / far-OOD groups of a benchmark's OOD sets, as OpenOOD reports them (v1.5: an average
 * over the near-OOD sets and one over the far-OOD sets beside the per-set numbers). Written in an
 * experiment config as
 *
 * ```yaml
 * ood_groups:
 *   near: [sun, places]
 *   far: [inaturalist, textures]
 * ```
 *
 * Both lists are required, each a non-empty list of OOD set names of the config; a set may not
 * be in both, nor twice in one. A set in neither group still counts in the overall Average.
 *
 * @module
 */
import { ConfigReader } from "./reader.ts";

/** The two groups, each a list of OOD set names (the keys of `sets.ood`). */
export interface OodGroups {
  /** Near-OOD set names. */
  near: string[];
  /** Far-OOD set names. */
  far: string[];
}

/**
 * Checks `groups` against the OOD set names and returns the problem as one sentence, or null.
 * Shared by the config parser (a DataError naming the file) and the tables task's flags (a
 * UsageError naming the flag).
 */
export function oodGroupsProblem(groups: OodGroups, sets: readonly string[]): string | null {
  for (const key of ["near", "far"] as const) {
    const list = groups[key];
    if (list.length === 0) return `"${key}" is empty; name at least one OOD set`;
    for (const [i, name] of list.entries()) {
      if (!sets.includes(name)) {
        return `"${key}" names "${name}", which is not one of the OOD sets (${sets.join(", ")})`;
      }
      if (list.indexOf(name) !== i) return `"${key}" names "${name}" twice`;
    }
  }
  const both = groups.near.find((n) => groups.far.includes(n));
  if (both !== undefined) return `"${both}" is in both near and far; put it in one of them`;
  return null;
}

/**
 * Parses the `ood_groups` value of a config (`where` is its key path, e.g. "ood_groups") against
 * the config's OOD set names; undefined when the key is absent. Errors are ConfigErrors naming
 * `source` and the key.
 */
export function parseOodGroups(
  value: unknown,
  sets: readonly string[],
  source: string,
  where = "ood_groups",
): OodGroups | undefined {
  if (value === undefined) return undefined;
  const r = new ConfigReader(source);
  const fix = `write it as ${where}: {near: [SET, ...], far: [SET, ...]}`;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw r.error(`"${where}" must be a mapping; ${fix}`);
  }
  const o = r.object(value, where);
  r.onlyKeys(o, ["near", "far"], where);
  const list = (key: "near" | "far"): string[] => {
    const v = o[key];
    if (v === undefined) throw r.error(`"${where}.${key}" is missing; ${fix}`);
    if (!Array.isArray(v) || v.some((s) => typeof s !== "string" || s === "")) {
      throw r.error(
        `"${where}.${key}" must be a list of OOD set names, got ${JSON.stringify(v)}`,
      );
    }
    return v as string[];
  };
  const groups = { near: list("near"), far: list("far") };
  const problem = oodGroupsProblem(groups, sets);
  if (problem) throw r.error(`${where}: ${problem}`);
  return groups;
}
