/**
 * Files written by scoring: `scores/<method>/<dataset>.npy` (float32, higher = more ID),
 * `metrics.csv` (`method,dataset,auroc,fpr95,aupr_in,aupr_out`, percent) and `timings.csv`
 * (`method,seconds`), and `metrics.json` (the rows of metrics.csv at full precision, for programs).
 * Every file is written atomically; `manifest.json` goes last.
 *
 * @module
 */
import { parse } from "npm:csv-parse@7.0.3/sync";
import { stringify } from "npm:csv-stringify@6.9.0/sync";
import { DataError } from "../errors.ts";
import { writeTextAtomic } from "../io/atomic.ts";
import { writeNpy } from "../io/npy.ts";
import type { IntervalRow } from "../metrics/bootstrap.ts";
import { type MetricRow, metricsCsv } from "../metrics/metric_row.ts";
import type { ScoreResult } from "./score_sets.ts";

/** The JSON twin of metrics.csv: the same rows and column names, values unrounded. */
export interface MetricsJson {
  /** The unit of every metric value. */
  unit: "percent";
  rows: MetricRow[];
}

/** Renders metric rows as metrics.json text (see {@linkcode MetricsJson}). */
export function metricsJson(rows: readonly MetricRow[]): string {
  const doc: MetricsJson = {
    unit: "percent",
    rows: rows.map((r) => ({
      method: r.method,
      dataset: r.dataset,
      auroc: r.auroc,
      fpr95: r.fpr95,
      aupr_in: r.aupr_in,
      aupr_out: r.aupr_out,
    })),
  };
  return JSON.stringify(doc, null, 2) + "\n";
}

/** Header of metrics_ci.csv. */
export const METRICS_CI_HEADER = [
  "method",
  "dataset",
  "metric",
  "estimate",
  "ci_low",
  "ci_high",
  "resamples",
  "seed",
];

/** Renders bootstrap intervals (percent) as metrics_ci.csv. */
export function intervalsCsv(
  rows: readonly IntervalRow[],
  ci: { resamples: number; seed: number },
): string {
  return stringify(
    rows.map((r) => [
      r.method,
      r.dataset,
      r.metric,
      r.estimate.toFixed(4),
      r.low.toFixed(4),
      r.high.toFixed(4),
      ci.resamples,
      ci.seed,
    ]),
    { header: true, columns: METRICS_CI_HEADER },
  );
}

/** Parses metrics_ci.csv; `source` names the file in errors. */
export function parseIntervalsCsv(text: string, source: string): IntervalRow[] {
  let records: Record<string, string>[];
  try {
    records = parse(text, { columns: true, skip_empty_lines: true, trim: true });
  } catch (e) {
    throw new DataError(`${source} is not valid CSV: ${(e as Error).message.split("\n")[0]}`);
  }
  return records.map((r, i) => {
    const num = (k: string) => {
      const v = Number(r[k]);
      if (r[k] === undefined || r[k] === "" || !Number.isFinite(v)) {
        throw new DataError(`${source} row ${i + 2}: ${k} "${r[k]}" is not a number`);
      }
      return v;
    };
    const metric = r.metric as IntervalRow["metric"];
    if (!["auroc", "fpr95", "aupr_in", "aupr_out"].includes(metric)) {
      throw new DataError(`${source} row ${i + 2}: unknown metric "${r.metric}"`);
    }
    return {
      method: r.method,
      dataset: r.dataset,
      metric,
      estimate: num("estimate"),
      low: num("ci_low"),
      high: num("ci_high"),
    };
  });
}

/** Renders `timings.csv`. */
export function timingsCsv(seconds: Record<string, number>): string {
  return stringify(
    Object.entries(seconds).map(([m, s]) => [m, s.toFixed(3)]),
    { header: true, columns: ["method", "seconds"] },
  );
}

/** Parses `timings.csv` into method -> seconds. */
export function parseTimingsCsv(text: string, source: string): Record<string, number> {
  const out: Record<string, number> = {};
  let records: Record<string, string>[];
  try {
    records = parse(text, { columns: true, skip_empty_lines: true, trim: true });
  } catch (e) {
    throw new DataError(`${source} is not valid CSV: ${(e as Error).message.split("\n")[0]}`);
  }
  for (const r of records) {
    const v = Number(r.seconds);
    if (typeof r.method !== "string" || !Number.isFinite(v)) {
      throw new DataError(`${source}: expected columns method,seconds`);
    }
    out[r.method] = v;
  }
  return out;
}

/** Writes every score array, metrics.csv, metrics.json and timings.csv under `outDir` (created). */
export async function writeScoreOutputs(outDir: string, result: ScoreResult): Promise<void> {
  for (const [method, per] of result.scores) {
    const dir = `${outDir}/scores/${method}`;
    await Deno.mkdir(dir, { recursive: true });
    for (const [dataset, s] of per) {
      await writeNpy(`${dir}/${dataset}.npy`, { dtype: "<f4", shape: [s.length], data: s });
    }
  }
  await writeTextAtomic(`${outDir}/metrics.csv`, metricsCsv(result.metrics));
  await writeTextAtomic(`${outDir}/metrics.json`, metricsJson(result.metrics));
  await writeTextAtomic(`${outDir}/timings.csv`, timingsCsv(result.seconds));
}
