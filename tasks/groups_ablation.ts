/**
 * `deno task groups-ablation`: the paper's Table 2 (appendix B.2). MOS with the groups of taxonomy
 * levels -3..6 under three grouping strategies: taxonomy, feature clustering (k-means on per-class
 * mean training features, K = the taxonomy's count at that level) and random grouping (K equal
 * groups): 10 levels x 3 strategies = 30 group heads. Writes table2.{csv,md} (optionally beside
 * the paper's values), group_counts.{csv,md} (our K per level beside the paper's) and
 * fig_table2.svg. Every head is reused when its manifest matches, so reruns resume.
 *
 * @module
 */
import { STRATEGIES, type Strategy } from "../lib/config/ablation_experiment.ts";
import { linePanelsSpec, type LinePoint } from "../lib/figures/line_panels.ts";
import { groupCountsTable, table2, type Table2Entry } from "../lib/tables/ablation_tables.ts";
import { defaultPaperDir, PAPER_FILES, parsePaperTable2 } from "../lib/tables/paper_reference.ts";
import { renderCsv, renderMarkdown } from "../lib/tables/render.ts";
import { renderTerminal } from "../lib/tables/terminal.ts";
import { type FlagValues, listFlag, runTask, type TaskSpec } from "./_shared/cli.ts";
import { writeReport } from "./_shared/report_stage.ts";
import { withResultDir } from "./_shared/result_dir.ts";
import {
  ablationInputs,
  commonFlags,
  datasetLabel,
  DEMO_NUM_CLASSES,
  DEMO_SUBTITLE,
  demoSets,
  intListFlag,
  loadConfig,
  METRIC_LABELS,
  paperComparable,
  realSets,
  runSettings,
  seconds,
} from "./_ablation/common.ts";
import { writeFigure } from "./_ablation/figures.ts";
import {
  checkK,
  checkTaxonomyLabelSpace,
  classMeansCached,
  describeGroups,
  labelSpaceOf,
  loadTaxonomy,
  STRATEGY_NAMES,
  strategyGroups,
} from "./_ablation/groupings.ts";
import { type HeadResult, jobContext, trainAndScore } from "./_ablation/heads.ts";

export const SPEC: TaskSpec = {
  name: "groups-ablation",
  summary:
    "Table 2: MOS at taxonomy levels -3..6 with taxonomy / feature clustering / random groups.",
  usage: "deno task groups-ablation [--demo] [--levels LIST] [--strategies LIST] [--data DIR] " +
    "[--out DIR] [--steps N] [--no-compare]",
  flags: {
    ...commonFlags("experiments/groups_ablation.yaml"),
    levels: { type: "string", help: "LIST  taxonomy levels, e.g. -3,0,6 (default: the config's)" },
    strategies: {
      type: "string",
      help: "LIST  taxonomy,clustering,random (default: the config's)",
    },
    hierarchy: { type: "string", help: "FILE  class hierarchy TSV (default: the config's)" },
    "no-compare": { type: "boolean", help: "do not put the paper's values beside ours" },
  },
  notes: [
    "Heads go to <out>/heads/level<L>_<strategy>, scores to <out>/scores/...; finished ones are reused.",
    "--demo runs on the seeded synthetic benchmark (ImageNet-1k label space) with fewer steps.",
  ],
};

function levelName(level: number): string {
  return `level${level}`;
}

async function main(values: FlagValues): Promise<void> {
  const t0 = performance.now();
  const cfg = await loadConfig(values, "groups_ablation");
  const run = runSettings(values, cfg);
  const log = (m: string) => console.error(`groups-ablation: ${m}`);
  const levels = intListFlag(values, "levels") ?? cfg.levels;
  const strategies = listFlag(values, "strategies", STRATEGIES, cfg.strategies) as Strategy[];
  const hierarchy = (values.hierarchy as string | undefined) ?? cfg.hierarchy;

  // Every grouping input is validated before any data is touched or any head trained.
  const taxonomy = await loadTaxonomy(levels, hierarchy);
  const counts = levels.map((level) => {
    const g = taxonomy.levels.get(level)!;
    return { level, numGroups: g.groups.length, detail: describeGroups(g) };
  });
  const countsTable = groupCountsTable(counts);

  // The label space and every K are checked before --out is created: the synthetic benchmark
  // always has the ImageNet-1k label space, real data its training set's.
  const real = run.demo
    ? null
    : await realSets((values.data as string | undefined) ?? cfg.dataRoot, cfg.sets);
  const C = real ? await labelSpaceOf(real.train) : DEMO_NUM_CLASSES;
  if (strategies.includes("taxonomy")) checkTaxonomyLabelSpace(C, real?.train ?? "--demo");
  for (const c of counts) {
    if (strategies.some((s) => s !== "taxonomy")) checkK(c.numGroups, C, `level ${c.level}: K`);
  }
  const inputs = ablationInputs(values, {
    hierarchy,
    data: real ? [{ root: (values.data as string | undefined) ?? cfg.dataRoot, sets: real }] : [],
  });

  const done = await withResultDir(run.out, { purpose: SPEC.name, inputs }, async (dir) => {
    for (const c of counts) log(`level ${c.level}: K = ${c.numGroups}`);
    const sets = real ?? await demoSets(`${run.out}/features`, {
      seed: run.seed,
      dim: run.dim,
      trainPerClass: run.trainPerClass,
    }, log);
    let classMeans;
    if (strategies.includes("clustering")) {
      log(`per-class mean training features -> ${run.out}/class_means`);
      classMeans = await classMeansCached(sets.train, C, `${run.out}/class_means`);
    }
    const jobs: { level: number; strategy: Strategy; groups: number[][] }[] = [];
    for (const level of levels) {
      const tax = taxonomy.levels.get(level)!;
      for (const strategy of strategies) {
        const groups = await strategyGroups(strategy, tax.groups.length, {
          numClasses: C,
          taxonomy: tax,
          classMeans,
          seed: cfg.groupingSeed,
          kmeansRestarts: cfg.kmeansRestarts,
          threads: run.threads,
        });
        jobs.push({ level, strategy, groups });
      }
    }

    const results: { job: (typeof jobs)[number]; r: HeadResult }[] = [];
    const context = jobContext(run, cfg.fprConvention, sets, log);
    for (const [i, job] of jobs.entries()) {
      const name = `${levelName(job.level)}_${job.strategy}`;
      log(`[${i + 1}/${jobs.length}] ${name}: K = ${job.groups.length}`);
      const r = await trainAndScore({ ...context, name, groups: job.groups });
      results.push({ job, r });
    }

    const datasets = sets.ood.map((o) => o.name);
    const entries: Table2Entry[] = results.map(({ job, r }) => ({
      level: job.level,
      numGroups: job.groups.length,
      strategy: job.strategy,
      metrics: r.metrics,
    }));
    const compare = cfg.comparePaper && values["no-compare"] !== true &&
      paperComparable(datasets);
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
    const csvTable = table2(entries, { datasets, paper, layout: "columns", title, notes });
    const mdTable = table2(entries, { datasets, paper, layout: "cells", title, notes });

    const points: LinePoint[] = [];
    for (const { job, r } of results) {
      const series = STRATEGY_NAMES[job.strategy];
      for (const d of datasets) {
        const m = r.metrics[d];
        if (!m) continue;
        const panel = datasetLabel(d);
        points.push({
          x: job.groups.length,
          series,
          panel,
          metric: METRIC_LABELS.auroc,
          value: m.auroc,
        });
        points.push({
          x: job.groups.length,
          series,
          panel,
          metric: METRIC_LABELS.fpr95,
          value: m.fpr95,
        });
      }
    }
    // Tables and figure are staged and land together, Table 2's CSV last.
    const files = await dir.commit(async (w) => {
      await w.text("table2.csv", renderCsv(csvTable));
      await w.text("table2.md", renderMarkdown(mdTable));
      await w.text("group_counts.csv", renderCsv(countsTable));
      await w.text("group_counts.md", renderMarkdown(countsTable));
      await writeFigure(
        w,
        "fig_table2",
        linePanelsSpec({
          points,
          title: "Table 2 as a figure: MOS vs the number of groups K",
          subtitle: sets.synthetic ? DEMO_SUBTITLE : undefined,
          xTitle: "number of groups K (log scale)",
          xLog: true,
          seriesOrder: strategies.map((s) => STRATEGY_NAMES[s]),
          panelOrder: datasets.map(datasetLabel),
          metricOrder: [METRIC_LABELS.auroc, METRIC_LABELS.fpr95],
          legendTitle: "MOS grouping",
        }),
        { png: run.png, log },
      );
    }, ["table2.csv"]);
    files.push((await writeReport(dir, (w) => console.error(`warning: ${w}`))).path);
    return { files, mdTable, results };
  });
  const { files, mdTable, results } = done;

  const trained = results.filter(({ r }) => r.trained).length;
  log(`${results.length} heads (${trained} trained, ${results.length - trained} reused)`);
  log(`wrote ${files.join(", ")} in ${seconds(t0)}`);
  // Compact views last, after a blank line; the full tables are in the .md / .csv files.
  console.log("\n" + renderTerminal(countsTable));
  console.log(renderTerminal(mdTable));
}

if (import.meta.main) await runTask(SPEC, main);
