/**
 * `deno task num-classes`: Figures 2, 5 and 9 of the MOS paper. For each number of classes C
 * (50, 200, ..., 1000) sample C classes, train a flat head (MSP) and a group head over the
 * taxonomy's super-classes restricted to those classes (MOS), and score both on the ID test images
 * of the C classes and on every OOD set. Two training-set settings: n images per class (Figure 5,
 * the paper's 700) and a fixed total (appendix B.1 / Figure 9, the paper's 35,000 = 35,000 / C per
 * class). Figure 2 is MSP alone in the per-class setting. Finished heads are reused.
 *
 * @module
 */
import { readClassTable, taxonomyGroups } from "../lib/io/classes.ts";
import { defineTask, type FlagValuesOf, listFlag, runTask } from "./_shared/cli.ts";
import { commonFlags, intListFlag } from "./_ablation/common.ts";
import {
  classConfigs,
  classTable,
  classViews,
  runClassConfigs,
  SETTINGS,
  writeClassFigures,
} from "./_ablation/fig5.ts";
import { checkTaxonomyLabelSpace } from "./_ablation/groupings.ts";
import { jobContext } from "./_ablation/heads.ts";
import { dataInputs, finishAblation, resolveData, setsOf, startAblation } from "./_ablation/run.ts";
import { classSampler } from "./_ablation/subsets.ts";

export const SPEC = defineTask({
  name: "num-classes",
  summary: "Figures 2, 5, 9: MSP vs MOS as the number of in-distribution classes C grows.",
  usage: "deno task num-classes [--demo] [--classes LIST] [--settings LIST] [--per-class N] " +
    "[--total-images N] [--data DIR] [--out DIR]",
  flags: {
    ...commonFlags("experiments/num_classes.yaml"),
    classes: {
      type: "string",
      help: "LIST  numbers of classes C, e.g. 50,200,1000 (default: the config's)",
    },
    settings: {
      type: "string",
      help: "LIST  per_class (Fig 5), fixed_total (Fig 9) (default: the config's)",
    },
    "per-class": {
      type: "number",
      min: 1,
      integer: true,
      help: "N   train images per class, per_class setting",
    },
    "total-images": {
      type: "number",
      min: 1,
      integer: true,
      help: "N   train images in all, fixed_total setting",
    },
    "sample-seed": {
      type: "number",
      min: 0,
      integer: true,
      help: "N   seed of the class and image sampling",
    },
  },
  notes: [
    "Subsets go to <out>/subsets/c<C>_n<n>/{train,id}; heads to <out>/heads/c<C>_n<n>_{flat,mos}.",
    "Groups of a subset: the 8 taxonomy super-classes restricted to its classes (empty ones dropped).",
  ],
});

async function main(values: FlagValuesOf<typeof SPEC.flags>): Promise<void> {
  const a = await startAblation(values, "num_classes", SPEC.name);
  const { cfg, run, log } = a;
  const counts = [...(intListFlag(values.classes, "classes") ?? cfg.classes)].sort((a, b) => a - b);
  // Settings may be spelt with hyphens (per-class) or underscores (per_class).
  const settings = listFlag(
    { settings: values.settings?.replace(/-/g, "_") },
    "settings",
    SETTINGS,
    cfg.settings,
  );
  const perClass = values["per-class"] ?? (run.demo ? cfg.demo.perClass : cfg.perClass);
  const total = values["total-images"] ?? (run.demo ? cfg.demo.totalImages : cfg.totalImages);
  const sampleSeed = values["sample-seed"] ?? cfg.sampleSeed;

  // Validate every configuration before generating data or training anything.
  const data = await resolveData(a, values);
  const N = data.numClasses;
  checkTaxonomyLabelSpace(N, data.real?.train ?? "the synthetic benchmark");
  const configs = classConfigs({
    settings,
    counts,
    perClass,
    total,
    numClasses: N,
    demoTrainPerClass: run.demo ? run.trainPerClass : undefined,
  });

  await finishAblation(a, dataInputs(values, data), async (dir) => {
    const sets = await setsOf(a, data);
    const done = await runClassConfigs(configs, {
      sets,
      sampler: classSampler(N, sampleSeed),
      sampleSeed,
      taxonomy: taxonomyGroups(await readClassTable()),
      context: (subSets, C) => jobContext(run, cfg.fprConvention, subSets, log, C),
      out: run.out,
      log,
    });
    const datasets = sets.ood.map((o) => o.name);
    const { entries, points } = classViews(configs, done, datasets);
    const table = classTable(entries, datasets, { perClass, total, demo: run.demo });
    const files = await writeClassFigures(dir, table, points, {
      settings,
      datasets,
      perClass,
      total,
      demo: run.demo,
      png: run.png,
      log,
    });
    return { files, tables: [table] };
  });
}

if (import.meta.main) await runTask(SPEC, main);
