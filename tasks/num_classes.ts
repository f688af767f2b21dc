/**
 * `deno task num-classes`: Figures 2, 5 and 9 of the MOS paper. For each number of classes C
 * (50, 200, ..., 1000) sample C classes, train a flat head (MSP) and a group head over the
 * taxonomy's super-classes restricted to those classes (MOS), and score both on the ID test images
 * of the C classes and on every OOD set. Two training-set settings: n images per class (Figure 5,
 * the paper's 700) and a fixed total (appendix B.1 / Figure 9, the paper's 35,000 = 35,000 / C per
 * class). Figure 2 is MSP alone in the per-class setting. Finished heads are reused.
 *
 * @module
 */
import type { ClassSetting } from "../lib/config/ablation_experiment.ts";
import { UsageError } from "../lib/errors.ts";
import { linePanelsSpec, type LinePoint } from "../lib/figures/line_panels.ts";
import { FLAT_LABEL, GROUP_LABEL } from "../lib/figures/style.ts";
import { readClassTable, taxonomyGroups } from "../lib/io/classes.ts";
import { type AblationEntry, ablationTable } from "../lib/tables/ablation_tables.ts";
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
  intListFlag,
  loadConfig,
  METRIC_LABELS,
  realSets,
  runSettings,
  seconds,
} from "./_ablation/common.ts";
import { metricPoints, writeFigure } from "./_ablation/figures.ts";
import { checkTaxonomyLabelSpace, labelSpaceOf } from "./_ablation/groupings.ts";
import { type HeadResult, jobContext, trainAndScore } from "./_ablation/heads.ts";
import {
  classSampler,
  restrictGroups,
  sampleClasses,
  writeClassSubset,
} from "./_ablation/subsets.ts";

export const SPEC: TaskSpec = {
  name: "num-classes",
  summary: "Figures 2, 5, 9: MSP vs MOS as the number of in-distribution classes C grows.",
  usage: "deno task num-classes [--demo] [--classes LIST] [--settings LIST] [--per-class N] " +
    "[--total-images N] [--data DIR] [--out DIR]",
  flags: {
    ...commonFlags("experiments/num_classes.yaml"),
    classes: {
      type: "string",
      help: "LIST  numbers of classes C, e.g. 50,200,1000 (default: the config's)",
    },
    settings: {
      type: "string",
      help: "LIST  per_class (Fig 5), fixed_total (Fig 9) (default: the config's)",
    },
    "per-class": { type: "string", help: "N   train images per class, per_class setting" },
    "total-images": { type: "string", help: "N   train images in all, fixed_total setting" },
    "sample-seed": { type: "string", help: "N   seed of the class and image sampling" },
  },
  notes: [
    "Subsets go to <out>/subsets/c<C>_n<n>/{train,id}; heads to <out>/heads/c<C>_n<n>_{flat,mos}.",
    "Groups of a subset: the 8 taxonomy super-classes restricted to its classes (empty ones dropped).",
  ],
};

const SETTINGS: readonly ClassSetting[] = ["per_class", "fixed_total"];
const SETTING_LABELS: Record<ClassSetting, string> = {
  per_class: "fixed images per class",
  fixed_total: "fixed total images",
};

async function main(values: FlagValues): Promise<void> {
  const t0 = performance.now();
  const cfg = await loadConfig(values, "num_classes");
  const run = runSettings(values, cfg);
  const log = (m: string) => console.error(`num-classes: ${m}`);
  const counts = [...(intListFlag(values, "classes") ?? cfg.classes)].sort((a, b) => a - b);
  const settings = listFlag(
    {
      settings: typeof values.settings === "string"
        ? values.settings.replace(/-/g, "_")
        : undefined,
    },
    "settings",
    SETTINGS,
    cfg.settings,
  ) as ClassSetting[];
  const perClass = numberFlag(values, "per-class", { min: 1, integer: true }) ??
    (run.demo ? cfg.demo.perClass : cfg.perClass);
  const total = numberFlag(values, "total-images", { min: 1, integer: true }) ??
    (run.demo ? cfg.demo.totalImages : cfg.totalImages);
  const sampleSeed = numberFlag(values, "sample-seed", { min: 0, integer: true }) ??
    cfg.sampleSeed;

  // Validate every configuration before generating data or training anything.
  const real = run.demo
    ? null
    : await realSets((values.data as string | undefined) ?? cfg.dataRoot, cfg.sets);
  const N = real ? await labelSpaceOf(real.train) : DEMO_NUM_CLASSES;
  checkTaxonomyLabelSpace(N, real?.train ?? "the synthetic benchmark");
  for (const c of counts) {
    if (c < 2 || c > N) {
      throw new UsageError(
        `--classes: ${c} is not a valid number of classes; use integers from 2 to ${N} ` +
          `(the training set's classes)`,
      );
    }
  }
  const configs: { setting: ClassSetting; C: number; n: number }[] = [];
  for (const setting of settings) {
    for (const C of counts) {
      const n = setting === "per_class" ? perClass : Math.floor(total / C);
      if (n < 1) {
        throw new UsageError(
          `--total-images ${total} gives no image per class at C = ${C}; raise it to at least ${C}`,
        );
      }
      if (run.demo && n > run.trainPerClass) {
        throw new UsageError(
          `${n} images per class (${setting}, C = ${C}) exceed the ${run.trainPerClass} synthetic ` +
            `training images per class; raise --train-per-class or lower --per-class / --total-images`,
        );
      }
      configs.push({ setting, C, n });
    }
  }
  const inputs = ablationInputs(values, {
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
      const sampler = classSampler(N, sampleSeed);
      const taxonomy = taxonomyGroups(await readClassTable());

      // A configuration of both settings with the same C and n (C = 50 in the paper) is run once.
      const done = new Map<string, { flat: HeadResult; mos: HeadResult; K: number }>();
      const unique = [...new Set(configs.map((c) => `c${c.C}_n${c.n}`))];
      for (const cfgItem of configs) {
        const key = `c${cfgItem.C}_n${cfgItem.n}`;
        if (done.has(key)) continue;
        log(
          `[${done.size + 1}/${unique.length}] C = ${cfgItem.C}, ${cfgItem.n} images per class`,
        );
        const classes = sampleClasses(sampler, cfgItem.C);
        const subset = await writeClassSubset({
          train: sets.train,
          id: sets.id,
          classes,
          perClass: cfgItem.n,
          sampler,
          seed: sampleSeed,
          out: `${run.out}/subsets/${key}`,
        });
        if (subset.reused) log(`  subset ${key} reused (manifest matches)`);
        const subSets = { ...sets, train: subset.train, id: subset.id };
        const { groups } = restrictGroups(taxonomy, classes);
        const common = jobContext(run, cfg.fprConvention, subSets, log, cfgItem.C);
        const flat = await trainAndScore({ ...common, name: `${key}_flat`, groups: "flat" });
        const mos = await trainAndScore({ ...common, name: `${key}_mos`, groups });
        done.set(key, { flat, mos, K: groups.length });
      }

      const datasets = sets.ood.map((o) => o.name);
      const entries: AblationEntry[] = [];
      const points: Record<ClassSetting, LinePoint[]> = { per_class: [], fixed_total: [] };
      for (const c of configs) {
        const r = done.get(`c${c.C}_n${c.n}`)!;
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
      const subtitle = run.demo ? DEMO_SUBTITLE : undefined;
      const table = ablationTable({
        title: `MSP vs MOS as the number of classes C grows (Figures 2, 5, 9)${
          run.demo ? " (synthetic demo data)" : ""
        }`,
        keyColumns: ["Setting", "C", "Train images per class", "Method", "K", "ID accuracy (%)"],
        entries,
        datasets,
        notes: [
          `Fixed images per class: ${perClass} per class (the paper: 700). Fixed total: ` +
          `${total} images, floor(${total} / C) per class (the paper: 35,000).`,
          "MOS groups: the taxonomy's 8 super-classes restricted to the sampled classes (K groups).",
          ...(run.demo ? [`SYNTHETIC DATA: ${DEMO_SUBTITLE}.`] : []),
        ],
      });
      // Table and figures are staged and land together, the table's CSV last.
      const files = await dir.commit(async (w) => {
        await w.text("num_classes.csv", renderCsv(table));
        await w.text("num_classes.md", renderMarkdown(table));
        const common = {
          xTitle: "number of classes C",
          panelOrder: datasets.map(datasetLabel),
          metricOrder: [METRIC_LABELS.auroc, METRIC_LABELS.fpr95],
          legendTitle: "head (score)",
          subtitle,
        };
        const figure = (name: string, spec: Record<string, unknown>) =>
          writeFigure(w, name, spec, { png: run.png, log });
        if (settings.includes("per_class")) {
          await figure(
            "fig2",
            linePanelsSpec({
              ...common,
              points: points.per_class.filter((p) => p.series === FLAT_LABEL),
              title:
                `Figure 2: MSP as the number of classes grows (${perClass} train images per class)`,
              seriesOrder: [FLAT_LABEL],
            }),
          );
          await figure(
            "fig5",
            linePanelsSpec({
              ...common,
              points: points.per_class,
              title:
                `Figure 5: MSP vs MOS as the number of classes grows (${perClass} images per class)`,
              seriesOrder: [FLAT_LABEL, GROUP_LABEL],
            }),
          );
        }
        if (settings.includes("fixed_total")) {
          await figure(
            "fig9",
            linePanelsSpec({
              ...common,
              points: points.fixed_total,
              title: `Figure 9: MSP vs MOS with a fixed total of ${total} training images`,
              seriesOrder: [FLAT_LABEL, GROUP_LABEL],
            }),
          );
        }
      }, ["num_classes.csv"]);
      files.push((await writeReport(dir, (w) => console.error(`warning: ${w}`))).path);
      return { files, table };
    },
  );
  log(`wrote ${files.join(", ")} in ${seconds(t0)}`);
  // The compact view last, after a blank line; the full table is in the .md / .csv files.
  console.log("\n" + renderTerminal(table));
}

if (import.meta.main) await runTask(SPEC, main);
