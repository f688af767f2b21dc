/**
 * table1-extended's tables from its detector stages: metrics per seed (metrics.csv), the chosen
 * hyperparameters (hyperparameters.csv), bootstrap intervals of the first seed (metrics_ci.csv)
 * and the extended Table 1 (lib/tables/extended_table.ts) with its notes.
 *
 * @module
 */
import type { Params } from "../../lib/detectors/registry.ts";
import {
  averageDistributions,
  type BootstrapDistribution,
  bootstrapDistribution,
  distributionIntervals,
  type MetricIntervals,
} from "../../lib/metrics/bootstrap.ts";
import { metricsConventionNote } from "../../lib/metrics/convention.ts";
import { evaluate } from "../../lib/metrics/evaluate.ts";
import type { FprConvention } from "../../lib/metrics/fpr95.ts";
import {
  type ExtendedEntry,
  type ExtendedMethod,
  extendedTable1,
  PERCENT_METRICS,
  type PercentMetric,
} from "../../lib/tables/extended_table.ts";
import { AVERAGE_LABEL, type OodGroups, summaryBlocks } from "../../lib/tables/ood_groups.ts";
import { renderCsv, renderMarkdown, type Table } from "../../lib/tables/render.ts";
import type { StageResult } from "./detector_stage.ts";

type Interval = { low: number; high: number };
type PercentIntervals = Record<PercentMetric, Interval>;

/** "k=v k=v", or "(none)" for a detector without parameters. */
export function paramText(p: Params): string {
  const e = Object.entries(p);
  return e.length ? e.map(([k, v]) => `${k}=${v}`).join(" ") : "(none)";
}

/** Intervals of fractions as percentages, keyed like the tables' metrics. */
export function percentIntervals(iv: MetricIntervals): PercentIntervals {
  const s = (i: Interval) => ({ low: 100 * i.low, high: 100 * i.high });
  return {
    auroc: s(iv.auroc),
    fpr95: s(iv.fpr95),
    aupr_in: s(iv.auprIn),
    aupr_out: s(iv.auprOut),
  };
}

/** What the tables are built from. */
export interface TableSource {
  /** Methods in table order, with their stage results per seed (methods without any: left out). */
  methods: string[];
  results: Map<string, StageResult[]>;
  seeds: number[];
  oodNames: string[];
  oodGroups?: OodGroups;
  fprConvention: FprConvention;
  /** Bootstrap settings, or null without --ci. */
  ci: { resamples: number; seed: number } | null;
}

/** The rows of metrics.csv / metrics_ci.csv and the table entries with their intervals. */
export interface MetricRows {
  entries: ExtendedEntry[];
  longRows: string[];
  ciRows: string[];
  averageCi: Record<string, PercentIntervals>;
  groupCi: Record<string, Record<string, PercentIntervals>>;
}

/**
 * Metrics of every method x OOD set x seed, each as metrics.csv stores it (4 decimals), and with
 * `ci` the first seed's bootstrap intervals per set, of the average and of each OOD group.
 */
export function metricRows(src: TableSource): MetricRows {
  const out: MetricRows = {
    entries: [],
    longRows: ["method,dataset,seed,auroc,fpr95,aupr_in,aupr_out"],
    ciRows: ["method,dataset,metric,estimate,ci_low,ci_high,resamples,seed"],
    averageCi: {},
    groupCi: {},
  };
  for (const key of src.methods) {
    const rs = src.results.get(key);
    if (!rs) continue;
    const dists: BootstrapDistribution[] = [];
    src.oodNames.forEach((name, k) => {
      const entry = methodEntry(src, key, rs, name, out.longRows);
      if (src.ci) {
        const d = bootstrapDistribution(rs[0].id, rs[0].ood.get(name)!, {
          resamples: src.ci.resamples,
          seed: src.ci.seed,
          oodSeed: src.ci.seed + 1 + k,
          fprConvention: src.fprConvention,
        });
        dists.push(d);
        entry.ci = percentIntervals(distributionIntervals(d));
        for (const mk of PERCENT_METRICS) {
          out.ciRows.push(
            [
              key,
              name,
              mk,
              entry.values[mk][0].toFixed(4),
              entry.ci[mk].low.toFixed(4),
              entry.ci[mk].high.toFixed(4),
              src.ci.resamples,
              src.ci.seed,
            ].join(","),
          );
        }
      }
      out.entries.push(entry);
    });
    if (src.ci) {
      out.averageCi[key] = percentIntervals(distributionIntervals(averageDistributions(dists)));
      for (const b of summaryBlocks(src.oodNames, src.oodGroups)) {
        if (b.label === AVERAGE_LABEL) continue;
        const part = b.sets.map((n) => dists[src.oodNames.indexOf(n)]);
        (out.groupCi[b.label] ??= {})[key] = percentIntervals(
          distributionIntervals(averageDistributions(part)),
        );
      }
    }
  }
  return out;
}

/** One method x set entry over the seeds; appends its metrics.csv rows to `longRows`. */
function methodEntry(
  src: TableSource,
  key: string,
  rs: StageResult[],
  name: string,
  longRows: string[],
): ExtendedEntry {
  const values: Record<PercentMetric, number[]> = {
    auroc: [],
    fpr95: [],
    aupr_in: [],
    aupr_out: [],
  };
  rs.forEach((r, si) => {
    const m = evaluate(r.id, r.ood.get(name)!, { fprConvention: src.fprConvention });
    const row = {
      auroc: 100 * m.auroc,
      fpr95: 100 * m.fpr95,
      aupr_in: 100 * m.auprIn,
      aupr_out: 100 * m.auprOut,
    };
    // The table is computed from the values as metrics.csv stores them (4 decimals), like
    // Table 1 from the score stage's metrics.csv: averages of exact ties (FPR95 counts
    // k / N) then round the same way in both tables, and anyone can recompute them.
    const stored = PERCENT_METRICS.map((mk) => row[mk].toFixed(4));
    PERCENT_METRICS.forEach((mk, i) => values[mk].push(Number(stored[i])));
    longRows.push([key, name, src.seeds[si], ...stored].join(","));
  });
  return { method: key, dataset: name, values };
}

/** hyperparameters.csv: the chosen parameters per method and seed with their val AUROC. */
export function hyperparameterRows(src: TableSource): string[] {
  const rows = ["method,seed,chosen,val_auroc,candidates"];
  for (const key of src.methods) {
    src.results.get(key)?.forEach((r, si) => {
      const best = r.trials.find((t) => JSON.stringify(t.params) === JSON.stringify(r.chosen));
      rows.push(
        [
          key,
          src.seeds[si],
          `"${paramText(r.chosen)}"`,
          best ? (100 * best.auroc).toFixed(4) : "",
          r.trials.length || 1,
        ].join(","),
      );
    });
  }
  return rows;
}

/** The text around the numbers. */
export interface TableText {
  protocol: string;
  synthetic: boolean;
  /** The protocol's note (first). */
  protocolNote: string;
  /** The stages' notes and the skipped methods' lines (after the CI note). */
  notes: string[];
  /** Table 1's test-time definition (last). */
  testTimeNote: string;
}

/** The extended Table 1 and every file of `<out>/<protocol>/`, by relative name. */
export function extendedTables(
  src: TableSource,
  text: TableText,
): { markdown: Table; files: [string, string][] } {
  const rows = metricRows(src);
  const { ci, seeds } = src;
  const tableNotes = [
    text.protocolNote,
    // The default convention's metrics are the paper's and need no note.
    ...(src.fprConvention === "openood" ? [metricsConventionNote(src.fprConvention)] : []),
    ...(ci
      ? [
        `95% CI: percentile bootstrap, ${ci.resamples} resamples (seed ${ci.seed}), ID and OOD ` +
        "resampled separately; the intervals of averages resample the shared ID rows jointly." +
        (seeds.length > 1 ? ` Intervals are of the first seed's head (seed ${seeds[0]}).` : ""),
      ]
      : []),
    ...text.notes,
    ...(text.synthetic
      ? ["SYNTHETIC DATA: the numbers show the pipeline working, not the paper's results."]
      : []),
    text.testTimeNote + (seeds.length > 1 ? ` The first seed's run (seed ${seeds[0]}).` : ""),
  ];
  const methods: ExtendedMethod[] = src.methods.flatMap((key) => {
    const rs = src.results.get(key);
    return rs ? [{ key, label: rs[0].label, seconds: rs[0].seconds }] : [];
  });
  const tables = extendedTable1(rows.entries, {
    methods,
    datasets: src.oodNames,
    ci: ci !== null,
    averageCi: ci ? rows.averageCi : undefined,
    oodGroups: src.oodGroups,
    groupCi: ci ? rows.groupCi : undefined,
    title: `Table 1 extended: AUROC / FPR95 (%), ${text.protocol} protocol` +
      (text.synthetic ? " (synthetic demo data)" : ""),
    notes: tableNotes,
  });
  const p = text.protocol;
  const files: [string, string][] = [
    [`${p}/table1_extended.csv`, renderCsv(tables.csv)],
    [`${p}/table1_extended.md`, renderMarkdown(tables.markdown)],
    [`${p}/metrics.csv`, rows.longRows.join("\n") + "\n"],
    [`${p}/hyperparameters.csv`, hyperparameterRows(src).join("\n") + "\n"],
  ];
  if (ci) files.push([`${p}/metrics_ci.csv`, rows.ciRows.join("\n") + "\n"]);
  return { markdown: tables.markdown, files };
}
