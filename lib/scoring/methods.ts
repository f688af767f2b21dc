/**
 * A thin view of the method registry (lib/detectors/registry.ts) for callers that list the
 * paper's methods: every key, label, note and grid comes from the registry.
 *
 * @module
 */
import { defaultMethods, detectorByKey, PAPER_METHODS } from "../detectors/registry.ts";

export { checkMethodsForHead } from "./score_sets.ts";
export { PAPER_METHODS };

/** Method keys as used in `scores/<method>/` and `metrics.csv` (registry keys). */
export type MethodKey = string;

/** The paper's methods that score a flat softmax head (with a training set). */
export const FLAT_METHODS: readonly MethodKey[] = defaultMethods("flat", true);

/** The paper's methods that score a group-softmax head. */
export const GROUP_METHODS: readonly MethodKey[] = defaultMethods("group", true);

/** Head kind each method needs ("any" for methods that read either). */
export function methodHeadKind(method: MethodKey): "flat" | "group" | "any" {
  return detectorByKey(method).needs.head;
}
