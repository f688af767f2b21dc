/**
 * Resolves the groups choice of head training: `flat`, `taxonomy` (the paper's 8 ImageNet
 * super-classes, needs C = 1000) or a JSON file `[[class ids of group 0], ...]`.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import { validateGroups } from "../groups.ts";
import { type ClassInfo, taxonomyGroups } from "../io/classes.ts";

/** What a groups choice resolves to: null for a flat head. */
export type ResolvedGroups = number[][] | null;

/**
 * Turns the parsed choice into groups. `fileText` is the JSON file's text for a file choice;
 * `classTable` is needed for "taxonomy". Errors describe the choice as `label` (default: the
 * groups it names, e.g. `groups file g.json`); a task passes the flag it came from instead, e.g.
 * `--groups g.json`.
 */
export function resolveGroups(
  choice: string,
  numClasses: number,
  deps: { fileText?: string; classTable?: readonly ClassInfo[]; label?: string },
): ResolvedGroups {
  if (choice === "flat") return null;
  if (choice === "taxonomy") {
    if (numClasses !== 1000 || !deps.classTable) {
      throw new DataError(
        `${deps.label ?? 'groups "taxonomy"'}: the taxonomy grouping (the paper's 8 ImageNet-1k ` +
          `super-classes) needs 1000 classes, but the features have ${numClasses}; give a ` +
          `JSON file of class-id groups [[class ids], ...] for another label space`,
      );
    }
    return taxonomyGroups(deps.classTable);
  }
  const label = deps.label ?? `groups file ${choice}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(deps.fileText ?? "");
  } catch (e) {
    throw new DataError(
      `${label} is not valid JSON (${(e as Error).message.replace(/\s+/g, " ")}); expected ` +
        `[[class ids of group 0], [class ids of group 1], ...]`,
    );
  }
  return validateGroups(parsed, numClasses, label);
}
