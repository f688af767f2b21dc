/**
 * The report's two score figures, as Vega-Lite specs in the look of lib/figures/style.ts:
 *
 * - {@linkcode curvesSpec}: ROC curves (top row) and precision-recall curves (bottom row), one
 *   column per OOD set, one line per method;
 * - {@linkcode histogramsSpec}: per method, a row of histograms of its ID scores against each OOD
 *   set's scores on shared bins, the panel header carrying the AUROC.
 *
 * Every panel of a row shares its axes (a row is one method or one curve kind), and the
 * subtitles say so; across rows the score axes differ because the methods' scores do.
 *
 * @module
 */
import type { RocCurve } from "../metrics/roc.ts";
import { baseConfig, seriesColors, VEGA_LITE_SCHEMA, type VegaLiteSpec } from "../figures/style.ts";
import { formatNumber } from "../tables/render.ts";
import { type Histogram, keepCorners, type PrCurve } from "./curves.ts";

/** One method's curves against one OOD set. */
export interface CurveSeries {
  /** Column (OOD set label). */
  panel: string;
  /** Line (method label). */
  series: string;
  roc: RocCurve;
  pr: PrCurve;
  /** Fraction of ID samples among ID + OOD: the precision of a detector that guesses. */
  idFraction: number;
}

/** Options of {@linkcode curvesSpec}. */
export interface CurvesOptions {
  curves: readonly CurveSeries[];
  title: string;
  /** Subtitle lines. */
  subtitle?: readonly string[];
  panelOrder: readonly string[];
  seriesOrder: readonly string[];
  /** Panel size in pixels (default 160). */
  size?: number;
}

/** A title with subtitle lines (Vega draws each line of the array on its own). */
function titleOf(text: string, subtitle?: readonly string[]): Record<string, unknown> {
  return subtitle?.length ? { text, subtitle: [...subtitle] } : { text };
}

const PERCENT_TICKS = [0, 25, 50, 75, 100];

function colorOf(series: readonly string[]): Record<string, unknown> {
  return {
    field: "series",
    type: "nominal",
    title: "method",
    sort: [...series],
    scale: { domain: [...series], range: seriesColors(series) },
  };
}

function axisPercent(title: string): Record<string, unknown> {
  return {
    type: "quantitative",
    title,
    scale: { domain: [0, 100], nice: false },
    axis: { values: PERCENT_TICKS },
  };
}

/**
 * ROC (x FPR, y TPR, dashed guide at TPR 95 %, where FPR95 is read) above precision-recall (x
 * recall of ID, y precision of ID, dashed guide at the ID fraction: a guessing detector's
 * precision) for every OOD set. Both in percent, so all panels share 0-100 axes.
 */
export function curvesSpec(o: CurvesOptions): VegaLiteSpec {
  const roc: Record<string, unknown>[] = [];
  const pr: Record<string, unknown>[] = [];
  const guides: Record<string, unknown>[] = [];
  const add = (to: Record<string, unknown>[], c: CurveSeries, xs: number[], ys: number[]) => {
    keepCorners(xs, ys).forEach((k, i) => {
      to.push({ panel: c.panel, series: c.series, i, x: 100 * xs[k], y: 100 * ys[k] });
    });
  };
  for (const c of o.curves) {
    add(roc, c, c.roc.fpr, c.roc.tpr);
    add(pr, c, c.pr.recall, c.pr.precision);
  }
  // The guessing precision depends only on the set sizes; one rule per panel.
  const seen = new Set<string>();
  for (const c of o.curves) {
    if (seen.has(c.panel)) continue;
    seen.add(c.panel);
    guides.push({ panel: c.panel, y: 100 * c.idFraction });
  }
  const size = o.size ?? 160;
  const color = colorOf(o.seriesOrder);
  const column = (showHeader: boolean) => ({
    field: "panel",
    type: "nominal",
    sort: [...o.panelOrder],
    header: showHeader ? { title: null } : { title: null, labels: false },
  });
  const line = (xTitle: string, yTitle: string) => ({
    mark: { type: "line", strokeWidth: 2, interpolate: "linear", aria: false },
    encoding: {
      x: { field: "x", ...axisPercent(xTitle) },
      y: { field: "y", ...axisPercent(yTitle) },
      order: { field: "i", type: "quantitative" },
      color,
    },
  });
  const rule = { type: "rule", strokeDash: [4, 4], color: "#555555", strokeWidth: 1 };
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: titleOf(o.title, o.subtitle),
    vconcat: [
      {
        facet: { column: column(true) },
        data: { values: roc },
        spec: {
          width: size,
          height: size,
          layer: [
            line("FPR: OOD accepted (%)", "TPR: ID accepted (%)"),
            {
              // One rule per panel: without the aggregate, a datum rule is drawn once per row.
              transform: [{ aggregate: [{ op: "count", as: "n" }], groupby: [] }],
              mark: rule,
              encoding: { y: { datum: 95 } },
            },
          ],
        },
      },
      {
        facet: { column: column(false) },
        data: { values: [...pr.map((p) => ({ ...p, kind: "curve" })), ...guides] },
        spec: {
          width: size,
          height: size,
          layer: [
            {
              transform: [{ filter: "datum.kind === 'curve'" }],
              ...line("recall of ID (%)", "precision of ID (%)"),
            },
            {
              transform: [{ filter: "datum.kind !== 'curve'" }],
              mark: rule,
              encoding: { y: { field: "y", type: "quantitative" } },
            },
          ],
        },
      },
    ],
    config: baseConfig(),
  };
}

/** One histogram panel: a method's ID and OOD scores against one OOD set. */
export interface HistogramPanel {
  /** Row (method label). */
  series: string;
  /** Column (OOD set label). */
  panel: string;
  /** AUROC in percent, shown in the panel header. */
  auroc: number;
  id: Histogram;
  ood: Histogram;
}

/** Options of {@linkcode histogramsSpec}. */
export interface HistogramsOptions {
  panels: readonly HistogramPanel[];
  title: string;
  /** Subtitle lines. */
  subtitle?: readonly string[];
  seriesOrder: readonly string[];
  panelOrder: readonly string[];
  /** Panel size in pixels (default 160 x 90). */
  width?: number;
  height?: number;
}

/** Colours of the two histogram sets: ID in the MOS blue, OOD in a contrasting red. */
export const HISTOGRAM_COLORS = Object.freeze({ id: "#1f77b4", ood: "#d62728" });

/**
 * Per method (row), one panel per OOD set: overlaid, half-transparent histograms of the ID and
 * the OOD scores (percent of each set per bin, bins shared by the row), headed by the set and the
 * AUROC. Rows are separate charts so each method keeps its own score axis.
 */
export function histogramsSpec(o: HistogramsOptions): VegaLiteSpec {
  const rows = o.seriesOrder.map((series) => {
    const values: Record<string, unknown>[] = [];
    const order: string[] = [];
    for (const panel of o.panelOrder) {
      const p = o.panels.find((q) => q.series === series && q.panel === panel);
      if (!p) continue;
      const header = `${panel}: AUROC ${formatNumber(p.auroc, 2)}`;
      order.push(header);
      for (const [set, h] of [["ID", p.id], ["OOD", p.ood]] as const) {
        // A step area needs the value at every left edge plus the closing right edge.
        h.fraction.forEach((f, b) => values.push({ header, set, x: h.edges[b], pct: 100 * f }));
        const last = h.fraction.length - 1;
        values.push({ header, set, x: h.edges[last + 1], pct: 100 * h.fraction[last] });
      }
    }
    return {
      title: { text: series, fontSize: 13, anchor: "start" },
      data: { values },
      facet: { column: { field: "header", type: "nominal", sort: order, header: { title: null } } },
      spec: {
        width: o.width ?? 160,
        height: o.height ?? 90,
        mark: {
          type: "area",
          interpolate: "step-after",
          opacity: 0.4,
          line: { strokeWidth: 1.25, aria: false },
          aria: false,
        },
        encoding: {
          x: {
            field: "x",
            type: "quantitative",
            title: "score",
            scale: { zero: false, nice: false },
            axis: { tickCount: 4, labelOverlap: "greedy", labelFlush: true },
          },
          y: { field: "pct", type: "quantitative", title: "% of set", stack: null },
          color: {
            field: "set",
            type: "nominal",
            title: "scores of",
            sort: ["ID", "OOD"],
            scale: { domain: ["ID", "OOD"], range: [HISTOGRAM_COLORS.id, HISTOGRAM_COLORS.ood] },
          },
        },
      },
    };
  });
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: titleOf(o.title, o.subtitle),
    vconcat: rows,
    config: baseConfig(),
  };
}
