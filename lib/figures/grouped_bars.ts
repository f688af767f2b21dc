/**
 * Grouped bar charts: one row per metric, one group of bars per category (an OOD data set) with
 * one coloured bar per series (the flat head with MSP and the group head with MOS under each
 * grouping strategy). Figure 6 is this shape; {@linkcode accuracyChartSpec} adds the
 * in-distribution accuracy of each series beside it, and {@linkcode combineSpecs} puts such charts
 * into one figure.
 *
 * @module
 */
import { drawOrder, firstAppearance, styledLineLayers } from "./line_panels.ts";
import {
  baseConfig,
  seriesColors,
  SIDE_LEGEND,
  titleOf,
  VEGA_LITE_SCHEMA,
  type VegaLiteSpec,
} from "./style.ts";

/** One bar. */
export interface BarPoint {
  /** Category the bar is grouped under (x axis), e.g. an OOD data set. */
  category: string;
  /** Series (bar colour), e.g. "MOS (taxonomy)". */
  series: string;
  /** Metric (row), e.g. "AUROC (%)". */
  metric: string;
  value: number;
}

/** Options of {@linkcode groupedBarsSpec}. */
export interface GroupedBarsOptions {
  points: readonly BarPoint[];
  title: string;
  subtitle?: string;
  /** x axis title (default none: the categories speak for themselves). */
  xTitle?: string;
  categoryOrder?: readonly string[];
  seriesOrder?: readonly string[];
  metricOrder?: readonly string[];
  legendTitle?: string;
  /** y domain of every row, e.g. [0, 100] for percentages (default: from zero to the data's max). */
  yDomain?: readonly [number, number];
  /** Size of one row's plot in pixels (default 440 x 150). */
  width?: number;
  height?: number;
}

/**
 * Grouped bars, one row per metric, every row on one shared y scale (drawn on each row, so rows
 * compare directly); non-finite values are dropped.
 */
export function groupedBarsSpec(o: GroupedBarsOptions): VegaLiteSpec {
  const points = o.points.filter((p) => Number.isFinite(p.value));
  const series = o.seriesOrder ? [...o.seriesOrder] : firstAppearance(points.map((p) => p.series));
  const categories = o.categoryOrder
    ? [...o.categoryOrder]
    : firstAppearance(points.map((p) => p.category));
  const metrics = o.metricOrder ? [...o.metricOrder] : firstAppearance(points.map((p) => p.metric));
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: titleOf(o.title, o.subtitle),
    data: { values: points.map((p) => ({ ...p })) },
    facet: {
      row: { field: "metric", type: "nominal", sort: metrics, header: { title: null } },
    },
    spec: {
      width: o.width ?? 440,
      height: o.height ?? 150,
      mark: { type: "bar" },
      encoding: {
        x: {
          field: "category",
          type: "nominal",
          sort: categories,
          title: o.xTitle ?? null,
          axis: { labelAngle: 0 },
        },
        xOffset: { field: "series", type: "nominal", sort: series },
        y: {
          field: "value",
          type: "quantitative",
          title: null,
          scale: o.yDomain ? { domain: [...o.yDomain] } : { zero: true },
        },
        color: seriesColor(series, o.legendTitle ?? "method"),
        tooltip: [
          { field: "series" },
          { field: "category" },
          { field: "value", format: ".2f" },
        ],
      },
    },
    // Room between the rows, so one row's "0" and the next row's "100" labels stay apart.
    spacing: 24,
    resolve: { scale: { y: "shared" } },
    config: baseConfig(),
  };
}

/** The colour channel of `series`: fixed colours, one entry per series in a side legend. */
function seriesColor(series: string[], title: string, legend = true): Record<string, unknown> {
  return {
    field: "series",
    type: "nominal",
    title,
    sort: series,
    scale: { domain: series, range: seriesColors(series) },
    legend: legend ? { ...SIDE_LEGEND } : null,
  };
}

/** One accuracy value of a series (and, for line charts, its x position). */
export interface AccuracyPoint {
  series: string;
  /** Top-1 accuracy in percent. */
  value: number;
  /** x position for a line chart (e.g. a backbone); omit for bars. */
  x?: string;
}

/** Options of {@linkcode accuracyChartSpec}. */
export interface AccuracyChartOptions {
  points: readonly AccuracyPoint[];
  /**
   * "bars": one bar per series, its value written above it, named by the colour legend it shares
   * with the chart beside it; "lines": accuracy vs `x`, one line per series.
   */
  kind: "bars" | "lines";
  title?: string;
  /** A line under the title, e.g. how far apart two lines that overlap are. */
  subtitle?: string;
  xTitle?: string;
  xOrder?: readonly string[];
  seriesOrder?: readonly string[];
  legendTitle?: string;
  width?: number;
  height?: number;
}

/**
 * A small in-distribution accuracy chart (a unit or layer spec meant for
 * {@linkcode combineSpecs}): bars labelled with their value, or lines over `x` drawn like
 * {@linkcode linePanelsSpec}'s. Non-finite values are dropped.
 */
export function accuracyChartSpec(o: AccuracyChartOptions): VegaLiteSpec {
  const points = o.points.filter((p) => Number.isFinite(p.value));
  const series = o.seriesOrder ? [...o.seriesOrder] : firstAppearance(points.map((p) => p.series));
  const legendTitle = o.legendTitle ?? "method";
  const y = {
    field: "value",
    type: "quantitative",
    title: "ID top-1 accuracy (%)",
    scale: { zero: false },
  };
  const title = titleOf(o.title ?? "In-distribution top-1 accuracy", o.subtitle);
  if (o.kind === "bars") {
    return {
      title,
      data: { values: points.map((p) => ({ series: p.series, value: p.value })) },
      width: o.width ?? 30 * Math.max(1, series.length),
      height: o.height ?? 150,
      encoding: {
        // The colour legend names the bars (the same names and colours as the chart beside).
        x: { field: "series", type: "nominal", sort: series, title: null, axis: null },
        y: { ...y, scale: { domain: [0, 100] } },
      },
      layer: [
        {
          mark: { type: "bar", width: { band: 0.8 } },
          encoding: { color: seriesColor(series, legendTitle) },
        },
        {
          mark: { type: "text", dy: -7, fontSize: 10 },
          // Two decimals, as the tables print accuracy.
          encoding: { text: { field: "value", type: "quantitative", format: ".2f" } },
        },
      ],
    };
  }
  const xOrder = o.xOrder ? [...o.xOrder] : firstAppearance(points.map((p) => String(p.x)));
  return {
    title,
    data: {
      values: drawOrder(points.map((p) => ({ series: p.series, value: p.value, x: p.x })), series),
    },
    width: o.width ?? 300,
    height: o.height ?? 130,
    layer: styledLineLayers({
      series,
      legendTitle,
      x: {
        field: "x",
        type: "ordinal",
        sort: xOrder,
        title: o.xTitle ?? null,
        axis: { labelAngle: -30 },
      },
      y,
      tooltip: [{ field: "series" }, { field: "x" }, { field: "value", format: ".2f" }],
    }),
  };
}

/**
 * "group − flat: +0.37 to +0.74 points": the spread of the per-x accuracy differences (group head
 * minus flat head, in points), for the subtitle of an accuracy chart whose lines may overlap.
 * Undefined when no difference is finite.
 */
export function accuracyGapNote(gaps: readonly number[]): string | undefined {
  const finite = gaps.filter(Number.isFinite);
  if (finite.length === 0) return undefined;
  const f = (v: number) => `${v < 0 ? "−" : "+"}${Math.abs(v).toFixed(2)}`;
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  return `group − flat: ${f(lo) === f(hi) ? f(lo) : `${f(lo)} to ${f(hi)}`} points`;
}

/** Options of {@linkcode combineSpecs}. */
export interface CombineOptions {
  /** "vertical" (stacked, the default) or "horizontal" (side by side). */
  direction?: "vertical" | "horizontal";
  /**
   * One legend for all charts (their series share names, colours, dashes and shapes), instead of
   * one per chart (default false: an accuracy chart's heads need not be the detection methods).
   */
  shareLegend?: boolean;
}

/**
 * Puts charts into one figure under one title, stacked or side by side. Children lose their own
 * `$schema` and `config` (only the top level may carry them).
 */
export function combineSpecs(
  title: string,
  subtitle: string | undefined,
  charts: VegaLiteSpec[],
  o: CombineOptions = {},
): VegaLiteSpec {
  const children = charts.map((c) => {
    const { $schema: _s, config: _c, ...rest } = c;
    return rest;
  });
  const share = o.shareLegend ? "shared" : "independent";
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: titleOf(title, subtitle),
    [o.direction === "horizontal" ? "hconcat" : "vconcat"]: children,
    spacing: 28,
    resolve: {
      scale: { color: share, strokeDash: share, shape: share },
      legend: { color: share, strokeDash: share, shape: share },
    },
    config: baseConfig(),
  };
}
