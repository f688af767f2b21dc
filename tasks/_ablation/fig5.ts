/**
 * The parts of `deno task num-classes` (the paper's Figures 2, 5 and 9) past the common frame:
 * the (setting, C, images per class) configurations, checked before anything runs; per distinct
 * (C, n) a class subset with a flat head (MSP) and a group head (MOS); the table and the figures.
 *
 * @module
 */
import type { ClassSetting } from "../../lib/config/ablation_experiment.ts";
import { UsageError } from "../../lib/errors.ts";
import { linePanelsSpec, type LinePoint } from "../../lib/figures/line_panels.ts";
import { FLAT_LABEL, GROUP_LABEL } from "../../lib/figures/style.ts";
import { type AblationEntry, ablationTable } from "../../lib/tables/ablation_tables.ts";
import { renderCsv, renderMarkdown, type Table } from "../../lib/tables/render.ts";
import type { ResultDir } from "../_shared/result_dir.ts";
import { datasetLabel, DEMO_SUBTITLE, METRIC_LABELS, type ResolvedSets } from "./common.ts";
import { metricPoints, writeFigure } from "./figures.ts";
import { type HeadResult, type JobContext, trainAndScore } from "./heads.ts";
import { type ClassSampler, restrictGroups, sampleClasses, writeClassSubset } from "./subsets.ts";

/** The two training-set settings, in figure order. */
export const SETTINGS: readonly ClassSetting[] = ["per_class", "fixed_total"];

const SETTING_LABELS: Record<ClassSetting, string> = {
  per_class: "fixed images per class",
  fixed_total: "fixed total images",
};

/** One configuration: a setting, a number of classes C and the training images per class n. */
export interface ClassConfig {
  setting: ClassSetting;
  C: number;
  n: number;
}

/**
 * Every (setting, C) configuration with its n (`perClass`, or floor(`total` / C)), checked: C
 * from 2 to the training set's `numClasses`, n at least 1, and with `--demo` at most the
 * synthetic training images per class. Each mistake is a UsageError naming the flag and the fix.
 */
export function classConfigs(o: {
  settings: readonly ClassSetting[];
  counts: readonly number[];
  perClass: number;
  total: number;
  numClasses: number;
  /** The synthetic images per class with --demo; undefined for real data. */
  demoTrainPerClass?: number;
}): ClassConfig[] {
  const N = o.numClasses;
  for (const c of o.counts) {
    if (c < 2 || c > N) {
      throw new UsageError(
        `--classes: ${c} is not a valid number of classes; use integers from 2 to ${N} ` +
          `(the training set's classes)`,
      );
    }
  }
  const configs: ClassConfig[] = [];
  for (const setting of o.settings) {
    for (const C of o.counts) {
      const n = setting === "per_class" ? o.perClass : Math.floor(o.total / C);
      if (n < 1) {
        throw new UsageError(
          `--total-images ${o.total} gives no image per class at C = ${C}; raise it to at least ${C}`,
        );
      }
      if (o.demoTrainPerClass !== undefined && n > o.demoTrainPerClass) {
        throw new UsageError(
          `${n} images per class (${setting}, C = ${C}) exceed the ${o.demoTrainPerClass} ` +
            `synthetic training images per class; raise --train-per-class or lower --per-class / ` +
            `--total-images`,
        );
      }
      configs.push({ setting, C, n });
    }
  }
  return configs;
}

/** The key of a configuration's subset and heads: both settings share `c<C>_n<n>`. */
export function configKey(c: { C: number; n: number }): string {
  return `c${c.C}_n${c.n}`;
}

/** The two heads of one (C, n) and the number of groups of its group head. */
export interface ClassHeads {
  flat: HeadResult;
  mos: HeadResult;
  K: number;
}

/**
 * Runs each distinct (C, n) once (C = 50 in the paper is in both settings): samples C classes,
 * writes (or reuses) the subset, trains and scores the flat head and the head over the taxonomy
 * groups restricted to the sampled classes.
 */
export async function runClassConfigs(
  configs: readonly ClassConfig[],
  o: {
    sets: ResolvedSets;
    sampler: ClassSampler;
    sampleSeed: number;
    taxonomy: number[][];
    context: (sets: ResolvedSets, numClasses: number) => JobContext;
    out: string;
    log: (m: string) => void;
  },
): Promise<Map<string, ClassHeads>> {
  const done = new Map<string, ClassHeads>();
  const unique = [...new Set(configs.map(configKey))];
  for (const c of configs) {
    const key = configKey(c);
    if (done.has(key)) continue;
    o.log(`[${done.size + 1}/${unique.length}] C = ${c.C}, ${c.n} images per class`);
    const classes = sampleClasses(o.sampler, c.C);
    const subset = await writeClassSubset({
      train: o.sets.train,
      id: o.sets.id,
      classes,
      perClass: c.n,
      sampler: o.sampler,
      seed: o.sampleSeed,
      out: `${o.out}/subsets/${key}`,
    });
    if (subset.reused) o.log(`  subset ${key} reused (manifest matches)`);
    const { groups } = restrictGroups(o.taxonomy, classes);
    const common = o.context({ ...o.sets, train: subset.train, id: subset.id }, c.C);
    const flat = await trainAndScore({ ...common, name: `${key}_flat`, groups: "flat" });
    const mos = await trainAndScore({ ...common, name: `${key}_mos`, groups });
    done.set(key, { flat, mos, K: groups.length });
  }
  return done;
}

/** The table's rows and the figures' points (per setting) of every configuration. */
export function classViews(
  configs: readonly ClassConfig[],
  done: ReadonlyMap<string, ClassHeads>,
  datasets: readonly string[],
): { entries: AblationEntry[]; points: Record<ClassSetting, LinePoint[]> } {
  const entries: AblationEntry[] = [];
  const points: Record<ClassSetting, LinePoint[]> = { per_class: [], fixed_total: [] };
  for (const c of configs) {
    const r = done.get(configKey(c))!;
    for (const [method, head, K] of [["MSP", r.flat, 1], ["MOS", r.mos, r.K]] as const) {
      entries.push({
        keys: [
          SETTING_LABELS[c.setting],
          String(c.C),
          String(c.n),
          method,
          String(K),
          100 * head.accuracy,
        ],
        metrics: head.metrics,
      });
      const series = method === "MSP" ? FLAT_LABEL : GROUP_LABEL;
      points[c.setting].push(...metricPoints(c.C, series, head.metrics, datasets));
    }
  }
  return { entries, points };
}

/** The table of Figures 2, 5, 9. */
export function classTable(
  entries: AblationEntry[],
  datasets: string[],
  o: {
    perClass: number;
    total: number;
    demo: boolean;
    /** The settings run (default both): the fixed-total sentence only when it ran. */
    settings?: readonly ClassSetting[];
  },
): Table {
  const totalNote = o.settings && !o.settings.includes("fixed_total")
    ? ""
    : ` Fixed total: ${o.total} images, floor(${o.total} / C) per class (the paper: 35,000).`;
  return ablationTable({
    title: `MSP vs MOS as the number of classes C grows (Figures 2, 5, 9)${
      o.demo ? " (synthetic demo data)" : ""
    }`,
    keyColumns: ["Setting", "C", "Train images per class", "Method", "K", "ID accuracy (%)"],
    entries,
    datasets,
    notes: [
      `Fixed images per class: ${o.perClass} per class (the paper: 700).${totalNote}`,
      "MOS groups: the taxonomy's 8 super-classes restricted to the sampled classes (K groups).",
      ...(o.demo ? [`SYNTHETIC DATA: ${DEMO_SUBTITLE}.`] : []),
    ],
  });
}

/** Stages the table and Figures 2 and 5 (per_class) and 9 (fixed_total), the table's CSV last. */
export function writeClassFigures(
  dir: ResultDir,
  table: Table,
  points: Record<ClassSetting, LinePoint[]>,
  o: {
    settings: readonly ClassSetting[];
    datasets: readonly string[];
    perClass: number;
    total: number;
    demo: boolean;
    png: boolean;
    log: (m: string) => void;
    /** Log-scaled x axis (class counts spanning 50..21,843); default linear. */
    xLog?: boolean;
  },
): Promise<string[]> {
  return dir.commit(async (w) => {
    await w.text("num_classes.csv", renderCsv(table));
    await w.text("num_classes.md", renderMarkdown(table));
    const common = {
      xTitle: "number of classes C",
      panelOrder: o.datasets.map(datasetLabel),
      metricOrder: [METRIC_LABELS.auroc, METRIC_LABELS.fpr95],
      legendTitle: "head (score)",
      subtitle: o.demo ? DEMO_SUBTITLE : undefined,
      ...(o.xLog ? { xLog: true } : {}),
    };
    const figure = (name: string, spec: Record<string, unknown>) =>
      writeFigure(w, name, spec, { png: o.png, log: o.log });
    if (o.settings.includes("per_class")) {
      await figure(
        "fig2",
        linePanelsSpec({
          ...common,
          points: points.per_class.filter((p) => p.series === FLAT_LABEL),
          title:
            `Figure 2: MSP as the number of classes grows (${o.perClass} train images per class)`,
          seriesOrder: [FLAT_LABEL],
        }),
      );
      await figure(
        "fig5",
        linePanelsSpec({
          ...common,
          points: points.per_class,
          title:
            `Figure 5: MSP vs MOS as the number of classes grows (${o.perClass} images per class)`,
          seriesOrder: [FLAT_LABEL, GROUP_LABEL],
        }),
      );
    }
    if (o.settings.includes("fixed_total")) {
      await figure(
        "fig9",
        linePanelsSpec({
          ...common,
          points: points.fixed_total,
          title: `Figure 9: MSP vs MOS with a fixed total of ${o.total} training images`,
          seriesOrder: [FLAT_LABEL, GROUP_LABEL],
        }),
      );
    }
  }, ["num_classes.csv"]);
}
