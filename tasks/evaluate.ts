/**
 * `deno task evaluate`: metrics for per-sample scores made anywhere (NumPy, PyTorch, OpenOOD,
 * pytorch-ood, this toolkit). One ID score file and one file per OOD set in; AUROC, FPR95,
 * AUPR-In and AUPR-Out out, printed as a table and, with `--out`, written as metrics.csv and
 * metrics.json (plus metrics_ci.csv with `--ci`) like a score run's.
 *
 * @module
 */
import { type NamedArg, parseIdAndOod } from "./_shared/named_paths.ts";
import { UsageError } from "../lib/errors.ts";
import { assertOutsideInputs, type NamedPath } from "../lib/io/containment.ts";
import { intervalsCsv, metricsJson } from "../lib/scoring/score_files.ts";
import { metricsCsv } from "../lib/metrics/metric_row.ts";
import { readScoreVector } from "../lib/io/score_vector.ts";
import { type IntervalRow, scoreMapIntervals } from "../lib/metrics/bootstrap.ts";
import type { MetricsConvention } from "../lib/metrics/convention.ts";
import { evaluate } from "../lib/metrics/evaluate.ts";
import type { MetricRow } from "../lib/metrics/metric_row.ts";
import { intervalsByRow } from "../lib/tables/interval_tables.ts";
import type { Cell, Table } from "../lib/tables/render.ts";
import { renderTerminal } from "../lib/tables/terminal.ts";
import { defineTask, type FlagValuesOf, runTask } from "./_shared/cli.ts";
import {
  metricsConventionFlag,
  metricsConventionFlags,
} from "./_shared/metrics_convention_flag.ts";
import { withResultDir } from "./_shared/result_dir.ts";
import { INTERVALS_FLAG_WORDING } from "./_shared/interval_note.ts";

export const SPEC = defineTask({
  name: "evaluate",
  summary: "Metrics (AUROC, FPR95, AUPR) for ID and OOD score files made anywhere.",
  usage: "deno task evaluate --id [NAME=]SCORES.npy --ood NAME=SCORES.npy [--ood ...] " +
    "[--higher-is-ood] [--ci] [--out DIR]",
  flags: {
    id: {
      type: "string",
      required: true,
      help: "[NAME=]FILE   ID scores, (N,) or (N, 1) float32 .npy (name default: id)",
    },
    ood: {
      type: "string",
      multiple: true,
      help: "NAME=FILE   scores of an OOD set (repeatable)",
    },
    "higher-is-ood": {
      type: "boolean",
      help: "the files score OOD-ness (e.g. pytorch-ood); default: higher = more in-distribution",
    },
    method: { type: "string", default: "scores", help: "NAME   method name for the rows" },
    ...metricsConventionFlags("paper"),
    ci: { type: "boolean", help: "bootstrap 95% intervals (metrics_ci.csv with --out)" },
    resamples: {
      type: "number",
      default: 1000,
      min: 1,
      integer: true,
      help: "N   bootstrap resamples (with --ci)",
    },
    "ci-seed": {
      type: "number",
      default: 0,
      min: 0,
      integer: true,
      help: "N   bootstrap seed (with --ci)",
    },
    out: { type: "string", help: "DIR   also write metrics.csv and metrics.json there" },
  },
  notes: [
    "Metrics are percent. FPR95 and AUPR follow --metrics-convention (paper: the MOS code's).",
  ],
});

type Values = FlagValuesOf<typeof SPEC.flags>;

/** The evaluate options from the typed flags; exported for tests. */
export function evaluateOptions(values: Values) {
  const sets = parseIdAndOod(values.id, values.ood, "FILE", "scores/sun.npy");
  const asFile = (s: NamedArg) => ({ name: s.name, file: s.path });
  const [id, ood] = [asFile(sets.id), sets.ood.map(asFile)];
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(values.method)) {
    throw new UsageError(`--method "${values.method}" must be letters, digits, "_", "-" or "."`);
  }
  return {
    id,
    ood,
    method: values.method,
    direction: values["higher-is-ood"] ? "higher-is-ood" as const : "higher-is-id" as const,
    convention: metricsConventionFlag(values, "paper"),
    ci: values.ci ? { resamples: values.resamples, seed: values["ci-seed"] } : undefined,
    out: values.out,
  };
}

/** Metric rows (percent) of `method` for every OOD set against the ID scores. */
export function metricRows(
  method: string,
  id: Float32Array,
  ood: readonly { name: string; scores: Float32Array }[],
  convention: MetricsConvention,
): MetricRow[] {
  return ood.map(({ name, scores }) => {
    const m = evaluate(id, scores, {
      fprConvention: convention,
      label: `${method} (ID vs OOD "${name}")`,
    });
    return {
      method,
      dataset: name,
      auroc: 100 * m.auroc,
      fpr95: 100 * m.fpr95,
      aupr_in: 100 * m.auprIn,
      aupr_out: 100 * m.auprOut,
    };
  });
}

/** The terminal table of metric rows, with an "Average" row when there are several sets. */
export function metricsTable(rows: readonly MetricRow[], idName: string): Table {
  const cells: Cell[][] = rows.map((r) => [r.dataset, r.auroc, r.fpr95, r.aupr_in, r.aupr_out]);
  if (rows.length > 1) {
    const mean = (k: "auroc" | "fpr95" | "aupr_in" | "aupr_out") =>
      rows.reduce((s, r) => s + r[k], 0) / rows.length;
    cells.push(["Average", mean("auroc"), mean("fpr95"), mean("aupr_in"), mean("aupr_out")]);
  }
  return {
    title: `${rows[0].method}: ID "${idName}" against each OOD set (%)`,
    columns: ["OOD set", "AUROC", "FPR95", "AUPR-In", "AUPR-Out"],
    rows: cells,
  };
}

async function main(values: Values): Promise<void> {
  const o = evaluateOptions(values);
  const inputs: NamedPath[] = [
    { label: "--id", path: o.id.file },
    ...o.ood.map((f) => ({ label: `--ood ${f.name}`, path: f.file })),
  ];
  // Before any file is read: an --out on an input is a usage error whatever the inputs hold.
  if (o.out !== undefined) assertOutsideInputs({ label: "--out", path: o.out }, inputs);
  const id = await readScoreVector(o.id.file, o.direction);
  const ood = [];
  for (const f of o.ood) {
    ood.push({ name: f.name, scores: await readScoreVector(f.file, o.direction) });
  }
  const rows = metricRows(o.method, id, ood, o.convention);
  let intervals: IntervalRow[] | undefined;
  if (o.ci) {
    const per = new Map([[o.id.name, id], ...ood.map((s) => [s.name, s.scores] as const)]);
    intervals = scoreMapIntervals(new Map([[o.method, per]]), o.id.name, o.ood.map((f) => f.name), {
      resamples: o.ci.resamples,
      seed: o.ci.seed,
      fprConvention: o.convention,
    });
  }
  if (o.out !== undefined) {
    await withResultDir(o.out, { purpose: "evaluate", inputs }, async (dir) => {
      await dir.commit(async (w) => {
        if (intervals) await w.text("metrics_ci.csv", intervalsCsv(intervals, o.ci!));
        await w.text("metrics.json", metricsJson(rows));
        await w.text("metrics.csv", metricsCsv(rows));
      }, ["metrics.csv"]);
    });
    console.error(`evaluate: wrote ${o.out}/metrics.csv and ${o.out}/metrics.json`);
  }
  console.log(renderTerminal(metricsTable(rows, o.id.name)));
  if (intervals) {
    console.log(
      "\n" + renderTerminal(intervalsByRow(intervals, undefined, INTERVALS_FLAG_WORDING)),
    );
  }
}

if (import.meta.main) await runTask(SPEC, main);
