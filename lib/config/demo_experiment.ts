/**
 * The YAML config of the synthetic demo (experiments/demo.yaml): the near-OOD / far-OOD groups of
 * its OOD sets. Unknown keys are errors, so a typo never silently drops the groups.
 *
 * @module
 */
import { type OodGroups, parseOodGroups } from "./ood_groups.ts";
import { ConfigReader, parseConfigYaml } from "./reader.ts";

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
  const empty = {};
  const root = parseConfigYaml(text, source, empty);
  if (root === empty) return {};
  new ConfigReader(source).onlyKeys(root, ["ood_groups"], "");
  return { oodGroups: parseOodGroups(root.ood_groups, oodSets, source) };
}
