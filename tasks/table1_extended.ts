/**
 * `deno task table1-extended`: Table 1 for every detector (the paper's six, multi-layer
 * Mahalanobis and every detector of lib/detectors/registry.ts) x every OOD set, in the paper's
 * layout, with optional bootstrap CI columns (`--ci`) and mean +- sd over several trained heads
 * (`--seeds N`), under the paper's protocol (default) or the held-out protocol
 * (`--protocol heldout`, lib/scoring/heldout.ts). On real cached features (experiments/table1.yaml
 * plus `--ood-val DIR`) or on the synthetic benchmark (`--demo`).
 *
 * Stages are reused when their manifest matches (lib/io/stage.ts): heads (runTrainStage) and
 * each detector's scores per protocol and seed (`<out>/<protocol>/seed-<s>/<method>/`). The
 * modules under tasks/_extended/ do the work: inputs, data, layers, plan (from the detector
 * registry), detector_stage, tables, run.
 *
 * @module
 */
import { UsageError } from "../lib/errors.ts";
import { renderTerminal, TERMINAL_WIDTH, wrapText } from "../lib/tables/terminal.ts";
import { choiceFlag, defineTask, listFlag, runTask } from "./_shared/cli.ts";
import { readDemoConfig } from "./_shared/demo_config.ts";
import { inversionNotesOf } from "./_shared/inversion_notes.ts";
import { metricsConventionFlag } from "./_shared/metrics_convention_flag.ts";
import { writeReport } from "./_shared/report_stage.ts";
import { withResultDir } from "./_shared/result_dir.ts";
import { demoInputs, demoOptions, type Protocol, realInputs } from "./_extended/inputs.ts";
import { EXTENDED_FLAGS, type ExtendedFlags } from "./_extended/flags.ts";
import { log } from "./_extended/log.ts";
import { ALL_METHODS } from "./_extended/plan.ts";
import { runExtended } from "./_extended/run.ts";

export const SPEC = defineTask({
  name: "table1-extended",
  summary: "Table 1 for every detector x every OOD set, with CIs, seeds and a held-out protocol.",
  usage: "deno task table1-extended [--demo] [--protocol paper|heldout] [--ci] [--seeds N] " +
    "[--methods LIST] [--data DIR] [--config FILE] [--ood-val DIR] [--out DIR]",
  flags: EXTENDED_FLAGS,
  notes: [
    `Detectors: ${ALL_METHODS.join(", ")}.`,
    "Real data: the six feature sets of experiments/table1.yaml (see `deno task table1`), an",
    "OOD-val set (--ood-val, disjoint from the test sets) and, for multi-layer Mahalanobis,",
    "root.npy and block1..4.npy beside features.npy (extract with --outputs features,root,...).",
  ],
});

async function main(values: ExtendedFlags): Promise<void> {
  const t0 = performance.now();
  const { demo, threads } = values;
  const protocol = choiceFlag<Protocol>(values, "protocol", ["paper", "heldout"], "paper");
  // Checked before anything runs (a bad value, or the two names disagreeing).
  metricsConventionFlag(values, "paper");
  const methods = listFlag(values, "methods", [...ALL_METHODS], [...ALL_METHODS]);
  const out = values.out ?? (demo ? "results/table1-extended-demo" : "results/table1-extended");
  if (!demo && values["ood-val"] === undefined && protocol === "heldout") {
    throw new UsageError(
      "--protocol heldout needs --ood-val DIR (an OOD set disjoint from the test sets) on real " +
        "data; or use --demo",
    );
  }
  // Every flag, the config and the feature sets are checked before --out is created.
  const demoOpts = demo
    ? { ...demoOptions(values), oodGroups: (await readDemoConfig()).oodGroups }
    : undefined;
  const real = demo ? undefined : await realInputs(values);
  const { markdown, files } = await withResultDir(
    out,
    { purpose: SPEC.name, inputs: real?.read ?? [] },
    async (dir) => {
      const run = await runExtended(dir, {
        inputs: real ?? await demoInputs(demoOpts!, out, threads),
        protocol,
        ci: values.ci ? { resamples: values.resamples, seed: values["ci-seed"] } : null,
        nSeeds: values.seeds,
        threads,
        split: { seed: values["split-seed"], count: values["id-val-count"] },
        requested: values.methods !== undefined,
        methods,
        force: values.force,
      });
      const report = await writeReport(dir, (w) => console.error(`warning: ${w}`));
      return { ...run, files: [...run.files, report.path] };
    },
  );
  log(`wrote ${files.join(", ")} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  // The compact view last, after a blank line, so that download and stage lines on stderr
  // do not bury it; the full table is in the .md / .csv files.
  console.log("\n" + renderTerminal(markdown));
  // Demo only: why a method ranks a synthetic set above ID (only for AUROC < 50).
  if (demo) {
    for (const note of await inversionNotesOf([`${out}/${protocol}/metrics.csv`])) {
      console.log(wrapText(note, TERMINAL_WIDTH, "", "  ").join("\n"));
    }
  }
}

if (import.meta.main) await runTask(SPEC, main);
