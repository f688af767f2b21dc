/**
 * What the four ablation tasks (groups-ablation, num-classes, grouping, backbones) share: their
 * common flags, reading the experiment YAML, choosing real feature sets or the synthetic demo
 * benchmark, and the labels of data sets and metrics in tables and figures.
 *
 * @module
 */
import { THREADS_FLAG } from "../_shared/common_flags.ts";
import {
  type AblationConfigs,
  type AblationKind,
  parseAblationExperiment,
  type SetNames,
  type TrainConfig,
} from "../../lib/config/ablation_experiment.ts";
import { DataError, UsageError } from "../../lib/errors.ts";
import type { NamedPath } from "../../lib/io/containment.ts";
import { PAPER_DATASET_LABELS, PAPER_DATASETS } from "../../lib/tables/paper_reference.ts";
import type { HyperRuleOverrides } from "../../lib/train/hyperrule.ts";
import { defineFlags, type FlagValuesOf } from "../_shared/cli.ts";
import { writeSyntheticSets } from "../_shared/synthetic_sets.ts";

/** Flags every ablation task takes. */
export function commonFlags(configDefault: string) {
  return defineFlags({
    config: { type: "string", default: configDefault, help: "FILE  experiment config (YAML)" },
    demo: {
      type: "boolean",
      help: "run on the seeded synthetic benchmark instead of real features (config's demo: sizes)",
    },
    data: { type: "string", help: "DIR   data root of the feature sets (default: the config's)" },
    out: {
      type: "string",
      help: "DIR   output directory (default: the config's out, or demo.out with --demo)",
    },
    steps: {
      type: "number",
      min: 1,
      integer: true,
      help: "N   training steps per head (default: config / HyperRule)",
    },
    seed: {
      type: "number",
      min: 0,
      integer: true,
      max: 2 ** 53 - 1,
      help: "N   training seed (default: the config's)",
    },
    dim: {
      type: "number",
      min: 2,
      integer: true,
      max: 65536,
      help: "D   --demo: feature dimension (default: the config's)",
    },
    "train-per-class": {
      type: "number",
      min: 1,
      integer: true,
      help: "N   --demo: synthetic training samples per class (default: the config's)",
    },
    png: { type: "boolean", help: "also write a PNG beside every SVG figure" },
    threads: THREADS_FLAG,
    force: { type: "boolean", help: "retrain and rescore every head" },
  });
}

/** The parsed values of {@linkcode commonFlags} (each task's values have these and more). */
export type CommonValues = FlagValuesOf<ReturnType<typeof commonFlags>>;

/** Reads and parses the experiment YAML named by `--config`. */
export async function loadConfig<K extends AblationKind>(
  values: CommonValues,
  kind: K,
): Promise<AblationConfigs[K]> {
  const path = values.config;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    throw new DataError(`Config not found: ${path}; pass --config FILE`);
  }
  return parseAblationExperiment(text, path, kind);
}

/** A resolved family of feature sets: train, ID test and OOD sets. */
export interface ResolvedSets {
  train: string;
  id: string;
  ood: { name: string; dir: string }[];
  /** True for the synthetic benchmark. */
  synthetic: boolean;
}

/** Run settings common to the ablation tasks, from flags over config. */
export interface RunSettings {
  demo: boolean;
  out: string;
  overrides: HyperRuleOverrides;
  seed: number;
  threads?: number;
  force: boolean;
  png: boolean;
  dim: number;
  trainPerClass: number;
}

/** Training overrides of a config section. */
export function overridesOf(train: TrainConfig): HyperRuleOverrides {
  return {
    steps: train.steps,
    batch: train.batch,
    lr: train.lr,
    warmup: train.warmup,
    mixupAlpha: train.mixup,
  };
}

/**
 * Merges flags over the config: `--demo` switches to the demo's output directory, steps and seed;
 * `--out`, `--steps`, `--seed`, `--dim`, `--train-per-class` override either.
 */
export function runSettings(
  values: CommonValues,
  cfg: AblationConfigs[AblationKind],
): RunSettings {
  const demo = values.demo;
  for (const flag of ["dim", "train-per-class"] as const) {
    if (!demo && values[flag] !== undefined) {
      throw new UsageError(
        `--${flag} only applies with --demo (synthetic data); drop it or add --demo`,
      );
    }
  }
  const overrides = demo ? { steps: cfg.demo.steps } : overridesOf(cfg.train);
  if (values.steps !== undefined) overrides.steps = values.steps;
  return {
    demo,
    out: values.out ?? (demo ? cfg.demo.out : cfg.out),
    overrides,
    seed: values.seed ?? (demo ? cfg.demo.seed : cfg.train.seed),
    threads: values.threads,
    force: values.force,
    png: values.png,
    dim: values.dim ?? cfg.demo.dim,
    trainPerClass: values["train-per-class"] ?? cfg.demo.trainPerClass,
  };
}

/** Throws a `DataError` with the extraction hint when `dir` holds no feature set. */
export async function checkSet(dir: string, name: string): Promise<void> {
  try {
    await Deno.stat(`${dir}/meta.json`);
  } catch {
    throw new DataError(
      `Feature set "${name}" not found at ${dir}; extract it with \`deno task extract\` (see ` +
        `README, "Real data"), pass --data DIR, or add --demo for the synthetic benchmark`,
    );
  }
}

/** The real feature sets named by `sets` under `root`, each checked to exist. */
export async function realSets(root: string, sets: SetNames): Promise<ResolvedSets> {
  const dir = (name: string) => `${root}/${name}`;
  await checkSet(dir(sets.train), "train");
  await checkSet(dir(sets.id), "id");
  for (const o of sets.ood) await checkSet(dir(o.dir), o.name);
  return {
    train: dir(sets.train),
    id: dir(sets.id),
    ood: sets.ood.map((o) => ({ name: o.name, dir: dir(o.dir) })),
    synthetic: false,
  };
}

/** The synthetic benchmark under `root` (generated once, reused while its manifest matches). */
export async function demoSets(
  root: string,
  o: { seed: number; dim: number; trainPerClass: number },
  log: (m: string) => void,
): Promise<ResolvedSets> {
  log(`synthetic benchmark (seed ${o.seed}, D ${o.dim}, ${o.trainPerClass}/class) -> ${root}`);
  const sets = await writeSyntheticSets(root, o);
  if (sets.reused) log("  reused (manifest matches)");
  return {
    train: sets.train,
    id: sets.id,
    ood: sets.ood.map((s) => ({ name: s.name, dir: s.dir })),
    synthetic: true,
  };
}

/**
 * The paths an ablation reads, which its `--out` must not equal, contain or lie inside: the
 * config, the class hierarchy (when the task takes one), and each real data root with its sets.
 * The synthetic benchmark is an output (written under `--out`), not an input.
 */
export function ablationInputs(
  values: CommonValues & { hierarchy?: string },
  o: { hierarchy?: string; data?: { root: string; sets: ResolvedSets; label?: string }[] },
): NamedPath[] {
  const config = values.config;
  const inputs: NamedPath[] = [{ label: "--config", path: config }];
  if (o.hierarchy !== undefined) {
    const label = values.hierarchy === undefined ? `hierarchy of ${config}` : "--hierarchy";
    inputs.push({ label, path: o.hierarchy });
  }
  for (const d of o.data ?? []) {
    const label = d.label ?? (values.data === undefined ? `data_root of ${config}` : "--data");
    inputs.push({ label, path: d.root });
    inputs.push({ label: 'feature set "train"', path: d.sets.train });
    inputs.push({ label: 'feature set "id"', path: d.sets.id });
    for (const s of d.sets.ood) inputs.push({ label: `feature set "${s.name}"`, path: s.dir });
  }
  return inputs;
}

/** Label space of the synthetic benchmark: the real ImageNet-1k classes. */
export const DEMO_NUM_CLASSES = 1000;

/** Display name of a data set: the paper's spelling for its four sets, else the key. */
export function datasetLabel(name: string): string {
  return PAPER_DATASET_LABELS[name] ?? name;
}

/** Whether every data set is one of the paper's four (so paper values can sit beside ours). */
export function paperComparable(datasets: readonly string[]): boolean {
  return datasets.length > 0 && datasets.every((d) => PAPER_DATASETS.includes(d));
}

/** Row labels of the two metrics in figures. */
export const METRIC_LABELS = Object.freeze({ auroc: "AUROC (%) ↑", fpr95: "FPR95 (%) ↓" });

/** The subtitle every demo figure and table carries. */
export const DEMO_SUBTITLE = "synthetic demo data (not the paper's data sets)";

/** Parses a comma-separated list of integers given to flag `name` (UsageError naming it). */
export function intListFlag(raw: string | undefined, name: string): number[] | undefined {
  if (raw === undefined) return undefined;
  const items = raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (items.length === 0) throw new UsageError(`--${name} is empty; give integers, e.g. 1,2,3`);
  return [
    ...new Set(items.map((s) => {
      const v = Number(s);
      if (!/^[+-]?\d+$/.test(s) || !Number.isSafeInteger(v)) {
        throw new UsageError(`--${name}: "${s}" is not an integer`);
      }
      return v;
    })),
  ];
}

/** Formats elapsed seconds for the closing line. */
export function seconds(t0: number): string {
  return `${((performance.now() - t0) / 1000).toFixed(1)} s`;
}
