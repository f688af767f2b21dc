/**
 * Grouped bar charts: one row per metric, one group of bars per category (an OOD data set) with
 * one coloured bar per series (MSP and MOS under each grouping strategy). Figure 6 is this shape;
 * {@linkcode accuracyChartSpec} adds the in-distribution accuracy of each series beneath, and
 * {@linkcode stackSpecs} stacks such charts into one figure.
 *
 * @module
 */
import { firstAppearance } from "./line_panels.ts";
import { baseConfig, seriesColors, titleOf, VEGA_LITE_SCHEMA, type VegaLiteSpec } from "./style.ts";

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
  /** Size of one row's plot in pixels (default 440 x 150). */
  width?: number;
  height?: number;
}

/** Grouped bars, one row per metric with its own y scale; non-finite values are dropped. */
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
        y: { field: "value", type: "quantitative", title: null },
        color: {
          field: "series",
          type: "nominal",
          title: o.legendTitle ?? "method",
          sort: series,
          scale: { domain: series, range: seriesColors(series) },
        },
        tooltip: [
          { field: "series" },
          { field: "category" },
          { field: "value", format: ".2f" },
        ],
      },
    },
    resolve: { scale: { y: "independent" } },
    config: baseConfig(),
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
  /** "bars": one labelled bar per series; "lines": accuracy vs `x`, one line per series. */
  kind: "bars" | "lines";
  title?: string;
  xTitle?: string;
  xOrder?: readonly string[];
  seriesOrder?: readonly string[];
  legendTitle?: string;
  width?: number;
  height?: number;
}

/**
 * A small in-distribution accuracy chart (a unit spec meant for {@linkcode stackSpecs}): bars
 * labelled with their value, or lines over `x`. Non-finite values are dropped.
 */
export function accuracyChartSpec(o: AccuracyChartOptions): VegaLiteSpec {
  const points = o.points.filter((p) => Number.isFinite(p.value));
  const series = o.seriesOrder ? [...o.seriesOrder] : firstAppearance(points.map((p) => p.series));
  const color = {
    field: "series",
    type: "nominal",
    title: o.legendTitle ?? "method",
    sort: series,
    scale: { domain: series, range: seriesColors(series) },
  };
  const y = {
    field: "value",
    type: "quantitative",
    title: "ID top-1 accuracy (%)",
    scale: { zero: false },
  };
  const title = o.title ?? "In-distribution top-1 accuracy";
  if (o.kind === "bars") {
    return {
      title,
      data: { values: points.map((p) => ({ series: p.series, value: p.value })) },
      width: o.width ?? 440,
      height: o.height ?? 120,
      encoding: {
        x: {
          field: "series",
          type: "nominal",
          sort: series,
          title: null,
          axis: { labelAngle: -20, labelLimit: 0 },
        },
        y: { ...y, scale: { zero: true } },
      },
      layer: [
        // The x labels already name each bar, so this chart needs no legend.
        {
          mark: { type: "bar", width: { band: 0.6 } },
          encoding: { color: { ...color, legend: null } },
        },
        {
          mark: { type: "text", dy: -7, fontSize: 11 },
          encoding: { text: { field: "value", type: "quantitative", format: ".2f" } },
        },
      ],
    };
  }
  const xOrder = o.xOrder ? [...o.xOrder] : firstAppearance(points.map((p) => String(p.x)));
  return {
    title,
    data: { values: points.map((p) => ({ series: p.series, value: p.value, x: p.x })) },
    width: o.width ?? 300,
    height: o.height ?? 130,
    mark: { type: "line", point: { size: 36 }, strokeWidth: 2 },
    encoding: {
      x: {
        field: "x",
        type: "ordinal",
        sort: xOrder,
        title: o.xTitle ?? null,
        axis: { labelAngle: -30 },
      },
      y,
      color,
    },
  };
}

/**
 * Stacks charts vertically into one figure under one title. Each chart keeps its own colour scale
 * and legend (an accuracy chart's heads are not the detection chart's methods). Children lose
 * their own `$schema` and `config` (only the top level may carry them).
 */
export function stackSpecs(
  title: string,
  subtitle: string | undefined,
  charts: VegaLiteSpec[],
): VegaLiteSpec {
  const children = charts.map((c) => {
    const { $schema: _s, config: _c, ...rest } = c;
    return rest;
  });
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: titleOf(title, subtitle),
    vconcat: children,
    spacing: 28,
    resolve: { scale: { color: "independent" }, legend: { color: "independent" } },
    config: baseConfig(),
  };
}
