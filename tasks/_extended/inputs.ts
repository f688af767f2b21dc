/**
 * table1-extended's inputs: the synthetic benchmark (with its synthetic layers) or the real
 * feature sets of an experiment config, resolved from the flags and checked before `--out`
 * exists.
 *
 * @module
 */
import { DataError } from "../../lib/errors.ts";
import { parsePaperExperiment } from "../../lib/config/paper_experiment.ts";
import type { Params } from "../../lib/detectors/registry.ts";
import type { NamedPath } from "../../lib/io/containment.ts";
import type { FprConvention } from "../../lib/metrics/fpr95.ts";
import type { OodGroups } from "../../lib/tables/ood_groups.ts";
import { metricsConventionFlag } from "../_shared/metrics_convention_flag.ts";
import { writeSyntheticSets } from "../_shared/synthetic_sets.ts";
import type { ExtendedFlags } from "./flags.ts";
import { log } from "./log.ts";

/** The evaluation protocols: the paper's (defaults, full ID set) and held-out grid search. */
export type Protocol = "paper" | "heldout";

/** A named feature set. */
export interface SetRef {
  name: string;
  dir: string;
}

/** Where the run's feature sets are and how its heads are trained and scored. */
export interface Inputs {
  train: string;
  id: string;
  ood: SetRef[];
  oodVal?: string;
  synthetic: boolean;
  seed: number;
  overrides: { steps?: number; batch?: number; lr?: number; warmup?: number; mixupAlpha?: number };
  fprConvention: FprConvention;
  odinTemperature: number;
  /** Default parameters by method key that the config sets (ODIN's temperature). */
  methodDefaults?: Record<string, Params>;
  /** Near-OOD / far-OOD sets of the config (experiments/table1.yaml or demo.yaml). */
  oodGroups?: OodGroups;
}

/** Sizes and seed of the synthetic benchmark, from the flags (checked before --out exists). */
export interface DemoOptions {
  seed: number;
  dim: number;
  trainPerClass: number;
  valPerClass: number;
  oodCount: number;
  steps: number;
  fprConvention: FprConvention;
  /** Near-OOD / far-OOD groups of experiments/demo.yaml. */
  oodGroups?: OodGroups;
}

/** The demo options of the flags. */
export function demoOptions(values: ExtendedFlags): DemoOptions {
  return {
    seed: values.seed ?? 0,
    dim: values.dim,
    trainPerClass: values["train-per-class"],
    valPerClass: values["val-per-class"],
    oodCount: values["ood-count"],
    steps: values.steps ?? 2000,
    fprConvention: metricsConventionFlag(values, "paper"),
  };
}

/** Writes (or reuses) the synthetic benchmark and its layers under `<out>/features`. */
export async function demoInputs(o: DemoOptions, out: string, threads?: number): Promise<Inputs> {
  const { seed, dim, trainPerClass, valPerClass, oodCount } = o;
  const root = `${out}/features`;
  log(`synthetic benchmark (seed ${seed}, D ${dim}) -> ${root}`);
  const sets = await writeSyntheticSets(
    root,
    { seed, dim, trainPerClass, valPerClass, oodCount, oodVal: true },
    { layers: { threads } },
  );
  return {
    train: sets.train,
    id: sets.id,
    ood: sets.ood.map((s) => ({ name: s.name, dir: s.dir })),
    oodVal: sets.oodVal,
    synthetic: true,
    seed,
    overrides: { steps: o.steps },
    oodGroups: o.oodGroups,
    fprConvention: o.fprConvention,
    odinTemperature: 1000,
    methodDefaults: { odin: { temperature: 1000 } },
  };
}

/** The real feature sets of `--config` (and `--data`, `--ood-val`), each checked to exist. */
export async function realInputs(
  values: ExtendedFlags,
): Promise<Inputs & { read: NamedPath[] }> {
  const configPath = values.config;
  let text: string;
  try {
    text = await Deno.readTextFile(configPath);
  } catch {
    throw new DataError(`Config not found: ${configPath}; pass --config FILE or use --demo`);
  }
  const exp = parsePaperExperiment(text, configPath);
  const root = values.data ?? exp.dataRoot;
  const dir = (name: string) => `${root}/${name}`;
  const check = async (d: string, what: string) => {
    try {
      await Deno.stat(`${d}/meta.json`);
    } catch {
      throw new DataError(
        `Feature set "${what}" not found at ${d}; extract it with \`deno task extract\` (README, ` +
          `"Real data"), or run with --demo for the synthetic benchmark`,
      );
    }
  };
  await check(dir(exp.sets.train), "train");
  await check(dir(exp.sets.id), "id");
  for (const o of exp.sets.ood) await check(dir(o.dir), o.name);
  const oodVal = values["ood-val"];
  if (oodVal) await check(oodVal, "--ood-val");
  const read: NamedPath[] = [
    { label: "--config", path: configPath },
    { label: values.data === undefined ? `data_root of ${configPath}` : "--data", path: root },
    { label: 'feature set "train"', path: dir(exp.sets.train) },
    { label: 'feature set "id"', path: dir(exp.sets.id) },
    ...exp.sets.ood.map((o) => ({ label: `feature set "${o.name}"`, path: dir(o.dir) })),
    ...(oodVal ? [{ label: "--ood-val", path: oodVal }] : []),
  ];
  return {
    read,
    train: dir(exp.sets.train),
    id: dir(exp.sets.id),
    ood: exp.sets.ood.map((o) => ({ name: o.name, dir: dir(o.dir) })),
    oodVal,
    synthetic: false,
    seed: values.seed ?? exp.train.seed,
    overrides: {
      steps: values.steps ?? exp.train.steps,
      batch: exp.train.batch,
      lr: exp.train.lr,
      warmup: exp.train.warmup,
      mixupAlpha: exp.train.mixup,
    },
    fprConvention: metricsConventionFlag(values, exp.score.fprConvention),
    odinTemperature: exp.score.odinTemperature,
    methodDefaults: { odin: { temperature: exp.score.odinTemperature } },
    oodGroups: exp.oodGroups,
  };
}
