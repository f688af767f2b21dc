/**
 * `deno task grouping`: Figure 6 of the MOS paper. MSP (flat softmax) against MOS with K = 8
 * groups from the taxonomy, from k-means on per-class mean training features, and at random,
 * each with its in-distribution accuracy. From the same heads: Figure 11 (ROC curves of MSP vs
 * MOS per OOD set) and Figures 12 / 13 (mean "others" probability per group for the ID images of
 * each group and for each OOD set). Finished heads are reused.
 *
 * @module
 */
import { STRATEGIES } from "../lib/config/ablation_experiment.ts";
import { defineTask, type FlagValuesOf, listFlag, runTask } from "./_shared/cli.ts";
import { commonFlags } from "./_ablation/common.ts";
import {
  fig11Data,
  fig6Rows,
  fig6Table,
  othersData,
  runFig6Heads,
  taxonomyAt,
  writeFig6,
} from "./_ablation/fig6.ts";
import { checkK, checkTaxonomyLabelSpace, classMeansCached } from "./_ablation/groupings.ts";
import { jobContext } from "./_ablation/heads.ts";
import { levelWithGroups, loadLabelSpace } from "../lib/grouping/label_space.ts";
import { dataInputs, finishAblation, resolveData, setsOf, startAblation } from "./_ablation/run.ts";

export const SPEC = defineTask({
  name: "grouping",
  summary: "Figure 6: MSP vs MOS with taxonomy / feature clustering / random groups at K = 8 " +
    "(plus Figures 11, 12, 13).",
  usage: "deno task grouping [--demo] [--k N] [--strategies LIST] [--data DIR] [--out DIR]",
  flags: {
    ...commonFlags("experiments/grouping.yaml"),
    k: {
      type: "number",
      integer: true,
      min: 2,
      help: "N   number of groups (default: the config's, 8)",
    },
    strategies: {
      type: "string",
      help: "LIST  taxonomy,clustering,random (default: the config's)",
    },
    hierarchy: {
      type: "string",
      help: "FILE  class hierarchy TSV, for taxonomy groups at K other than 8",
    },
    "label-space": {
      type: "string",
      default: "imagenet1k",
      help: "imagenet1k|imagenet21k|FILE.tsv  label space of the taxonomy groups (see " +
        "`deno task taxonomy`)",
    },
  },
  notes: [
    "Taxonomy groups need a taxonomy level with exactly K groups (K = 8 is the paper's 8 " +
    "super-classes).",
    "Figures 12 / 13 are drawn for the taxonomy head when K <= 16.",
  ],
});

async function main(values: FlagValuesOf<typeof SPEC.flags>): Promise<void> {
  const a = await startAblation(values, "grouping", SPEC.name);
  const { cfg, run, log } = a;
  const k = values.k ?? cfg.k;
  const strategies = listFlag(values, "strategies", STRATEGIES, cfg.strategies);
  const hierarchy = values.hierarchy ?? cfg.hierarchy;

  // Validate K, the taxonomy and the data before generating data or training anything.
  const data = await resolveData(a, values);
  const C = data.numClasses;
  checkK(k, C, "--k");
  const space = values["label-space"];
  const paperSpace = space === "imagenet1k";
  if (strategies.includes("taxonomy") && data.real && paperSpace) {
    checkTaxonomyLabelSpace(C, data.real.train);
  }
  const taxonomy = !strategies.includes("taxonomy")
    ? undefined
    : paperSpace
    ? await taxonomyAt(k, hierarchy)
    : levelWithGroups(await loadLabelSpace(space), k, C, {
      label: "--k",
      hint: "pick one of these or drop taxonomy from --strategies",
    });

  await finishAblation(a, dataInputs(values, data, hierarchy), async (dir) => {
    const sets = await setsOf(a, data);
    const classMeans = strategies.includes("clustering")
      ? await classMeansCached(sets.train, C, `${run.out}/class_means`)
      : undefined;
    const heads = await runFig6Heads(k, strategies, {
      numClasses: C,
      taxonomy,
      classMeans,
      seed: cfg.groupingSeed,
      kmeansRestarts: cfg.kmeansRestarts,
      threads: run.threads,
    }, jobContext(run, cfg.fprConvention, sets, log));
    const rows = fig6Rows(heads);
    const table = fig6Table(rows, k, sets);
    // Curves and others probabilities are read before staging, so staging holds only writes.
    const roc = await fig11Data(heads, sets);
    const others = await othersData(heads, taxonomy, { k, sets, threads: run.threads, log });
    const files = await writeFig6(dir, {
      k,
      rows,
      table,
      sets,
      roc,
      others,
      taxonomy,
      ...run,
      log,
    });
    return { files, tables: [table] };
  });
}

if (import.meta.main) await runTask(SPEC, main);
