/**
 * Hand-made head results for the unit tests of the ablation modules (no training, no files).
 *
 * @module
 */
import type { DatasetMetrics } from "../../lib/tables/ablation_tables.ts";
import type { ResolvedSets } from "./common.ts";
import type { HeadResult } from "./heads.ts";

/** A head result with the given name, accuracy (fraction) and metrics. */
export function fakeHead(
  name: string,
  accuracy: number,
  metrics: DatasetMetrics,
  numGroups = 1,
): HeadResult {
  return {
    name,
    method: numGroups === 1 ? "msp" : "mos",
    headDir: `/x/heads/${name}`,
    scoreDir: `/x/scores/${name}`,
    accuracy,
    metrics,
    trained: true,
    scored: true,
    numGroups,
    seconds: 0,
  };
}

/** Resolved sets with two OOD sets, "far" and "near". */
export function fakeSets(synthetic: boolean): ResolvedSets {
  return {
    train: "/d/train",
    id: "/d/id",
    ood: [{ name: "far", dir: "/d/far" }, { name: "near", dir: "/d/near" }],
    synthetic,
  };
}
