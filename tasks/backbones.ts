/**
 * `deno task backbones`: Figure 7 of the MOS paper. For each backbone's feature sets (one data
 * root per backbone, e.g. BiT-S-R50x1 ... R101x3), train a flat head (MSP) and a group head over
 * the 8 taxonomy super-classes (MOS); report ID accuracy (flat vs group) and AUROC / FPR95 per
 * OOD set. With `--demo`, the "backbones" are the synthetic benchmark at several feature
 * dimensions. Finished heads are reused.
 *
 * @module
 */
import { UsageError } from "../lib/errors.ts";
import { accuracyChartSpec, accuracyGapNote, combineSpecs } from "../lib/figures/grouped_bars.ts";
import { linePanelsSpec, type LinePoint } from "../lib/figures/line_panels.ts";
import { FLAT_LABEL, GROUP_LABEL } from "../lib/figures/style.ts";
import { readClassTable, taxonomyGroups } from "../lib/io/classes.ts";
import { type AblationEntry, ablationTable } from "../lib/tables/ablation_tables.ts";
import { renderCsv, renderMarkdown } from "../lib/tables/render.ts";
import { renderTerminal } from "../lib/tables/terminal.ts";
import { type FlagValues, runTask, type TaskSpec } from "./_shared/cli.ts";
import { writeReport } from "./_shared/report_stage.ts";
import { withResultDir } from "./_shared/result_dir.ts";
import {
  ablationInputs,
  commonFlags,
  datasetLabel,
  DEMO_SUBTITLE,
  demoSets,
  intListFlag,
  loadConfig,
  METRIC_LABELS,
  realSets,
  type ResolvedSets,
  runSettings,
  seconds,
} from "./_ablation/common.ts";
import { metricPoints, writeFigure } from "./_ablation/figures.ts";
import { checkTaxonomyLabelSpace, labelSpaceOf } from "./_ablation/groupings.ts";
import { type HeadResult, jobContext, trainAndScore } from "./_ablation/heads.ts";

export const SPEC: TaskSpec = {
  name: "backbones",
  summary: "Figure 7: MSP vs MOS and flat vs group accuracy across backbones (feature sets).",
  usage: "deno task backbones [--demo] [--backbones LIST] [--dims LIST] [--out DIR]",
  flags: {
    ...commonFlags("experiments/backbones.yaml"),
    backbones: {
      type: "string",
      help: "LIST  names of the config's backbones to run, in order (default: all)",
    },
    dims: { type: "string", help: "LIST  --demo: feature dimensions standing in for backbones" },
  },
  notes: [
    "Each backbone's data_root holds the same set names (the config's sets:).",
    "--data does not apply: every backbone has its own data_root in the config.",
  ],
};

function slug(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "") || "backbone";
}

async function main(values: FlagValues): Promise<void> {
  const t0 = performance.now();
  const cfg = await loadConfig(values, "backbones");
  const run = runSettings(values, cfg);
  const log = (m: string) => console.error(`backbones: ${m}`);
  if (values.data !== undefined) {
    throw new UsageError(
      "--data does not apply to backbones: give each backbone's data_root in the config",
    );
  }
  if (!run.demo && values.dims !== undefined) {
    throw new UsageError("--dims only applies with --demo; drop it or add --demo");
  }

  // Resolve (and check) every backbone's sets before training anything.
  const entries: {
    name: string;
    dir: string;
    sets?: ResolvedSets;
    dataRoot?: string;
    dim?: number;
  }[] = [];
  if (run.demo) {
    const dims = intListFlag(values, "dims") ?? cfg.demo.dims;
    for (const d of dims) {
      if (d < 2 || d > 65536) throw new UsageError(`--dims: ${d} must be from 2 to 65536`);
    }
    for (const d of dims) entries.push({ name: `D=${d}`, dir: `d${d}`, dim: d });
  } else {
    const wanted = typeof values.backbones === "string"
      ? values.backbones.split(",").map((s) => s.trim()).filter(Boolean)
      : cfg.backbones.map((b) => b.name);
    if (wanted.length === 0) {
      throw new UsageError(
        `--backbones is empty; give names from ${values.config}: ` +
          cfg.backbones.map((x) => x.name).join(", "),
      );
    }
    for (const name of wanted) {
      const b = cfg.backbones.find((x) => x.name === name);
      if (!b) {
        throw new UsageError(
          `--backbones: "${name}" is not in ${values.config}; choose from ` +
            cfg.backbones.map((x) => x.name).join(", "),
        );
      }
      const sets = await realSets(b.dataRoot, cfg.sets);
      checkTaxonomyLabelSpace(await labelSpaceOf(sets.train), sets.train);
      entries.push({ name: b.name, dir: slug(b.name), sets, dataRoot: b.dataRoot });
    }
  }
  const inputs = ablationInputs(values, {
    data: entries.filter((e) => e.sets).map((e) => ({
      root: e.dataRoot!,
      sets: e.sets!,
      label: `data_root of backbone "${e.name}" in ${values.config}`,
    })),
  });
  const { files, table } = await withResultDir(
    run.out,
    { purpose: SPEC.name, inputs },
    async (dir) => {
      const groups = taxonomyGroups(await readClassTable());
      const results: { name: string; flat: HeadResult; mos: HeadResult; datasets: string[] }[] = [];
      for (const [i, e] of entries.entries()) {
        log(`[${i + 1}/${entries.length}] ${e.name}`);
        const sets = e.sets ?? await demoSets(`${run.out}/features/${e.dir}`, {
          seed: run.seed,
          dim: e.dim!,
          trainPerClass: run.trainPerClass,
        }, log);
        const common = jobContext(run, cfg.fprConvention, sets, log);
        results.push({
          name: e.name,
          flat: await trainAndScore({ ...common, name: `${e.dir}_flat`, groups: "flat" }),
          mos: await trainAndScore({ ...common, name: `${e.dir}_mos`, groups }),
          datasets: sets.ood.map((o) => o.name),
        });
      }

      const datasets = results[0].datasets;
      const order = results.map((r) => r.name);
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
      // The axis title repeats under every panel, so it stays short; the demo's stand-in
      // "backbones" are explained once, in the subtitle.
      const subtitle = run.demo
        ? `${DEMO_SUBTITLE}; stand-in backbones: synthetic features of dimension D`
        : undefined;
      const xTitle = "backbone";
      const table = ablationTable({
        title: `Figure 7: MSP vs MOS across backbones${run.demo ? " (synthetic demo data)" : ""}`,
        keyColumns: ["Backbone", "Head", "Method", "ID accuracy (%)"],
        entries: rows,
        datasets,
        notes: [
          "Flat: flat softmax head scored with MSP; group: the 8 taxonomy super-classes scored " +
          "with MOS. The backbone is frozen: only the last layer is trained on its features.",
          ...(run.demo
            ? [
              `SYNTHETIC DATA: ${DEMO_SUBTITLE}; the "backbones" are the same generator at ` +
              "different feature dimensions.",
            ]
            : []),
        ],
      });
      // Table and figure are staged and land together, the table's CSV last.
      const files = await dir.commit(async (w) => {
        await w.text("fig7.csv", renderCsv(table));
        await w.text("fig7.md", renderMarkdown(table));
        await writeFigure(
          w,
          "fig7",
          // Side by side with one legend: the detection lines and the accuracy lines are the
          // same two heads, drawn alike; the accuracy chart is as tall as the two metric rows.
          combineSpecs("Figure 7: MSP vs MOS across backbones", subtitle, [
            linePanelsSpec({
              points,
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
          { png: run.png, log },
        );
      }, ["fig7.csv"]);
      files.push((await writeReport(dir, (w) => console.error(`warning: ${w}`))).path);
      return { files, table };
    },
  );
  log(`wrote ${files.join(", ")} in ${seconds(t0)}`);
  // The compact view last, after a blank line; the full table is in the .md / .csv files.
  console.log("\n" + renderTerminal(table));
}

if (import.meta.main) await runTask(SPEC, main);
