/**
 * Line charts in a grid of panels: one row per metric (AUROC, FPR95, ...), one column per panel
 * (an OOD data set), one coloured line per series (MSP, MOS, a strategy). Figures 2, 5 and 9
 * (metric vs number of classes), 7 (metric vs backbone) and the Table 2 companion (metric vs
 * number of groups) are all this shape.
 *
 * @module
 */
import { baseConfig, seriesColors, titleOf, VEGA_LITE_SCHEMA, type VegaLiteSpec } from "./style.ts";

/** One plotted value. */
export interface LinePoint {
  /** Position on the x axis: a number (quantitative axis) or a category (ordinal axis). */
  x: number | string;
  /** Series (line) name, e.g. "MSP". */
  series: string;
  /** Panel (column) name, e.g. an OOD data set. */
  panel: string;
  /** Metric (row) name, e.g. "AUROC (%)". */
  metric: string;
  value: number;
}

/** Options of {@linkcode linePanelsSpec}. */
export interface LinePanelsOptions {
  points: readonly LinePoint[];
  title: string;
  subtitle?: string;
  /** x axis title, e.g. "number of classes C". */
  xTitle: string;
  /** "quantitative" (numbers, optional log scale) or "ordinal" (categories in `xOrder`). */
  xType?: "quantitative" | "ordinal";
  /** Category order of an ordinal x axis (default: first appearance). */
  xOrder?: readonly string[];
  /** Log-scaled quantitative x axis (numbers of groups span 2..789). */
  xLog?: boolean;
  /** Tick values of a quantitative x axis (default: 1-2-5 steps on a log axis, else automatic). */
  xTicks?: readonly number[];
  /** Series order (legend and colour assignment); default: first appearance. */
  seriesOrder?: readonly string[];
  /** Panel order; default: first appearance. */
  panelOrder?: readonly string[];
  /** Metric (row) order; default: first appearance. */
  metricOrder?: readonly string[];
  /** Legend title (default "method"). */
  legendTitle?: string;
  /** Size of one panel in pixels (default 170 x 130). */
  width?: number;
  height?: number;
}

/** 1-2-5 tick values (1, 2, 5, 10, 20, ...) between `min` and `max`, inclusive. */
export function logTicks(min: number, max: number): number[] {
  const out: number[] = [];
  if (!(min > 0) || !(max >= min)) return out;
  for (let e = Math.floor(Math.log10(min)); 10 ** e <= max; e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= min && v <= max) out.push(v);
    }
  }
  return out;
}

/** Distinct values in order of first appearance. */
export function firstAppearance<T>(values: Iterable<T>): T[] {
  return [...new Set(values)];
}

/**
 * The Vega-Lite spec of a metric x panel grid of line charts. Each panel has its own y scale
 * (the paper's panels do too: FPR95 on iNaturalist and on Textures span very different ranges).
 * Non-finite values are dropped (a missing point, not a zero).
 */
export function linePanelsSpec(o: LinePanelsOptions): VegaLiteSpec {
  const points = o.points.filter((p) => Number.isFinite(p.value));
  const series = o.seriesOrder ? [...o.seriesOrder] : firstAppearance(points.map((p) => p.series));
  const panels = o.panelOrder ? [...o.panelOrder] : firstAppearance(points.map((p) => p.panel));
  const metrics = o.metricOrder ? [...o.metricOrder] : firstAppearance(points.map((p) => p.metric));
  const xType = o.xType ?? "quantitative";
  const x: Record<string, unknown> = {
    field: "x",
    type: xType,
    title: o.xTitle,
  };
  if (xType === "ordinal") {
    x.sort = o.xOrder ? [...o.xOrder] : firstAppearance(points.map((p) => String(p.x)));
    x.axis = { labelAngle: -30 };
  } else {
    x.scale = o.xLog ? { type: "log", nice: false } : { zero: false, nice: false };
    const xs = points.map((p) => Number(p.x)).filter((v) => v > 0);
    const ticks = o.xTicks ??
      (o.xLog && xs.length > 0 ? logTicks(Math.min(...xs), Math.max(...xs)) : undefined);
    x.axis = ticks ? { values: [...ticks], format: "~s" } : { tickCount: 5 };
  }
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: titleOf(o.title, o.subtitle),
    data: {
      values: points.map((p) => ({
        x: p.x,
        series: p.series,
        panel: p.panel,
        metric: p.metric,
        value: p.value,
      })),
    },
    facet: {
      row: { field: "metric", type: "nominal", sort: metrics, header: { title: null } },
      column: { field: "panel", type: "nominal", sort: panels, header: { title: null } },
    },
    spec: {
      width: o.width ?? 170,
      height: o.height ?? 130,
      mark: { type: "line", point: { size: 36 }, strokeWidth: 2 },
      encoding: {
        x,
        y: { field: "value", type: "quantitative", title: null, scale: { zero: false } },
        color: {
          field: "series",
          type: "nominal",
          title: o.legendTitle ?? "method",
          sort: series,
          scale: { domain: series, range: seriesColors(series) },
        },
        tooltip: [
          { field: "series", title: "series" },
          { field: "x", title: o.xTitle },
          { field: "value", format: ".2f" },
        ],
      },
    },
    resolve: { scale: { y: "independent" } },
    config: baseConfig(),
  };
}
