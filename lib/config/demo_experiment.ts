/**
 * The YAML config of the synthetic demo (experiments/demo.yaml): the near-OOD / far-OOD groups of
 * its OOD sets. Unknown keys are errors, so a typo never silently drops the groups.
 *
 * @module
 */
import { parse } from "yaml";
import { DataError } from "../errors.ts";
import { type OodGroups, parseOodGroups } from "./ood_groups.ts";

/** A parsed, validated demo config. */
export interface DemoExperiment {
  /** Near-OOD / far-OOD sets; absent: the tables show the overall Average only. */
  oodGroups?: OodGroups;
}

/**
 * Parses demo config text; `oodSets` are the names of the demo's OOD sets (the groups must name
 * only those), `source` names the file in errors.
 */
export function parseDemoExperiment(
  text: string,
  oodSets: readonly string[],
  source: string,
): DemoExperiment {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    const first = (e as Error).message.split("\n")[0].replace(/:\s*$/, "");
    throw new DataError(`${source} is not valid YAML: ${first}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc)) {
    throw new DataError(`${source}: the top level must be a mapping (e.g. ood_groups: ...)`);
  }
  const root = doc as Record<string, unknown>;
  for (const k of Object.keys(root)) {
    if (k !== "ood_groups") {
      throw new DataError(`${source}: unknown key "${k}"; allowed: ood_groups`);
    }
  }
  return { oodGroups: parseOodGroups(root.ood_groups, oodSets, source) };
}
