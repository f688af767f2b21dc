/**
 * `deno task grouping`: Figure 6 of the MOS paper. MSP (flat softmax) against MOS with K = 8
 * groups from the taxonomy, from k-means on per-class mean training features, and at random,
 * each with its in-distribution accuracy. From the same heads: Figure 11 (ROC curves of MSP vs
 * MOS per OOD set) and Figures 12 / 13 (mean "others" probability per group for the ID images of
 * each group and for each OOD set). Finished heads are reused.
 *
 * @module
 */
import { STRATEGIES, type Strategy } from "../lib/config/ablation_experiment.ts";
import { UsageError } from "../lib/errors.ts";
import {
  accuracyChartSpec,
  type BarPoint,
  combineSpecs,
  groupedBarsSpec,
} from "../lib/figures/grouped_bars.ts";
import { FLAT_LABEL, GROUP_LABEL, groupLabel } from "../lib/figures/style.ts";
import { othersBarsSpec } from "../lib/figures/others_bars.ts";
import { rocCurvesSpec, rocPoints, type RocSeries } from "../lib/figures/roc_curves.ts";
import { TAXONOMY_LEVELS } from "../lib/grouping/taxonomy_levels.ts";
import { readNpy } from "../lib/io/npy.ts";
import { ablationTable } from "../lib/tables/ablation_tables.ts";
import { renderCsv, renderMarkdown } from "../lib/tables/render.ts";
import { renderTerminal } from "../lib/tables/terminal.ts";
import { type FlagValues, listFlag, numberFlag, runTask, type TaskSpec } from "./_shared/cli.ts";
import { writeReport } from "./_shared/report_stage.ts";
import { withResultDir } from "./_shared/result_dir.ts";
import {
  ablationInputs,
  commonFlags,
  datasetLabel,
  DEMO_NUM_CLASSES,
  DEMO_SUBTITLE,
  demoSets,
  loadConfig,
  METRIC_LABELS,
  realSets,
  type ResolvedSets,
  runSettings,
  seconds,
} from "./_ablation/common.ts";
import { writeFigure } from "./_ablation/figures.ts";
import {
  checkK,
  checkTaxonomyLabelSpace,
  classMeansCached,
  labelSpaceOf,
  loadTaxonomy,
  STRATEGY_NAMES,
  strategyGroups,
} from "./_ablation/groupings.ts";
import { type HeadResult, jobContext, trainAndScore } from "./_ablation/heads.ts";
import { othersMeans } from "./_ablation/others.ts";

export const SPEC: TaskSpec = {
  name: "grouping",
  summary: "Figure 6: MSP vs MOS with taxonomy / feature clustering / random groups at K = 8 " +
    "(plus Figures 11, 12, 13).",
  usage: "deno task grouping [--demo] [--k N] [--strategies LIST] [--data DIR] [--out DIR]",
  flags: {
    ...commonFlags("experiments/grouping.yaml"),
    k: { type: "string", help: "N   number of groups (default: the config's, 8)" },
    strategies: {
      type: "string",
      help: "LIST  taxonomy,clustering,random (default: the config's)",
    },
    hierarchy: {
      type: "string",
      help: "FILE  class hierarchy TSV, for taxonomy groups at K other than 8",
    },
  },
  notes: [
    "Taxonomy groups need a taxonomy level with exactly K groups (K = 8 is the paper's 8 " +
    "super-classes).",
    "Figures 12 / 13 are drawn for the taxonomy head when K <= 16.",
  ],
};

/** Taxonomy level with exactly k groups, or a UsageError listing the available counts. */
async function taxonomyAt(k: number, hierarchy: string) {
  if (k === 8) return (await loadTaxonomy([0], hierarchy)).levels.get(0)!;
  const all = await loadTaxonomy(TAXONOMY_LEVELS, hierarchy);
  for (const g of all.levels.values()) if (g.groups.length === k) return g;
  const counts = [...all.levels.values()].map((g) => g.groups.length).join(", ");
  throw new UsageError(
    `--k ${k}: no taxonomy level has ${k} groups (they have ${counts}); pick one of these or ` +
      `drop taxonomy from --strategies`,
  );
}

async function readScores(path: string): Promise<Float32Array> {
  return (await readNpy(path)).data as Float32Array;
}

async function rocSeries(
  r: HeadResult,
  series: string,
  sets: ResolvedSets,
): Promise<RocSeries[]> {
  const id = await readScores(`${r.scoreDir}/scores/${r.method}/id.npy`);
  const out: RocSeries[] = [];
  for (const o of sets.ood) {
    const ood = await readScores(`${r.scoreDir}/scores/${r.method}/${o.name}.npy`);
    out.push({ panel: datasetLabel(o.name), series, curve: rocPoints(id, ood, 200) });
  }
  return out;
}

async function main(values: FlagValues): Promise<void> {
  const t0 = performance.now();
  const cfg = await loadConfig(values, "grouping");
  const run = runSettings(values, cfg);
  const log = (m: string) => console.error(`grouping: ${m}`);
  const k = numberFlag(values, "k", { integer: true, min: 2 }) ?? cfg.k;
  const strategies = listFlag(values, "strategies", STRATEGIES, cfg.strategies) as Strategy[];
  const hierarchy = (values.hierarchy as string | undefined) ?? cfg.hierarchy;

  // Validate K, the taxonomy and the data before generating data or training anything.
  const real = run.demo
    ? null
    : await realSets((values.data as string | undefined) ?? cfg.dataRoot, cfg.sets);
  const C = real ? await labelSpaceOf(real.train) : DEMO_NUM_CLASSES;
  checkK(k, C, "--k");
  if (strategies.includes("taxonomy") && real) checkTaxonomyLabelSpace(C, real.train);
  const taxonomy = strategies.includes("taxonomy") ? await taxonomyAt(k, hierarchy) : undefined;
  const inputs = ablationInputs(values, {
    hierarchy,
    data: real ? [{ root: (values.data as string | undefined) ?? cfg.dataRoot, sets: real }] : [],
  });
  const { files, table } = await withResultDir(
    run.out,
    { purpose: SPEC.name, inputs },
    async (dir) => {
      const sets = real ??
        await demoSets(`${run.out}/features`, {
          seed: run.seed,
          dim: run.dim,
          trainPerClass: run.trainPerClass,
        }, log);
      const classMeans = strategies.includes("clustering")
        ? await classMeansCached(sets.train, C, `${run.out}/class_means`)
        : undefined;

      const common = jobContext(run, cfg.fprConvention, sets, log);
      log(`[1/${strategies.length + 1}] flat head (MSP)`);
      const flat = await trainAndScore({ ...common, name: "flat", groups: "flat" });
      const mos: { strategy: Strategy; r: HeadResult }[] = [];
      for (const [i, strategy] of strategies.entries()) {
        const groups = await strategyGroups(strategy, k, {
          numClasses: C,
          taxonomy,
          classMeans,
          seed: cfg.groupingSeed,
          kmeansRestarts: cfg.kmeansRestarts,
          threads: run.threads,
        });
        log(`[${i + 2}/${strategies.length + 1}] ${strategy} groups, K = ${groups.length}`);
        mos.push({
          strategy,
          r: await trainAndScore({ ...common, name: `${strategy}_k${k}`, groups }),
        });
      }

      const datasets = sets.ood.map((o) => o.name);
      const subtitle = sets.synthetic ? DEMO_SUBTITLE : undefined;
      const seriesOf = (s: Strategy) => `MOS (${STRATEGY_NAMES[s]})`;
      const rows = [
        { label: "MSP", series: FLAT_LABEL, grouping: "none (flat softmax)", K: "1", r: flat },
        ...mos.map(({ strategy, r }) => ({
          label: seriesOf(strategy),
          // Figures name the classifier and its score: the flat head's bar is not "MSP".
          series: groupLabel(STRATEGY_NAMES[strategy]),
          grouping: STRATEGY_NAMES[strategy],
          K: String(r.numGroups),
          r,
        })),
      ];
      const table = ablationTable({
        title: `Figure 6: MSP vs MOS with different grouping strategies (K = ${k})${
          sets.synthetic ? " (synthetic demo data)" : ""
        }`,
        keyColumns: ["Method", "Grouping", "K", "ID accuracy (%)"],
        entries: rows.map((x) => ({
          keys: [x.label, x.grouping, x.K, 100 * x.r.accuracy],
          metrics: x.r.metrics,
        })),
        datasets,
        notes: sets.synthetic ? [`SYNTHETIC DATA: ${DEMO_SUBTITLE}.`] : [],
      });
      const bars: BarPoint[] = [];
      for (const x of rows) {
        for (const d of datasets) {
          const m = x.r.metrics[d];
          if (!m) continue;
          const category = datasetLabel(d);
          bars.push({ category, series: x.series, metric: METRIC_LABELS.auroc, value: m.auroc });
          bars.push({ category, series: x.series, metric: METRIC_LABELS.fpr95, value: m.fpr95 });
        }
      }
      const seriesOrder = rows.map((x) => x.series);
      // Curves and others probabilities are read before staging, so staging holds only writes.
      const reference = mos.find((m) => m.strategy === "taxonomy") ?? mos[0];
      const mosName = reference
        ? reference.strategy === "taxonomy" ? "MOS" : seriesOf(reference.strategy)
        : "";
      const mosSeries = reference
        ? reference.strategy === "taxonomy"
          ? GROUP_LABEL
          : groupLabel(STRATEGY_NAMES[reference.strategy])
        : "";
      const curves = reference
        ? [
          ...await rocSeries(flat, FLAT_LABEL, sets),
          ...await rocSeries(reference.r, mosSeries, sets),
        ]
        : [];
      const tax = mos.find((m) => m.strategy === "taxonomy");
      const summary = tax && taxonomy && k <= 16
        ? await othersMeans({
          headDir: tax.r.headDir,
          id: sets.id,
          ood: sets.ood,
          groupNames: taxonomy.names,
          threads: run.threads,
        })
        : undefined;
      if (tax && !summary) log(`Figures 12 / 13 skipped: K = ${k} > 16 makes unreadable panels`);

      // Table and figures are staged and land together, the table's CSV last.
      const files = await dir.commit(async (w) => {
        await w.text("fig6.csv", renderCsv(table));
        await w.text("fig6.md", renderMarkdown(table));
        const figure = (name: string, spec: Record<string, unknown>) =>
          writeFigure(w, name, spec, { png: run.png, log });
        await figure(
          "fig6",
          // Side by side with one legend naming every bar; both metric rows on one 0-100 scale,
          // the accuracy chart as tall as the two rows.
          combineSpecs(
            `Figure 6: MSP vs MOS with different grouping strategies (K = ${k})`,
            subtitle,
            [
              groupedBarsSpec({
                points: bars,
                title: "OOD detection",
                seriesOrder,
                metricOrder: [METRIC_LABELS.auroc, METRIC_LABELS.fpr95],
                legendTitle: "head (score), grouping",
                yDomain: [0, 100],
              }),
              accuracyChartSpec({
                kind: "bars",
                points: rows.map((x) => ({ series: x.series, value: 100 * x.r.accuracy })),
                seriesOrder,
                legendTitle: "head (score), grouping",
                height: 320,
              }),
            ],
            { direction: "horizontal", shareLegend: true },
          ),
        );
        if (reference) {
          await figure(
            "fig11",
            rocCurvesSpec({
              curves,
              title: `Figure 11: ROC curves of MSP and ${mosName} (K = ${k})`,
              subtitle,
              seriesOrder: [FLAT_LABEL, mosSeries],
              legendTitle: "head (score)",
            }),
          );
        }
        if (summary && taxonomy) {
          await figure(
            "fig12",
            othersBarsSpec({
              title: "Figure 12: mean 'others' probability per group, ID images of each group",
              subtitle,
              groupNames: taxonomy.names,
              panels: summary.id,
            }),
          );
          await figure(
            "fig13",
            othersBarsSpec({
              title: "Figure 13: mean 'others' probability per group, OOD sets",
              subtitle,
              groupNames: taxonomy.names,
              panels: summary.ood.map((p) => ({ ...p, name: datasetLabel(p.name) })),
            }),
          );
        }
      }, ["fig6.csv"]);
      files.push((await writeReport(dir, (w) => console.error(`warning: ${w}`))).path);
      return { files, table };
    },
  );
  log(`wrote ${files.join(", ")} in ${seconds(t0)}`);
  // The compact view last, after a blank line; the full table is in the .md / .csv files.
  console.log("\n" + renderTerminal(table));
}

if (import.meta.main) await runTask(SPEC, main);
