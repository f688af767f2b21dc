/**
 * `deno task scale-demo`'s work: the demo's pipeline on the ImageNet-21k label space (21,843
 * classes in BiT-M head order, level 0 of lib/grouping/label_space.ts as the group head's
 * groups). One seeded synthetic benchmark over all 21k classes, the flat and the group head, the
 * paper's six methods (Table 1, Table 3: the paper pipeline), the post-hoc detectors of the
 * registry scored with the same two heads (table1-extended's runner), and Figure 5 from 50 to
 * 21,843 classes: MSP vs MOS on nested class subsets (the num-classes ablation's code), the
 * full-space point taken from the Table 1 heads instead of training them twice. Every stage is
 * reused while its manifest matches.
 *
 * @module
 */
import type { OodGroups } from "../../lib/config/ood_groups.ts";
import { DETECTORS } from "../../lib/detectors/registry.ts";
import { DataError, UsageError } from "../../lib/errors.ts";
import { type LabelSpace, loadLabelSpace } from "../../lib/grouping/label_space.ts";
import { readHead } from "../../lib/io/head.ts";
import { parseMetricsCsv } from "../../lib/metrics/metric_row.ts";
import { metricsFor } from "../../lib/tables/ablation_tables.ts";
import type { Table } from "../../lib/tables/render.ts";
import type { HyperRuleOverrides } from "../../lib/train/hyperrule.ts";
import {
  classConfigs,
  type ClassHeads,
  classTable,
  classViews,
  configKey,
  runClassConfigs,
  writeClassFigures,
} from "../_ablation/fig5.ts";
import type { ResolvedSets } from "../_ablation/common.ts";
import type { HeadResult } from "../_ablation/heads.ts";
import { type ClassSampler, classSampler, sampleClasses } from "../_ablation/subsets.ts";
import { runPaperPipeline } from "../_shared/paper_pipeline.ts";
import type { ResultDir } from "../_shared/result_dir.ts";
import { writeSyntheticSets } from "../_shared/synthetic_sets.ts";
import { runExtended } from "../_extended/run.ts";

/** The label space of the scale demo. */
export const SCALE_LABEL_SPACE = "imagenet21k";

/** Default class counts of Figure 5 (the last one: the whole 21k space). */
export const DEFAULT_SUBSETS: readonly number[] = [50, 200, 1000, 5000, 21843];

/** Options of {@linkcode runScaleDemo}. */
export interface ScaleDemoOptions {
  seed: number;
  dim: number;
  trainPerClass: number;
  valPerClass: number;
  /**
   * Classes with ID test images: the first V of Figure 5's nested class order, so every subset
   * up to V classes has all its ID test images (at most C).
   */
  valClasses: number;
  oodCount: number;
  overrides: HyperRuleOverrides;
  /** Figure 5's class counts, ascending, each 2..C (checked by {@linkcode checkSubsets}). */
  subsets: number[];
  /** Post-hoc detector keys for the extended table (none: no extended table). */
  detectors: readonly string[];
  threads?: number;
  force?: boolean;
  oodGroups?: OodGroups;
  log: (message: string) => void;
}

/** What the run printed tables come from. */
export interface ScaleDemoResult {
  table1: Table;
  extended: Table | null;
  fig5: Table;
  files: string[];
  numClasses: number;
}

/**
 * The post-hoc detectors run at 21k by default: every registry detector beyond the paper's six
 * and multi-layer Mahalanobis except those that need an OOD-val set or synthetic layers, and the
 * three too slow or too large at this size.
 */
export function defaultDetectors(): string[] {
  return DETECTORS.filter((d) => !d.needs.oodVal && !d.needs.layers && !SLOW_AT_21K.includes(d.key))
    .map((d) => d.key);
}

/**
 * Detectors left out at 21k classes: fDBD (87 s on 2 cores) and Relation for the 10-minute
 * budget; OpenMax for memory (its per-class mean activation vectors are C x C, 1.9 GB in float32,
 * and took the run's peak from about 6 to 8.9 GB, plus 40 s).
 */
const SLOW_AT_21K: readonly string[] = ["fdbd", "relation", "openmax"];

/**
 * Figure 5's class counts sorted and deduplicated; a count outside 2..numClasses is a
 * `UsageError` naming `--subsets`.
 */
export function checkSubsets(counts: readonly number[], numClasses: number): number[] {
  for (const c of counts) {
    if (!Number.isInteger(c) || c < 2 || c > numClasses) {
      throw new UsageError(
        `--subsets: ${c} is not a valid number of classes; use integers from 2 to ${numClasses}`,
      );
    }
  }
  return [...new Set(counts)].sort((a, b) => a - b);
}

/** Loads the 21k label space (its classes, hierarchy and level 0). */
export function scaleLabelSpace(): Promise<LabelSpace> {
  return loadLabelSpace(SCALE_LABEL_SPACE);
}

/** Runs the scale demo in the locked result directory `dir`; see the module doc. */
export async function runScaleDemo(
  dir: ResultDir,
  space: LabelSpace,
  o: ScaleDemoOptions,
): Promise<ScaleDemoResult> {
  const out = dir.out;
  const C = space.classes.length;
  const { log } = o;
  // The nested order of Figure 5's subsets, also the ID test classes (its first valClasses).
  const sampler = classSampler(C, o.seed);
  log(
    `generating the synthetic benchmark on ${space.id} (${C} classes, seed ${o.seed}, D ${o.dim})`,
  );
  const sets = await writeSyntheticSets(`${out}/features`, {
    seed: o.seed,
    dim: o.dim,
    trainPerClass: o.trainPerClass,
    valPerClass: o.valPerClass,
    valClasses: o.valClasses < C ? sampleClasses(sampler, o.valClasses) : undefined,
    oodCount: o.oodCount,
    labelSpace: { id: space.id, groups: space.level0Groups, names: space.level0Names },
  });
  if (sets.reused) log("  reused (manifest matches)");
  const ood = sets.ood.map((s) => ({ name: s.name, dir: s.dir }));
  const common = { seed: o.seed, threads: o.threads, force: o.force };
  const tables = await runPaperPipeline({
    ...common,
    train: sets.train,
    id: { name: "id", dir: sets.id },
    ood,
    dir,
    overrides: o.overrides,
    groups: space.level0Groups,
    klVariant: "paper",
    fprConvention: "paper",
    odinTemperature: 1000,
    oodGroups: o.oodGroups,
    title: `synthetic demo data, ${space.id} (${C} classes)`,
    notes: [
      `SYNTHETIC DATA: seeded features on the ${space.id} label space (${C} classes, level-0 ` +
      `groups ${space.level0Names.join(", ")}); OOD sets are named for how they were made.`,
      `KL Matching is optimistic here: its paper variant builds each class's template from the ` +
      `evaluated ID images of that class, and at ${o.valPerClass} per class (the paper: 50) a ` +
      `template is nearly the image it scores.`,
    ],
    log,
  });
  const heads = { flat: `${out}/heads/flat`, group: `${out}/heads/group` };
  let extended: Table | null = null;
  const files = [...tables.files];
  if (o.detectors.length > 0) {
    log(`scoring ${o.detectors.length} post-hoc detectors with the same heads`);
    const run = await runExtended(dir, {
      inputs: {
        train: sets.train,
        id: sets.id,
        ood,
        synthetic: true,
        seed: o.seed,
        overrides: o.overrides,
        fprConvention: "paper",
        odinTemperature: 1000,
        methodDefaults: { odin: { temperature: 1000 } },
        oodGroups: o.oodGroups,
      },
      protocol: "paper",
      ci: null,
      nSeeds: 1,
      threads: o.threads,
      split: { seed: 0 },
      requested: true,
      methods: [...o.detectors],
      force: o.force ?? false,
      heads,
    });
    extended = run.markdown;
    files.push(...run.files);
  }
  const fig5 = await runFig5(dir, space, {
    ...o,
    sets: { train: sets.train, id: sets.id, ood, synthetic: true },
    heads,
    sampler,
  });
  files.push(...fig5.files);
  return { table1: tables.table1, extended, fig5: fig5.table, files, numClasses: C };
}

/** Figure 5 over the class counts; the whole space reuses the Table 1 heads and scores. */
async function runFig5(
  dir: ResultDir,
  space: LabelSpace,
  o: ScaleDemoOptions & {
    sets: ResolvedSets;
    heads: { flat: string; group: string };
    sampler: ClassSampler;
  },
): Promise<{ table: Table; files: string[] }> {
  const C = space.classes.length;
  const perClass = o.trainPerClass;
  const settings = ["per_class"] as const;
  const configs = classConfigs({
    settings,
    counts: o.subsets,
    perClass,
    total: perClass * o.subsets[0],
    numClasses: C,
    demoTrainPerClass: o.trainPerClass,
  });
  o.log(`Figure 5: MSP vs MOS at C = ${o.subsets.join(", ")}`);
  const fig5Out = `${dir.out}/fig5`;
  const done = await runClassConfigs(configs.filter((c) => c.C < C), {
    sets: o.sets,
    sampler: o.sampler,
    sampleSeed: o.seed,
    taxonomy: space.level0Groups,
    context: (sets, numClasses) => ({
      sets,
      out: fig5Out,
      overrides: o.overrides,
      seed: o.seed,
      fprConvention: "paper",
      numClasses,
      threads: o.threads,
      force: o.force,
      log: o.log,
    }),
    out: fig5Out,
    log: o.log,
  });
  for (const c of configs.filter((c) => c.C === C)) {
    done.set(configKey(c), await fullSpaceHeads(dir.out, o.heads, space.level0Groups.length));
  }
  const datasets = o.sets.ood.map((s) => s.name);
  const { entries, points } = classViews(configs, done, datasets);
  const table = classTable(entries, datasets, { perClass, total: 0, demo: true, settings });
  const files = await writeClassFigures(dir, table, points, {
    settings,
    datasets,
    perClass,
    total: 0,
    demo: true,
    png: true,
    log: o.log,
    xLog: true,
  });
  return { table, files };
}

/** The Table 1 heads as Figure 5's point at the whole label space (MSP flat, MOS group). */
async function fullSpaceHeads(
  out: string,
  heads: { flat: string; group: string },
  K: number,
): Promise<ClassHeads> {
  const result = async (kind: "flat" | "group", method: "msp" | "mos"): Promise<HeadResult> => {
    const scoreDir = `${out}/scores/${kind}`;
    const path = `${scoreDir}/metrics.csv`;
    const text = await Deno.readTextFile(path).catch(() => {
      throw new DataError(`${path} is missing after scoring; rerun with --force`);
    });
    const acc = (await readHead(heads[kind])).info.train?.val_accuracy;
    return {
      name: kind,
      method,
      headDir: heads[kind],
      scoreDir,
      accuracy: typeof acc === "number" ? acc : NaN,
      metrics: metricsFor(parseMetricsCsv(text, path), method),
      trained: false,
      scored: false,
      numGroups: method === "msp" ? 1 : K,
      seconds: 0,
    };
  };
  return { flat: await result("flat", "msp"), mos: await result("group", "mos"), K };
}
