/**
 * `deno task demo`: the whole pipeline on the embedded default, a seeded synthetic benchmark on
 * the real ImageNet-1k label space and its 8 super-class groups: generate features -> train the
 * flat and the group head -> score the six methods -> Table 1 and Table 3 in results/demo/.
 *
 * @module
 */
import { renderTerminal, TERMINAL_WIDTH, wrapText } from "../lib/tables/terminal.ts";
import { type FlagValues, numberFlag, runTask, type TaskSpec } from "./_shared/cli.ts";
import { runPaperPipeline } from "./_shared/paper_pipeline.ts";
import { writeReport } from "./_shared/report_stage.ts";
import { withResultDir } from "./_shared/result_dir.ts";
import { DEFAULT_DEMO_CONFIG, readDemoConfig } from "./_shared/demo_config.ts";
import { inversionNotesOf } from "./_shared/inversion_notes.ts";
import { writeSyntheticSets } from "./_shared/synthetic_sets.ts";

export const SPEC: TaskSpec = {
  name: "demo",
  summary: "Run the MOS pipeline end to end on a seeded synthetic benchmark (ImageNet-1k labels).",
  usage: "deno task demo [--out DIR] [--seed N] [--steps N] [--dim D] [--force]",
  flags: {
    out: { type: "string", default: "results/demo", help: "DIR   output directory" },
    seed: { type: "string", default: "0", help: "N   seed of the data, sampling and mixup" },
    steps: {
      type: "string",
      default: "2000",
      help: "N   training steps per head (HyperRule schedule rescaled; the full rule is 10000)",
    },
    dim: { type: "string", default: "256", help: "D   feature dimension" },
    "train-per-class": { type: "string", default: "30", help: "N   training samples per class" },
    threads: { type: "string", help: "N   onnxruntime threads (default: all cores)" },
    config: {
      type: "string",
      help: "FILE  near-OOD / far-OOD groups of the OOD sets (default: experiments/demo.yaml)",
    },
    force: { type: "boolean", help: "recompute every stage" },
  },
  notes: [
    "The data are synthetic: the numbers show the pipeline working, not the paper's results.",
  ],
};

async function main(values: FlagValues): Promise<void> {
  const t0 = performance.now();
  const out = values.out as string;
  const seed = numberFlag(values, "seed", { min: 0, integer: true, max: 2 ** 53 - 1 })!;
  const steps = numberFlag(values, "steps", { min: 1, integer: true })!;
  const dim = numberFlag(values, "dim", { min: 2, integer: true, max: 65536 })!;
  const trainPerClass = numberFlag(values, "train-per-class", { min: 1, integer: true })!;
  const threads = numberFlag(values, "threads", { min: 1, integer: true });
  const log = (m: string) => console.error(`demo: ${m}`);
  const config = await readDemoConfig((values.config as string | undefined) ?? DEFAULT_DEMO_CONFIG);

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
      force: values.force === true,
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
