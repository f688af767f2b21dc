/**
 * The parts of `deno task grouping` (the paper's Figure 6, with Figures 11-13 from the same
 * heads) past the common frame: the taxonomy level with K groups, the flat head and one group
 * head per strategy, the table and bars of Figure 6, the ROC curves of Figure 11 and the mean
 * "others" probabilities of Figures 12 / 13.
 *
 * @module
 */
import type { Strategy } from "../../lib/config/ablation_experiment.ts";
import { UsageError } from "../../lib/errors.ts";
import {
  accuracyChartSpec,
  type BarPoint,
  combineSpecs,
  groupedBarsSpec,
} from "../../lib/figures/grouped_bars.ts";
import { othersBarsSpec } from "../../lib/figures/others_bars.ts";
import { rocPoints } from "../../lib/metrics/roc.ts";
import { rocCurvesSpec, type RocSeries } from "../../lib/figures/roc_curves.ts";
import { FLAT_LABEL, GROUP_LABEL, groupLabel } from "../../lib/figures/style.ts";
import { type Grouping, TAXONOMY_LEVELS } from "../../lib/grouping/taxonomy_levels.ts";
import { readNpy } from "../../lib/io/npy.ts";
import { ablationTable } from "../../lib/tables/ablation_tables.ts";
import { renderCsv, renderMarkdown, type Table } from "../../lib/tables/render.ts";
import type { ResultDir } from "../_shared/result_dir.ts";
import { datasetLabel, DEMO_SUBTITLE, METRIC_LABELS, type ResolvedSets } from "./common.ts";
import { writeFigure } from "./figures.ts";
import { loadTaxonomy, STRATEGY_NAMES, strategyGroups, type StrategyInputs } from "./groupings.ts";
import { type HeadResult, type JobContext, trainAndScore } from "./heads.ts";
import { othersMeans, type OthersSummary } from "./others.ts";

/** Taxonomy level with exactly k groups, or a UsageError listing the available counts. */
export async function taxonomyAt(k: number, hierarchy: string): Promise<Grouping> {
  if (k === 8) return (await loadTaxonomy([0], hierarchy)).levels.get(0)!;
  const all = await loadTaxonomy(TAXONOMY_LEVELS, hierarchy);
  for (const g of all.levels.values()) if (g.groups.length === k) return g;
  const counts = [...all.levels.values()].map((g) => g.groups.length).join(", ");
  throw new UsageError(
    `--k ${k}: no taxonomy level has ${k} groups (they have ${counts}); pick one of these or ` +
      `drop taxonomy from --strategies`,
  );
}

/** The heads of Figure 6: the flat head (MSP) and one group head (MOS) per strategy. */
export interface Fig6Heads {
  flat: HeadResult;
  mos: { strategy: Strategy; r: HeadResult }[];
}

/** Trains and scores the flat head, then a group head with K groups per strategy, in order. */
export async function runFig6Heads(
  k: number,
  strategies: readonly Strategy[],
  inputs: StrategyInputs,
  context: JobContext,
): Promise<Fig6Heads> {
  const log = context.log;
  log(`[1/${strategies.length + 1}] flat head (MSP)`);
  const flat = await trainAndScore({ ...context, name: "flat", groups: "flat" });
  const mos: { strategy: Strategy; r: HeadResult }[] = [];
  for (const [i, strategy] of strategies.entries()) {
    const groups = await strategyGroups(strategy, k, inputs);
    log(`[${i + 2}/${strategies.length + 1}] ${strategy} groups, K = ${groups.length}`);
    mos.push({
      strategy,
      r: await trainAndScore({ ...context, name: `${strategy}_k${k}`, groups }),
    });
  }
  return { flat, mos };
}

/** One row of Figure 6: a head with its table label, figure series and grouping. */
export interface Fig6Row {
  label: string;
  series: string;
  grouping: string;
  K: string;
  r: HeadResult;
}

/** Table name of a strategy's group head. */
function seriesOf(s: Strategy): string {
  return `MOS (${STRATEGY_NAMES[s]})`;
}

/** The rows of Figure 6: MSP first, then MOS per strategy. */
export function fig6Rows(heads: Fig6Heads): Fig6Row[] {
  return [
    { label: "MSP", series: FLAT_LABEL, grouping: "none (flat softmax)", K: "1", r: heads.flat },
    ...heads.mos.map(({ strategy, r }) => ({
      label: seriesOf(strategy),
      // Figures name the classifier and its score: the flat head's bar is not "MSP".
      series: groupLabel(STRATEGY_NAMES[strategy]),
      grouping: STRATEGY_NAMES[strategy],
      K: String(r.numGroups),
      r,
    })),
  ];
}

/** The table of Figure 6: AUROC / FPR95 per OOD set and ID accuracy of every head. */
export function fig6Table(rows: readonly Fig6Row[], k: number, sets: ResolvedSets): Table {
  return ablationTable({
    title: `Figure 6: MSP vs MOS with different grouping strategies (K = ${k})${
      sets.synthetic ? " (synthetic demo data)" : ""
    }`,
    keyColumns: ["Method", "Grouping", "K", "ID accuracy (%)"],
    entries: rows.map((x) => ({
      keys: [x.label, x.grouping, x.K, 100 * x.r.accuracy],
      metrics: x.r.metrics,
    })),
    datasets: sets.ood.map((o) => o.name),
    notes: sets.synthetic ? [`SYNTHETIC DATA: ${DEMO_SUBTITLE}.`] : [],
  });
}

/** The bars of Figure 6: AUROC and FPR95 of every head on every OOD set. */
export function fig6Bars(rows: readonly Fig6Row[], datasets: readonly string[]): BarPoint[] {
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
  return bars;
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

/** Figure 11's data: ROC curves of MSP and of one MOS head (taxonomy's if run). */
export interface Fig11Data {
  mosName: string;
  mosSeries: string;
  curves: RocSeries[];
}

/**
 * Reads the score files of the flat head and of the reference group head (the taxonomy's, else
 * the first strategy's) into ROC curves; undefined when no group head ran.
 */
export async function fig11Data(
  heads: Fig6Heads,
  sets: ResolvedSets,
): Promise<Fig11Data | undefined> {
  const reference = heads.mos.find((m) => m.strategy === "taxonomy") ?? heads.mos[0];
  if (!reference) return undefined;
  const taxonomy = reference.strategy === "taxonomy";
  const mosName = taxonomy ? "MOS" : seriesOf(reference.strategy);
  const mosSeries = taxonomy ? GROUP_LABEL : groupLabel(STRATEGY_NAMES[reference.strategy]);
  return {
    mosName,
    mosSeries,
    curves: [
      ...await rocSeries(heads.flat, FLAT_LABEL, sets),
      ...await rocSeries(reference.r, mosSeries, sets),
    ],
  };
}

/**
 * Figures 12 / 13's data: the taxonomy head's mean "others" probability per group, when it ran
 * and K <= 16 (more groups make unreadable panels: logged).
 */
export async function othersData(
  heads: Fig6Heads,
  taxonomy: Grouping | undefined,
  o: { k: number; sets: ResolvedSets; threads?: number; log: (m: string) => void },
): Promise<OthersSummary | undefined> {
  const tax = heads.mos.find((m) => m.strategy === "taxonomy");
  const summary = tax && taxonomy && o.k <= 16
    ? await othersMeans({
      headDir: tax.r.headDir,
      id: o.sets.id,
      ood: o.sets.ood,
      groupNames: taxonomy.names,
      threads: o.threads,
    })
    : undefined;
  if (tax && !summary) o.log(`Figures 12 / 13 skipped: K = ${o.k} > 16 makes unreadable panels`);
  return summary;
}

/** Everything {@linkcode writeFig6} stages. */
export interface Fig6Outputs {
  k: number;
  rows: Fig6Row[];
  table: Table;
  sets: ResolvedSets;
  roc?: Fig11Data;
  others?: OthersSummary;
  taxonomy?: Grouping;
  png: boolean;
  log: (m: string) => void;
}

/** Stages the table and Figures 6, 11, 12, 13 together, the table's CSV last. */
export function writeFig6(dir: ResultDir, o: Fig6Outputs): Promise<string[]> {
  const subtitle = o.sets.synthetic ? DEMO_SUBTITLE : undefined;
  const seriesOrder = o.rows.map((x) => x.series);
  return dir.commit(async (w) => {
    await w.text("fig6.csv", renderCsv(o.table));
    await w.text("fig6.md", renderMarkdown(o.table));
    const figure = (name: string, spec: Record<string, unknown>) =>
      writeFigure(w, name, spec, { png: o.png, log: o.log });
    await figure(
      "fig6",
      // Side by side with one legend naming every bar; both metric rows on one 0-100 scale,
      // the accuracy chart as tall as the two rows.
      combineSpecs(
        `Figure 6: MSP vs MOS with different grouping strategies (K = ${o.k})`,
        subtitle,
        [
          groupedBarsSpec({
            points: fig6Bars(o.rows, o.sets.ood.map((s) => s.name)),
            title: "OOD detection",
            seriesOrder,
            metricOrder: [METRIC_LABELS.auroc, METRIC_LABELS.fpr95],
            legendTitle: "head (score), grouping",
            yDomain: [0, 100],
          }),
          accuracyChartSpec({
            kind: "bars",
            points: o.rows.map((x) => ({ series: x.series, value: 100 * x.r.accuracy })),
            seriesOrder,
            legendTitle: "head (score), grouping",
            height: 320,
          }),
        ],
        { direction: "horizontal", shareLegend: true },
      ),
    );
    if (o.roc) {
      await figure(
        "fig11",
        rocCurvesSpec({
          curves: o.roc.curves,
          title: `Figure 11: ROC curves of MSP and ${o.roc.mosName} (K = ${o.k})`,
          subtitle,
          seriesOrder: [FLAT_LABEL, o.roc.mosSeries],
          legendTitle: "head (score)",
        }),
      );
    }
    if (o.others && o.taxonomy) {
      await figure(
        "fig12",
        othersBarsSpec({
          title: "Figure 12: mean 'others' probability per group, ID images of each group",
          subtitle,
          groupNames: o.taxonomy.names,
          panels: o.others.id,
        }),
      );
      await figure(
        "fig13",
        othersBarsSpec({
          title: "Figure 13: mean 'others' probability per group, OOD sets",
          subtitle,
          groupNames: o.taxonomy.names,
          panels: o.others.ood.map((p) => ({ ...p, name: datasetLabel(p.name) })),
        }),
      );
    }
  }, ["fig6.csv"]);
}
