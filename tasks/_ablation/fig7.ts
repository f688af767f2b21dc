/**
 * The parts of `deno task backbones` (the paper's Figure 7) past the common frame: the backbones
 * to run (the config's data roots, or with --demo synthetic feature dimensions standing in for
 * them), checked before anything runs; a flat head (MSP) and a group head (MOS) per backbone; the
 * table and the figure.
 *
 * @module
 */
import type { BackbonesConfig } from "../../lib/config/ablation_experiment.ts";
import { UsageError } from "../../lib/errors.ts";
import {
  accuracyChartSpec,
  accuracyGapNote,
  combineSpecs,
} from "../../lib/figures/grouped_bars.ts";
import { linePanelsSpec, type LinePoint } from "../../lib/figures/line_panels.ts";
import { FLAT_LABEL, GROUP_LABEL } from "../../lib/figures/style.ts";
import { type AblationEntry, ablationTable } from "../../lib/tables/ablation_tables.ts";
import { renderCsv, renderMarkdown, type Table } from "../../lib/tables/render.ts";
import type { ResultDir } from "../_shared/result_dir.ts";
import {
  datasetLabel,
  DEMO_SUBTITLE,
  demoSets,
  METRIC_LABELS,
  realSets,
  type ResolvedSets,
  type RunSettings,
} from "./common.ts";
import { metricPoints, writeFigure } from "./figures.ts";
import { checkTaxonomyLabelSpace, labelSpaceOf } from "./groupings.ts";
import { type HeadResult, type JobContext, trainAndScore } from "./heads.ts";

/** One backbone: its display name, directory name, and real sets or synthetic dimension. */
export interface Backbone {
  name: string;
  dir: string;
  sets?: ResolvedSets;
  dataRoot?: string;
  dim?: number;
}

/** A directory name for a backbone's name. */
export function slug(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "") || "backbone";
}

/** The synthetic stand-in backbones of --demo: one per feature dimension, checked. */
export function demoBackbones(dims: readonly number[]): Backbone[] {
  for (const d of dims) {
    if (d < 2 || d > 65536) throw new UsageError(`--dims: ${d} must be from 2 to 65536`);
  }
  return dims.map((d) => ({ name: `D=${d}`, dir: `d${d}`, dim: d }));
}

/**
 * The config's backbones named by `--backbones` (all when not given), in the order given, each
 * with its sets checked to exist and to have the ImageNet-1k label space.
 */
export async function realBackbones(
  cfg: BackbonesConfig,
  given: string | undefined,
  configPath: string,
): Promise<Backbone[]> {
  const wanted = given !== undefined
    ? given.split(",").map((s) => s.trim()).filter(Boolean)
    : cfg.backbones.map((b) => b.name);
  const names = cfg.backbones.map((x) => x.name).join(", ");
  if (wanted.length === 0) {
    throw new UsageError(`--backbones is empty; give names from ${configPath}: ${names}`);
  }
  const out: Backbone[] = [];
  for (const name of wanted) {
    const b = cfg.backbones.find((x) => x.name === name);
    if (!b) {
      throw new UsageError(
        `--backbones: "${name}" is not in ${configPath}; choose from ${names}`,
      );
    }
    const sets = await realSets(b.dataRoot, cfg.sets);
    checkTaxonomyLabelSpace(await labelSpaceOf(sets.train), sets.train);
    out.push({ name: b.name, dir: slug(b.name), sets, dataRoot: b.dataRoot });
  }
  return out;
}

/** The two heads of one backbone and its OOD set names. */
export interface BackboneResult {
  name: string;
  flat: HeadResult;
  mos: HeadResult;
  datasets: string[];
}

/** Per backbone: its sets (the synthetic ones generated or reused), the flat and the group head. */
export async function runBackbones(
  backbones: readonly Backbone[],
  groups: number[][],
  o: {
    run: RunSettings;
    context: (sets: ResolvedSets) => JobContext;
    log: (m: string) => void;
  },
): Promise<BackboneResult[]> {
  const results: BackboneResult[] = [];
  for (const [i, e] of backbones.entries()) {
    o.log(`[${i + 1}/${backbones.length}] ${e.name}`);
    const sets = e.sets ?? await demoSets(`${o.run.out}/features/${e.dir}`, {
      seed: o.run.seed,
      dim: e.dim!,
      trainPerClass: o.run.trainPerClass,
    }, o.log);
    const common = o.context(sets);
    results.push({
      name: e.name,
      flat: await trainAndScore({ ...common, name: `${e.dir}_flat`, groups: "flat" }),
      mos: await trainAndScore({ ...common, name: `${e.dir}_mos`, groups }),
      datasets: sets.ood.map((s) => s.name),
    });
  }
  return results;
}

/** The table of Figure 7 and its line points (both heads of every backbone). */
export function fig7Views(
  results: readonly BackboneResult[],
  demo: boolean,
): { table: Table; points: LinePoint[] } {
  const datasets = results[0].datasets;
  const rows: AblationEntry[] = [];
  const points: LinePoint[] = [];
  for (const r of results) {
    const heads = [
      ["flat", "MSP", FLAT_LABEL, r.flat],
      ["group", "MOS", GROUP_LABEL, r.mos],
    ] as const;
    for (const [head, method, series, h] of heads) {
      rows.push({ keys: [r.name, head, method, 100 * h.accuracy], metrics: h.metrics });
      points.push(...metricPoints(r.name, series, h.metrics, datasets));
    }
  }
  const table = ablationTable({
    title: `Figure 7: MSP vs MOS across backbones${demo ? " (synthetic demo data)" : ""}`,
    keyColumns: ["Backbone", "Head", "Method", "ID accuracy (%)"],
    entries: rows,
    datasets,
    notes: [
      "Flat: flat softmax head scored with MSP; group: the 8 taxonomy super-classes scored " +
      "with MOS. The backbone is frozen: only the last layer is trained on its features.",
      ...(demo
        ? [
          `SYNTHETIC DATA: ${DEMO_SUBTITLE}; the "backbones" are the same generator at ` +
          "different feature dimensions.",
        ]
        : []),
    ],
  });
  return { table, points };
}

/** Stages the table and Figure 7 together, the table's CSV last. */
export function writeFig7(
  dir: ResultDir,
  results: readonly BackboneResult[],
  views: { table: Table; points: LinePoint[] },
  o: { demo: boolean; png: boolean; log: (m: string) => void },
): Promise<string[]> {
  const datasets = results[0].datasets;
  const order = results.map((r) => r.name);
  // The axis title repeats under every panel, so it stays short; the demo's stand-in
  // "backbones" are explained once, in the subtitle.
  const subtitle = o.demo
    ? `${DEMO_SUBTITLE}; stand-in backbones: synthetic features of dimension D`
    : undefined;
  const xTitle = "backbone";
  return dir.commit(async (w) => {
    await w.text("fig7.csv", renderCsv(views.table));
    await w.text("fig7.md", renderMarkdown(views.table));
    await writeFigure(
      w,
      "fig7",
      // Side by side with one legend: the detection lines and the accuracy lines are the
      // same two heads, drawn alike; the accuracy chart is as tall as the two metric rows.
      combineSpecs("Figure 7: MSP vs MOS across backbones", subtitle, [
        linePanelsSpec({
          points: views.points,
          title: "OOD detection",
          xTitle,
          xType: "ordinal",
          xOrder: order,
          seriesOrder: [FLAT_LABEL, GROUP_LABEL],
          panelOrder: datasets.map(datasetLabel),
          metricOrder: [METRIC_LABELS.auroc, METRIC_LABELS.fpr95],
          legendTitle: "head (score)",
          width: 150,
        }),
        accuracyChartSpec({
          kind: "lines",
          points: results.flatMap((r) => [
            { series: FLAT_LABEL, x: r.name, value: 100 * r.flat.accuracy },
            { series: GROUP_LABEL, x: r.name, value: 100 * r.mos.accuracy },
          ]),
          xTitle,
          xOrder: order,
          seriesOrder: [FLAT_LABEL, GROUP_LABEL],
          legendTitle: "head (score)",
          // The two lines can lie on top of each other: say by how much they differ.
          subtitle: accuracyGapNote(
            results.map((r) => 100 * (r.mos.accuracy - r.flat.accuracy)),
          ),
          width: 170,
          height: 270,
        }),
      ], { direction: "horizontal", shareLegend: true }),
      { png: o.png, log: o.log },
    );
  }, ["fig7.csv"]);
}
