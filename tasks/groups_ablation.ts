/**
 * `deno task groups-ablation`: the paper's Table 2 (appendix B.2). MOS with the groups of taxonomy
 * levels -3..6 under three grouping strategies: taxonomy, feature clustering (k-means on per-class
 * mean training features, K = the taxonomy's count at that level) and random grouping (K equal
 * groups): 10 levels x 3 strategies = 30 group heads. Writes table2.{csv,md} (optionally beside
 * the paper's values), group_counts.{csv,md} (our K per level beside the paper's) and
 * fig_table2.svg. Every head is reused when its manifest matches, so reruns resume.
 *
 * @module
 */
import { STRATEGIES } from "../lib/config/ablation_experiment.ts";
import { groupCountsTable } from "../lib/tables/ablation_tables.ts";
import { defineTask, type FlagValuesOf, listFlag, runTask } from "./_shared/cli.ts";
import { commonFlags, intListFlag, paperComparable } from "./_ablation/common.ts";
import { classMeansCached, loadTaxonomy } from "./_ablation/groupings.ts";
import { jobContext } from "./_ablation/heads.ts";
import { dataInputs, finishAblation, resolveData, setsOf, startAblation } from "./_ablation/run.ts";
import {
  checkTable2Groups,
  groupCountsOf,
  runTable2Jobs,
  table2Jobs,
  table2Views,
  writeTable2,
} from "./_ablation/table2.ts";

export const SPEC = defineTask({
  name: "groups-ablation",
  summary:
    "Table 2: MOS at taxonomy levels -3..6 with taxonomy / feature clustering / random groups.",
  usage: "deno task groups-ablation [--demo] [--levels LIST] [--strategies LIST] [--data DIR] " +
    "[--out DIR] [--steps N] [--no-compare]",
  flags: {
    ...commonFlags("experiments/groups_ablation.yaml"),
    levels: { type: "string", help: "LIST  taxonomy levels, e.g. -3,0,6 (default: the config's)" },
    strategies: {
      type: "string",
      help: "LIST  taxonomy,clustering,random (default: the config's)",
    },
    hierarchy: { type: "string", help: "FILE  class hierarchy TSV (default: the config's)" },
    "no-compare": { type: "boolean", help: "do not put the paper's values beside ours" },
  },
  notes: [
    "Heads go to <out>/heads/level<L>_<strategy>, scores to <out>/scores/...; finished ones are reused.",
    "--demo runs on the seeded synthetic benchmark (ImageNet-1k label space) with fewer steps.",
  ],
});

async function main(values: FlagValuesOf<typeof SPEC.flags>): Promise<void> {
  const a = await startAblation(values, "groups_ablation", SPEC.name);
  const { cfg, run, log } = a;
  const levels = intListFlag(values.levels, "levels") ?? cfg.levels;
  const strategies = listFlag(values, "strategies", STRATEGIES, cfg.strategies);
  const hierarchy = values.hierarchy ?? cfg.hierarchy;

  // Every grouping input is validated before any data is touched or any head trained; the
  // label space and every K before --out is created (the synthetic benchmark always has the
  // ImageNet-1k label space, real data its training set's).
  const taxonomy = await loadTaxonomy(levels, hierarchy);
  const counts = groupCountsOf(taxonomy, levels);
  const countsTable = groupCountsTable(counts);
  const data = await resolveData(a, values);
  const C = data.numClasses;
  checkTable2Groups(strategies, counts, C, data.real?.train ?? "--demo");

  await finishAblation(a, dataInputs(values, data, hierarchy), async (dir) => {
    for (const c of counts) log(`level ${c.level}: K = ${c.numGroups}`);
    const sets = await setsOf(a, data);
    let classMeans;
    if (strategies.includes("clustering")) {
      log(`per-class mean training features -> ${run.out}/class_means`);
      classMeans = await classMeansCached(sets.train, C, `${run.out}/class_means`);
    }
    const jobs = await table2Jobs(taxonomy, levels, strategies, {
      numClasses: C,
      classMeans,
      seed: cfg.groupingSeed,
      kmeansRestarts: cfg.kmeansRestarts,
      threads: run.threads,
    });
    const results = await runTable2Jobs(jobs, jobContext(run, cfg.fprConvention, sets, log));
    const compare = cfg.comparePaper && !values["no-compare"] &&
      paperComparable(sets.ood.map((o) => o.name));
    const views = await table2Views(results, sets, compare);
    const files = await writeTable2(dir, views, countsTable, { ...run, sets, strategies, log });
    const trained = results.filter(({ r }) => r.trained).length;
    return {
      files,
      tables: [countsTable, views.mdTable],
      summary: [`${results.length} heads (${trained} trained, ${results.length - trained} reused)`],
    };
  });
}

if (import.meta.main) await runTask(SPEC, main);
