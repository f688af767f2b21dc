/**
 * `deno task table1` / `deno task table3`: the paper's main experiment on real cached features.
 * Reads experiments/table1.yaml (six feature sets under a data root), trains the flat and the
 * group head, scores the six methods and writes Table 1 and Table 3 beside the paper's numbers.
 * Stages whose manifest matches are reused.
 *
 * @module
 */
import { THREADS_FLAG } from "./_shared/common_flags.ts";
import { DataError } from "../lib/errors.ts";
import type { NamedPath } from "../lib/io/containment.ts";
import { parsePaperExperiment } from "../lib/config/paper_experiment.ts";
import { renderTerminal } from "../lib/tables/terminal.ts";
import { choiceFlag, defineTask, type FlagValuesOf, runTask } from "./_shared/cli.ts";
import { runPaperPipeline } from "./_shared/paper_pipeline.ts";
import { writeReport } from "./_shared/report_stage.ts";
import { withResultDir } from "./_shared/result_dir.ts";

export const SPEC = defineTask({
  name: "table1",
  summary: "Reproduce the paper's Table 1 (and Table 3) from cached BiT features.",
  usage: "deno task table1 [--data DIR] [--config FILE] [--out DIR] [--table 1|3] [--no-compare]",
  flags: {
    data: {
      type: "string",
      help: "DIR   data root holding the six feature sets (default: the config's data_root)",
    },
    config: {
      type: "string",
      default: "experiments/table1.yaml",
      help: "FILE  experiment config",
    },
    out: { type: "string", help: "DIR   output directory (default: the config's out)" },
    table: { type: "string", default: "1", help: "1|3   which table to print" },
    "no-compare": { type: "boolean", help: "do not put the paper's numbers beside ours" },
    threads: THREADS_FLAG,
    force: { type: "boolean", help: "recompute every stage" },
  },
  notes: [
    "Feature sets are made by `deno task extract` (see README, 'Real data').",
    "Without real features, `deno task demo` runs the same pipeline on synthetic data.",
  ],
});

async function checkSet(dir: string, name: string): Promise<void> {
  try {
    await Deno.stat(`${dir}/meta.json`);
  } catch {
    throw new DataError(
      `Feature set "${name}" not found at ${dir}; extract it with \`deno task extract --model ` +
        `bit-s-r101x1.onnx --images <${name} images> --out ${dir}\` (see README, "Real data"), ` +
        "or run `deno task demo` for the synthetic benchmark",
    );
  }
}

async function main(values: FlagValuesOf<typeof SPEC.flags>): Promise<void> {
  const configPath = values.config;
  let text: string;
  try {
    text = await Deno.readTextFile(configPath);
  } catch {
    throw new DataError(`Config not found: ${configPath}; pass --config FILE`);
  }
  const exp = parsePaperExperiment(text, configPath);
  const table = choiceFlag(values, "table", ["1", "3"], "1");
  const threads = values.threads;
  const root = values.data ?? exp.dataRoot;
  const out = values.out ?? exp.out;
  const dir = (name: string) => `${root}/${name}`;
  await checkSet(dir(exp.sets.train), "train");
  await checkSet(dir(exp.sets.id), "id");
  for (const o of exp.sets.ood) await checkSet(dir(o.dir), o.name);

  const inputs: NamedPath[] = [
    { label: "--config", path: configPath },
    { label: values.data === undefined ? `data_root of ${configPath}` : "--data", path: root },
    { label: 'feature set "train"', path: dir(exp.sets.train) },
    { label: 'feature set "id"', path: dir(exp.sets.id) },
    ...exp.sets.ood.map((o) => ({ label: `feature set "${o.name}"`, path: dir(o.dir) })),
  ];
  const result = await withResultDir(
    out,
    { purpose: `table${table}`, inputs },
    async (d) => {
      const tables = await runPaperPipeline({
        train: dir(exp.sets.train),
        id: { name: "id", dir: dir(exp.sets.id) },
        ood: exp.sets.ood.map((o) => ({ name: o.name, dir: dir(o.dir) })),
        dir: d,
        overrides: {
          steps: exp.train.steps,
          batch: exp.train.batch,
          lr: exp.train.lr,
          warmup: exp.train.warmup,
          mixupAlpha: exp.train.mixup,
        },
        seed: exp.train.seed,
        klVariant: exp.score.klVariant,
        fprConvention: exp.score.fprConvention,
        odinTemperature: exp.score.odinTemperature,
        threads,
        force: values.force,
        comparePaper: !values["no-compare"],
        oodGroups: exp.oodGroups,
        log: (m) => console.error(`table${table}: ${m}`),
      });
      const report = await writeReport(d, (w) => console.error(`warning: ${w}`));
      return { ...tables, files: [...tables.files, report.path] };
    },
  );
  console.error(`table${table}: wrote ${result.files.join(", ")}`);
  // The compact view last, after a blank line; the full table is in the .md / .csv files.
  console.log("\n" + renderTerminal(table === "1" ? result.table1 : result.table3));
}

if (import.meta.main) await runTask(SPEC, main);
