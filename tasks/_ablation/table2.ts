/**
 * The parts of `deno task groups-ablation` (the paper's Table 2) past the common frame: the group
 * count of every taxonomy level, the checks of every K against the label space, the 30 (level x
 * strategy) heads, and Table 2 with its group-count table and figure.
 *
 * @module
 */
import type { Strategy } from "../../lib/config/ablation_experiment.ts";
import { linePanelsSpec, type LinePoint } from "../../lib/figures/line_panels.ts";
import { type GroupCount, table2, type Table2Entry } from "../../lib/tables/ablation_tables.ts";
import {
  defaultPaperDir,
  PAPER_FILES,
  parsePaperTable2,
} from "../../lib/tables/paper_reference.ts";
import { renderCsv, renderMarkdown, type Table } from "../../lib/tables/render.ts";
import type { ResultDir } from "../_shared/result_dir.ts";
import { datasetLabel, DEMO_SUBTITLE, METRIC_LABELS, type ResolvedSets } from "./common.ts";
import { metricPoints, writeFigure } from "./figures.ts";
import {
  checkK,
  checkTaxonomyLabelSpace,
  describeGroups,
  STRATEGY_NAMES,
  strategyGroups,
  type StrategyInputs,
  type Taxonomy,
} from "./groupings.ts";
import { type HeadResult, type JobContext, trainAndScore } from "./heads.ts";

/** The number of groups of each requested level, with a description of its groups. */
export function groupCountsOf(taxonomy: Taxonomy, levels: readonly number[]): GroupCount[] {
  return levels.map((level) => {
    const g = taxonomy.levels.get(level)!;
    return { level, numGroups: g.groups.length, detail: describeGroups(g) };
  });
}

/**
 * Checks every grouping against the label space before anything runs: taxonomy groups need the
 * ImageNet-1k classes (`trainLabel` names the training set, or --demo), clustering and random
 * groups a K from 2 to the number of classes.
 */
export function checkTable2Groups(
  strategies: readonly Strategy[],
  counts: readonly GroupCount[],
  numClasses: number,
  trainLabel: string,
): void {
  if (strategies.includes("taxonomy")) checkTaxonomyLabelSpace(numClasses, trainLabel);
  for (const c of counts) {
    if (strategies.some((s) => s !== "taxonomy")) {
      checkK(c.numGroups, numClasses, `level ${c.level}: K`);
    }
  }
}

/** One head of Table 2: a level, a strategy and the groups it gives. */
export interface Table2Job {
  level: number;
  strategy: Strategy;
  groups: number[][];
}

/** The groups of every (level, strategy), levels outer, in the order given. */
export async function table2Jobs(
  taxonomy: Taxonomy,
  levels: readonly number[],
  strategies: readonly Strategy[],
  inputs: Omit<StrategyInputs, "taxonomy">,
): Promise<Table2Job[]> {
  const jobs: Table2Job[] = [];
  for (const level of levels) {
    const tax = taxonomy.levels.get(level)!;
    for (const strategy of strategies) {
      const groups = await strategyGroups(strategy, tax.groups.length, {
        ...inputs,
        taxonomy: tax,
      });
      jobs.push({ level, strategy, groups });
    }
  }
  return jobs;
}

/** Trains and scores every job in turn (finished heads are reused), logging its K. */
export async function runTable2Jobs(
  jobs: readonly Table2Job[],
  context: JobContext,
): Promise<{ job: Table2Job; r: HeadResult }[]> {
  const results: { job: Table2Job; r: HeadResult }[] = [];
  for (const [i, job] of jobs.entries()) {
    const name = `level${job.level}_${job.strategy}`;
    context.log(`[${i + 1}/${jobs.length}] ${name}: K = ${job.groups.length}`);
    results.push({ job, r: await trainAndScore({ ...context, name, groups: job.groups }) });
  }
  return results;
}

/** Table 2 twice (CSV layout with columns, Markdown layout with cells) and its figure's points. */
export interface Table2Views {
  csvTable: Table;
  mdTable: Table;
  points: LinePoint[];
}

/**
 * Builds Table 2 from the results: the paper's values beside ours when `compare` (the paper's
 * four OOD sets, not synthetic), the ID accuracy of every head in a note, and the line points
 * of AUROC / FPR95 against K per strategy.
 */
export async function table2Views(
  results: readonly { job: Table2Job; r: HeadResult }[],
  sets: ResolvedSets,
  compare: boolean,
): Promise<Table2Views> {
  const datasets = sets.ood.map((o) => o.name);
  const entries: Table2Entry[] = results.map(({ job, r }) => ({
    level: job.level,
    numGroups: job.groups.length,
    strategy: job.strategy,
    metrics: r.metrics,
  }));
  const paper = compare
    ? parsePaperTable2(
      await Deno.readTextFile(`${defaultPaperDir()}/${PAPER_FILES.table2}`),
      PAPER_FILES.table2,
    )
    : undefined;
  const notes: string[] = [];
  if (sets.synthetic) {
    notes.push(
      `SYNTHETIC DATA: ${DEMO_SUBTITLE}; the paper's values are not shown beside these numbers.`,
    );
  }
  const accuracy = results.map(({ r }) =>
    `${r.name} ${Number.isFinite(r.accuracy) ? (100 * r.accuracy).toFixed(2) : "-"}`
  );
  notes.push(`ID top-1 accuracy (%): ${accuracy.join(", ")}.`);
  const title = `Table 2: MOS with different numbers of groups K and grouping strategies${
    sets.synthetic ? " (synthetic demo data)" : ""
  }`;
  const points = results.flatMap(({ job, r }) =>
    metricPoints(job.groups.length, STRATEGY_NAMES[job.strategy], r.metrics, datasets)
  );
  return {
    csvTable: table2(entries, { datasets, paper, layout: "columns", title, notes }),
    mdTable: table2(entries, { datasets, paper, layout: "cells", title, notes }),
    points,
  };
}

/** Stages Table 2, the group counts and the figure together, Table 2's CSV last. */
export function writeTable2(
  dir: ResultDir,
  views: Table2Views,
  countsTable: Table,
  o: {
    sets: ResolvedSets;
    strategies: readonly Strategy[];
    png: boolean;
    log: (m: string) => void;
  },
): Promise<string[]> {
  const datasets = o.sets.ood.map((s) => s.name);
  return dir.commit(async (w) => {
    await w.text("table2.csv", renderCsv(views.csvTable));
    await w.text("table2.md", renderMarkdown(views.mdTable));
    await w.text("group_counts.csv", renderCsv(countsTable));
    await w.text("group_counts.md", renderMarkdown(countsTable));
    await writeFigure(
      w,
      "fig_table2",
      linePanelsSpec({
        points: views.points,
        title: "Table 2 as a figure: MOS vs the number of groups K",
        subtitle: o.sets.synthetic ? DEMO_SUBTITLE : undefined,
        xTitle: "number of groups K (log scale)",
        xLog: true,
        seriesOrder: o.strategies.map((s) => STRATEGY_NAMES[s]),
        panelOrder: datasets.map(datasetLabel),
        metricOrder: [METRIC_LABELS.auroc, METRIC_LABELS.fpr95],
        legendTitle: "MOS grouping",
      }),
      { png: o.png, log: o.log },
    );
  }, ["table2.csv"]);
}
