/**
 * `deno task backbones`: Figure 7 of the MOS paper. For each backbone's feature sets (one data
 * root per backbone, e.g. BiT-S-R50x1 ... R101x3), train a flat head (MSP) and a group head over
 * the 8 taxonomy super-classes (MOS); report ID accuracy (flat vs group) and AUROC / FPR95 per
 * OOD set. With `--demo`, the "backbones" are the synthetic benchmark at several feature
 * dimensions. Finished heads are reused.
 *
 * @module
 */
import { UsageError } from "../lib/errors.ts";
import { readClassTable, taxonomyGroups } from "../lib/io/classes.ts";
import { defineTask, type FlagValuesOf, runTask } from "./_shared/cli.ts";
import { ablationInputs, commonFlags, intListFlag } from "./_ablation/common.ts";
import {
  demoBackbones,
  fig7Views,
  realBackbones,
  runBackbones,
  writeFig7,
} from "./_ablation/fig7.ts";
import { jobContext } from "./_ablation/heads.ts";
import { finishAblation, startAblation } from "./_ablation/run.ts";

export const SPEC = defineTask({
  name: "backbones",
  summary: "Figure 7: MSP vs MOS and flat vs group accuracy across backbones (feature sets).",
  usage: "deno task backbones [--demo] [--backbones LIST] [--dims LIST] [--out DIR]",
  flags: {
    ...commonFlags("experiments/backbones.yaml"),
    backbones: {
      type: "string",
      help: "LIST  names of the config's backbones to run, in order (default: all)",
    },
    dims: { type: "string", help: "LIST  --demo: feature dimensions standing in for backbones" },
  },
  notes: [
    "Each backbone's data_root holds the same set names (the config's sets:).",
    "--data does not apply: every backbone has its own data_root in the config.",
  ],
});

async function main(values: FlagValuesOf<typeof SPEC.flags>): Promise<void> {
  const a = await startAblation(values, "backbones", SPEC.name);
  const { cfg, run, log } = a;
  if (values.data !== undefined) {
    throw new UsageError(
      "--data does not apply to backbones: give each backbone's data_root in the config",
    );
  }
  if (!run.demo && values.dims !== undefined) {
    throw new UsageError("--dims only applies with --demo; drop it or add --demo");
  }

  // Resolve (and check) every backbone's sets before training anything.
  const backbones = run.demo
    ? demoBackbones(intListFlag(values.dims, "dims") ?? cfg.demo.dims)
    : await realBackbones(cfg, values.backbones, values.config);
  const inputs = ablationInputs(values, {
    data: backbones.filter((e) => e.sets).map((e) => ({
      root: e.dataRoot!,
      sets: e.sets!,
      label: `data_root of backbone "${e.name}" in ${values.config}`,
    })),
  });
  await finishAblation(a, inputs, async (dir) => {
    const groups = taxonomyGroups(await readClassTable());
    const results = await runBackbones(backbones, groups, {
      run,
      context: (sets) => jobContext(run, cfg.fprConvention, sets, log),
      log,
    });
    const views = fig7Views(results, run.demo);
    const files = await writeFig7(dir, results, views, { ...run, log });
    return { files, tables: [views.table] };
  });
}

if (import.meta.main) await runTask(SPEC, main);
