/**
 * The summary blocks a table shows after its per-set columns: Near-OOD and Far-OOD (when the
 * experiment names the groups, lib/config/ood_groups.ts) and the paper's Average over all sets.
 *
 * @module
 */
import { type OodGroups, oodGroupsProblem } from "../config/ood_groups.ts";

export type { OodGroups } from "../config/ood_groups.ts";

/** Label of the near-OOD average (OpenOOD's term). */
export const NEAR_OOD_LABEL = "Near-OOD";
/** Label of the far-OOD average (OpenOOD's term). */
export const FAR_OOD_LABEL = "Far-OOD";
/** Label of the average over every OOD set of the table (the paper's "Average"). */
export const AVERAGE_LABEL = "Average";

/** One summary block: its label and the sets it averages. */
export interface SummaryBlock {
  label: string;
  sets: string[];
}

/**
 * Near-OOD and Far-OOD (with `groups`), then Average over `datasets`. A group naming a set the
 * table does not show is a RangeError (the config and flag parsers report it to the user first).
 */
export function summaryBlocks(datasets: readonly string[], groups?: OodGroups): SummaryBlock[] {
  const out: SummaryBlock[] = [];
  if (groups) {
    const problem = oodGroupsProblem(groups, datasets);
    if (problem) throw new RangeError(`OOD groups: ${problem}`);
    out.push({ label: NEAR_OOD_LABEL, sets: [...groups.near] });
    out.push({ label: FAR_OOD_LABEL, sets: [...groups.far] });
  }
  out.push({ label: AVERAGE_LABEL, sets: [...datasets] });
  return out;
}
