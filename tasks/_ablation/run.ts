/**
 * The frame every ablation main runs in: read the experiment config and merge the flags over it,
 * resolve the real feature sets (checked) or plan the synthetic benchmark, then, in the locked
 * result directory, run the task's work, add the HTML report, and print the closing lines and
 * the compact tables. Each task supplies only what differs: its jobs, tables and figures.
 *
 * @module
 */
import type { AblationConfigs, AblationKind } from "../../lib/config/ablation_experiment.ts";
import type { NamedPath } from "../../lib/io/containment.ts";
import type { Table } from "../../lib/tables/render.ts";
import { renderTerminal } from "../../lib/tables/terminal.ts";
import { writeReport } from "../_shared/report_stage.ts";
import { type ResultDir, withResultDir } from "../_shared/result_dir.ts";
import {
  ablationInputs,
  type CommonValues,
  DEMO_NUM_CLASSES,
  demoSets,
  loadConfig,
  realSets,
  type ResolvedSets,
  type RunSettings,
  runSettings,
  seconds,
} from "./common.ts";
import { labelSpaceOf } from "./groupings.ts";

/** One ablation run: its config, settings merged from the flags, and its log. */
export interface Ablation<K extends AblationKind> {
  /** The task's name, as in `deno task NAME`: prefixes every log line, names the lock. */
  task: string;
  cfg: AblationConfigs[K];
  run: RunSettings;
  log: (message: string) => void;
  /** performance.now() at the start, for the closing line. */
  t0: number;
}

/** Reads the config named by `--config` and merges the common flags over it. */
export async function startAblation<K extends AblationKind>(
  values: CommonValues,
  kind: K,
  task: string,
): Promise<Ablation<K>> {
  const t0 = performance.now();
  const cfg = await loadConfig(values, kind);
  const run = runSettings(values, cfg);
  return { task, cfg, run, log: (m) => console.error(`${task}: ${m}`), t0 };
}

/** Where an ablation's data come from: real sets (checked to exist) or the synthetic benchmark. */
export interface AblationData {
  /** The real sets, null with `--demo`. */
  real: ResolvedSets | null;
  /** The data root of the real sets (`--data` or the config's). */
  root: string;
  /** The label space: the training set's, or the synthetic benchmark's ImageNet-1k. */
  numClasses: number;
}

/** The ablations with one data root (backbones has one per backbone). */
export type SingleRootKind = Exclude<AblationKind, "backbones">;

/** Resolves and checks the real sets under `--data` (or the config's root) unless `--demo`. */
export async function resolveData(
  a: Ablation<SingleRootKind>,
  values: CommonValues,
): Promise<AblationData> {
  const root = values.data ?? a.cfg.dataRoot;
  const real = a.run.demo ? null : await realSets(root, a.cfg.sets);
  return { real, root, numClasses: real ? await labelSpaceOf(real.train) : DEMO_NUM_CLASSES };
}

/** The inputs `--out` must stay out of: the config, the hierarchy if any, the real data. */
export function dataInputs(
  values: CommonValues & { hierarchy?: string },
  data: AblationData,
  hierarchy?: string,
): NamedPath[] {
  return ablationInputs(values, {
    hierarchy,
    data: data.real ? [{ root: data.root, sets: data.real }] : [],
  });
}

/** The real sets, or the synthetic benchmark generated (or reused) under `<out>/features`. */
export async function setsOf(
  a: Ablation<AblationKind>,
  data: AblationData,
): Promise<ResolvedSets> {
  return data.real ?? await demoSets(`${a.run.out}/features`, {
    seed: a.run.seed,
    dim: a.run.dim,
    trainPerClass: a.run.trainPerClass,
  }, a.log);
}

/** What a task's work returns to {@linkcode finishAblation}. */
export interface AblationOutput {
  /** The files it committed (the report is added after them). */
  files: string[];
  /** Printed on stdout, in order, after a blank line: the compact views of its tables. */
  tables: Table[];
  /** Logged before the closing "wrote ..." line. */
  summary?: string[];
}

/**
 * Runs `work` in the locked result directory `--out` (checked against `inputs`), adds the HTML
 * report, then logs the summary and the files written and prints the tables.
 */
export async function finishAblation(
  a: Ablation<AblationKind>,
  inputs: readonly NamedPath[],
  work: (dir: ResultDir) => Promise<AblationOutput>,
): Promise<void> {
  const done = await withResultDir(a.run.out, { purpose: a.task, inputs }, async (dir) => {
    const output = await work(dir);
    const report = await writeReport(dir, (w) => console.error(`warning: ${w}`));
    return { ...output, files: [...output.files, report.path] };
  });
  for (const line of done.summary ?? []) a.log(line);
  a.log(`wrote ${done.files.join(", ")} in ${seconds(a.t0)}`);
  // Compact views last, after a blank line; the full tables are in the .md / .csv files.
  done.tables.forEach((t, i) => console.log((i === 0 ? "\n" : "") + renderTerminal(t)));
}
