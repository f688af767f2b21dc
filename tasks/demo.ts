/**
 * `deno task demo`: the whole pipeline on the embedded default, a seeded synthetic benchmark on
 * the real ImageNet-1k label space and its 8 super-class groups: generate features -> train the
 * flat and the group head -> score the six methods -> Table 1 and Table 3 in results/demo/.
 *
 * @module
 */
import { DIM_FLAG, THREADS_FLAG } from "./_shared/common_flags.ts";
import { renderTerminal, TERMINAL_WIDTH, wrapText } from "../lib/tables/terminal.ts";
import { defineTask, type FlagValuesOf, runTask } from "./_shared/cli.ts";
import { runPaperPipeline } from "./_shared/paper_pipeline.ts";
import { writeReport } from "./_shared/report_stage.ts";
import { withResultDir } from "./_shared/result_dir.ts";
import { DEFAULT_DEMO_CONFIG, readDemoConfig } from "./_shared/demo_config.ts";
import { inversionNotesOf } from "./_shared/inversion_notes.ts";
import { writeSyntheticSets } from "./_shared/synthetic_sets.ts";

export const SPEC = defineTask({
  name: "demo",
  summary: "Run the MOS pipeline end to end on a seeded synthetic benchmark (ImageNet-1k labels).",
  usage: "deno task demo [--out DIR] [--seed N] [--steps N] [--dim D] [--force]",
  flags: {
    out: { type: "string", default: "results/demo", help: "DIR   output directory" },
    seed: {
      type: "number",
      min: 0,
      integer: true,
      default: 0,
      help: "N   seed of the data, sampling and mixup",
    },
    steps: {
      type: "number",
      min: 1,
      integer: true,
      default: 2000,
      help: "N   training steps per head (HyperRule schedule rescaled; the full rule is 10000)",
    },
    dim: DIM_FLAG,
    "train-per-class": {
      type: "number",
      min: 1,
      integer: true,
      default: 30,
      help: "N   training samples per class",
    },
    threads: THREADS_FLAG,
    config: {
      type: "string",
      help: "FILE  near-OOD / far-OOD groups of the OOD sets (default: experiments/demo.yaml)",
    },
    force: { type: "boolean", help: "recompute every stage" },
  },
  notes: [
    "The data are synthetic: the numbers show the pipeline working, not the paper's results.",
  ],
});

async function main(values: FlagValuesOf<typeof SPEC.flags>): Promise<void> {
  const t0 = performance.now();
  const { out, seed, steps, dim, threads } = values;
  const trainPerClass = values["train-per-class"];
  const log = (m: string) => console.error(`demo: ${m}`);
  const config = await readDemoConfig(values.config ?? DEFAULT_DEMO_CONFIG);

  // No inputs: the benchmark is generated under --out, which is locked for the whole run.
  const result = await withResultDir(out, { purpose: "demo", inputs: [] }, async (dir) => {
    log(`generating the synthetic benchmark (seed ${seed}, D ${dim}) -> ${out}/features`);
    const sets = await writeSyntheticSets(`${out}/features`, { seed, dim, trainPerClass });
    if (sets.reused) log("  reused (manifest matches)");
    const tables = await runPaperPipeline({
      train: sets.train,
      id: { name: "id", dir: sets.id },
      ood: sets.ood.map((s) => ({ name: s.name, dir: s.dir })),
      dir,
      overrides: { steps },
      seed,
      klVariant: "paper",
      fprConvention: "paper",
      odinTemperature: 1000,
      threads,
      force: values.force,
      oodGroups: config.oodGroups,
      title: "synthetic demo data",
      notes: [
        "SYNTHETIC DATA: seeded features on the ImageNet-1k label space; OOD sets are named for " +
        "how they were made, not after the paper's datasets.",
      ],
      log,
    });
    const report = await writeReport(dir, (w) => console.error(`warning: ${w}`));
    return { ...tables, files: [...tables.files, report.path] };
  });
  log(`wrote ${result.files.join(", ")} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  // The table goes last, after a blank line, so that the stage lines (and a first run's npm
  // download lines) on stderr come before it; the full tables are in the files above.
  console.log("\n" + renderTerminal(result.table1));
  // Why a method ranks a set above ID, from the computed metrics (only for AUROC < 50).
  const scores = [`${out}/scores/flat/metrics.csv`, `${out}/scores/group/metrics.csv`];
  for (const note of await inversionNotesOf(scores)) {
    console.log(wrapText(note, TERMINAL_WIDTH, "", "  ").join("\n"));
  }
  const closing = `These numbers come from SYNTHETIC data (${out}/features/README.txt says how ` +
    "each set was made); they show the pipeline working, not the paper's results.";
  console.log(wrapText(closing, TERMINAL_WIDTH).join("\n"));
}

if (import.meta.main) await runTask(SPEC, main);
