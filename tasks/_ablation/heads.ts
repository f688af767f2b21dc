/**
 * One ablation configuration = one head: train it (or reuse it when its manifest matches) into
 * `<out>/heads/<name>`, score it into `<out>/scores/<name>` with MSP (flat heads) or MOS (group
 * heads), and read back its ID accuracy and AUROC / FPR95 per OOD set. Reruns reuse every
 * finished head and score directory, so an interrupted ablation resumes where it stopped.
 *
 * @module
 */
import { DataError } from "../../lib/errors.ts";
import { type DatasetMetrics, metricsFor } from "../../lib/tables/ablation_tables.ts";
import { parseMetricsCsv } from "../../lib/metrics/metric_row.ts";
import type { FprConvention } from "../../lib/metrics/fpr95.ts";
import type { HyperRuleOverrides } from "../../lib/train/hyperrule.ts";
import { runScoreStage, runTrainStage } from "../_shared/stages.ts";
import type { ResolvedSets, RunSettings } from "./common.ts";

/** Inputs of {@linkcode trainAndScore}. */
export interface HeadJob {
  /** Directory name of this configuration under heads/ and scores/, e.g. "level-3_taxonomy". */
  name: string;
  /** "flat" (scored with MSP) or the groups (scored with MOS). */
  groups: "flat" | number[][];
  sets: ResolvedSets;
  out: string;
  overrides: HyperRuleOverrides;
  seed: number;
  fprConvention: FprConvention;
  numClasses?: number;
  threads?: number;
  force?: boolean;
  log: (message: string) => void;
}

/** The part of a {@linkcode HeadJob} that every configuration of one run shares. */
export type JobContext = Omit<HeadJob, "name" | "groups">;

/** The shared job fields of a run: its settings, the config's FPR95 rule, the sets and log. */
export function jobContext(
  run: RunSettings,
  fprConvention: FprConvention,
  sets: ResolvedSets,
  log: (message: string) => void,
  numClasses?: number,
): JobContext {
  return {
    sets,
    out: run.out,
    overrides: run.overrides,
    seed: run.seed,
    fprConvention,
    numClasses,
    threads: run.threads,
    force: run.force,
    log,
  };
}

/** What one configuration produced. */
export interface HeadResult {
  name: string;
  method: "msp" | "mos";
  headDir: string;
  scoreDir: string;
  /** ID top-1 accuracy as a fraction, or NaN when the head has none recorded. */
  accuracy: number;
  metrics: DatasetMetrics;
  trained: boolean;
  scored: boolean;
  numGroups: number;
  /** Wall seconds of this configuration in this run (reused stages cost little). */
  seconds: number;
}

/** Trains (or reuses) and scores (or reuses) one head; see the module doc. */
export async function trainAndScore(job: HeadJob): Promise<HeadResult> {
  const t0 = performance.now();
  const headDir = `${job.out}/heads/${job.name}`;
  const scoreDir = `${job.out}/scores/${job.name}`;
  const method = job.groups === "flat" ? "msp" : "mos";
  const train = await runTrainStage({
    features: job.sets.train,
    out: headDir,
    groups: job.groups,
    overrides: job.overrides,
    seed: job.seed,
    val: job.sets.id,
    threads: job.threads,
    numClasses: job.numClasses,
    force: job.force,
    label: job.name,
  });
  const score = await runScoreStage({
    head: headDir,
    id: { name: "id", dir: job.sets.id },
    ood: job.sets.ood,
    methods: [method],
    klVariant: "paper",
    fprConvention: job.fprConvention,
    odinTemperature: 1000,
    out: scoreDir,
    threads: job.threads,
    force: job.force,
  });
  const path = `${scoreDir}/metrics.csv`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    throw new DataError(`${path} is missing after scoring; rerun with --force`);
  }
  const metrics = metricsFor(parseMetricsCsv(text, path), method);
  const acc = train.valAccuracy;
  const result: HeadResult = {
    name: job.name,
    method,
    headDir,
    scoreDir,
    accuracy: acc === null ? NaN : acc,
    metrics,
    trained: !train.skipped,
    scored: !score.skipped,
    numGroups: job.groups === "flat" ? 1 : job.groups.length,
    seconds: (performance.now() - t0) / 1000,
  };
  const what = `${train.skipped ? "reused" : "trained"}, ${
    score.skipped ? "scores reused" : "scored"
  }`;
  const accText = Number.isFinite(result.accuracy)
    ? `, ID accuracy ${(100 * result.accuracy).toFixed(2)}%`
    : "";
  job.log(`${job.name}: ${what}${accText} (${result.seconds.toFixed(1)} s)`);
  return result;
}
