/**
 * Line charts in a grid of panels: one row per metric (AUROC, FPR95, ...), one column per panel
 * (an OOD data set), one line per series (MSP, MOS, a strategy), told apart by colour, dash and
 * point shape so that coinciding lines stay visible. Figures 2, 5 and 9
 * (metric vs number of classes), 7 (metric vs backbone) and the Table 2 companion (metric vs
 * number of groups) are all this shape.
 *
 * @module
 */
import {
  baseConfig,
  seriesStyles,
  SIDE_LEGEND,
  titleOf,
  VEGA_LITE_SCHEMA,
  type VegaLiteSpec,
} from "./style.ts";
import { textWidth } from "./text_metrics.ts";

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
  /** Tick values of a quantitative x axis, all labelled (default: {@linkcode dataTicks}). */
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

/** Distinct values in order of first appearance. */
export function firstAppearance<T>(values: Iterable<T>): T[] {
  return [...new Set(values)];
}

/** Blank space, in pixels, kept between neighbouring x tick labels. */
export const TICK_LABEL_GAP_PX = 6;

/** Most distinct x values that still get one tick each. */
export const MAX_DATA_TICKS = 30;

/** Ticks of an x axis: where ticks go, and which of them carry a label. */
export interface DataTicks {
  values: number[];
  labelled: number[];
}

/**
 * Ticks at the data's own x values (e.g. every number of classes C, so C = 50 is marked), for an
 * axis `width` pixels wide, linear or log. Every value gets a tick; labels are kept from the
 * smallest value up wherever they fit beside the previous label (`fontSize` px text, as
 * "~r" formats it, {@linkcode TICK_LABEL_GAP_PX} apart), and the largest value is always
 * labelled, replacing the labels it would crowd. Undefined (automatic ticks) for no values or more
 * than {@linkcode MAX_DATA_TICKS}.
 */
export function dataTicks(
  xs: readonly number[],
  width: number,
  log: boolean,
  fontSize = 11,
): DataTicks | undefined {
  const t = (v: number) => (log ? Math.log10(v) : v);
  const values = [...new Set(xs.filter((v) => Number.isFinite(v) && (!log || v > 0)))]
    .sort((a, b) => a - b);
  if (values.length === 0 || values.length > MAX_DATA_TICKS) return undefined;
  if (values.length === 1) return { values, labelled: values };
  const lo = t(values[0]);
  const span = t(values[values.length - 1]) - lo;
  const px = (v: number) => ((t(v) - lo) / span) * width;
  const half = (v: number) => textWidth(formatTick(v), fontSize) / 2;
  const fits = (a: number, b: number) => px(b) - px(a) >= half(a) + half(b) + TICK_LABEL_GAP_PX;
  const labelled = [values[0]];
  for (const v of values.slice(1)) {
    if (fits(labelled[labelled.length - 1], v)) labelled.push(v);
  }
  const last = values[values.length - 1];
  if (labelled[labelled.length - 1] !== last) {
    while (labelled.length > 1 && !fits(labelled[labelled.length - 1], last)) labelled.pop();
    labelled.push(last);
  }
  return { values, labelled };
}

/** A tick label as the axis writes it: d3-format "~r" (50, 1000, 0.5; no "1k", no "1,000"). */
export function formatTick(v: number): string {
  return String(Number(v.toPrecision(6)));
}

/** Options of {@linkcode styledLineLayers}. */
export interface StyledLineOptions {
  series: readonly string[];
  legendTitle: string;
  x: Record<string, unknown>;
  y: Record<string, unknown>;
  tooltip?: Record<string, unknown>[];
}

/**
 * A line layer and a point layer, one series per `series` field value: colour and dash on the
 * line, colour and shape on the hollow points, all in one legend. The first series' points are
 * the largest, so points at the same place (equal values) show as a shape inside a shape.
 */
export function styledLineLayers(o: StyledLineOptions): Record<string, unknown>[] {
  const series = [...o.series];
  const styles = seriesStyles(series);
  const legend = { ...SIDE_LEGEND, symbolStrokeWidth: 2 };
  const scale = (range: unknown[]) => ({ domain: series, range });
  const color = {
    field: "series",
    type: "nominal",
    title: o.legendTitle,
    sort: series,
    scale: scale(styles.map((s) => s.color)),
    legend,
  };
  const common = { x: o.x, y: o.y, color, ...(o.tooltip ? { tooltip: o.tooltip } : {}) };
  return [
    {
      mark: { type: "line" },
      encoding: {
        ...common,
        // Later series are drawn first and wider, so where lines coincide the dashed first series
        // runs on top of a wider solid band and both show.
        strokeWidth: {
          condition: series.map((name, i) => ({
            test: `datum.series === ${JSON.stringify(name)}`,
            value: lineWidth(i, series.length),
          })),
          value: lineWidth(0, 1),
        },
        strokeDash: {
          field: "series",
          type: "nominal",
          title: o.legendTitle,
          sort: series,
          scale: scale(styles.map((s) => s.dash)),
          legend,
        },
      },
    },
    {
      mark: { type: "point", filled: false, strokeWidth: 1.6, opacity: 1 },
      encoding: {
        ...common,
        shape: {
          field: "series",
          type: "nominal",
          title: o.legendTitle,
          sort: series,
          scale: scale(styles.map((s) => s.shape)),
          legend,
        },
        // A value per series, not a scale: a size scale would need a legend of its own.
        size: {
          condition: series.map((name, i) => ({
            test: `datum.series === ${JSON.stringify(name)}`,
            value: pointSize(i, series.length),
          })),
          value: pointSize(0, 1),
        },
      },
    },
  ];
}

/** Stroke width of the line of series `i` of `n`: 2 px for the first up to 3.5 for the last. */
export function lineWidth(i: number, n: number): number {
  return 2 + (1.5 * i) / Math.max(1, n - 1);
}

/** Area of the points of series `i` of `n`: 80 px² for the first down to 40 for the last. */
export function pointSize(i: number, n: number): number {
  return 80 - (40 * i) / Math.max(1, n - 1);
}

/**
 * Orders data rows so that series drawn later come first: Vega draws the lines of the series in
 * the order they first appear, and the first series of the legend (MSP, dashed) must be drawn on
 * top of the solid ones, else a solid line hides it where the two coincide.
 */
export function drawOrder<T extends { series: string }>(rows: T[], series: readonly string[]): T[] {
  const rank = new Map(series.map((s, i) => [s, i]));
  return rows
    .map((r, i) => ({ r, i }))
    .sort((a, b) => (rank.get(b.r.series) ?? -1) - (rank.get(a.r.series) ?? -1) || a.i - b.i)
    .map(({ r }) => r);
}

/**
 * The Vega-Lite spec of a metric x panel grid of line charts. Panels of one metric row share one
 * y scale, drawn once at the left of the row and titled with the metric, so panels of a row
 * compare at a glance; rows (different metrics) have their own. Non-finite values are dropped (a
 * missing point, not a zero).
 */
export function linePanelsSpec(o: LinePanelsOptions): VegaLiteSpec {
  const points = o.points.filter((p) => Number.isFinite(p.value));
  const series = o.seriesOrder ? [...o.seriesOrder] : firstAppearance(points.map((p) => p.series));
  const panels = o.panelOrder ? [...o.panelOrder] : firstAppearance(points.map((p) => p.panel));
  const metrics = o.metricOrder ? [...o.metricOrder] : firstAppearance(points.map((p) => p.metric));
  const width = o.width ?? 170;
  const xType = o.xType ?? "quantitative";
  const x: Record<string, unknown> = { field: "x", type: xType, title: o.xTitle };
  let axis: Record<string, unknown>;
  if (xType === "ordinal") {
    x.sort = o.xOrder ? [...o.xOrder] : firstAppearance(points.map((p) => String(p.x)));
    axis = { labelAngle: -30 };
  } else {
    x.scale = o.xLog ? { type: "log", nice: false } : { zero: false, nice: false };
    const ticks = o.xTicks
      ? { values: [...o.xTicks], labelled: [...o.xTicks] }
      : dataTicks(points.map((p) => Number(p.x)), width, !!o.xLog);
    axis = ticks
      ? {
        values: ticks.values,
        // Ticks whose label would crowd a neighbour's stay unlabelled (see dataTicks).
        labelExpr: `indexof(${
          JSON.stringify(ticks.labelled)
        }, datum.value) >= 0 ? format(datum.value, "~r") : ""`,
        labelOverlap: false,
        // Centred like the spacing above assumes: a flush end label is shifted inwards, onto its
        // neighbour (5000 and 21843 on a log axis).
        labelFlush: false,
      }
      : { tickCount: 5 };
  }
  const rows = metrics.map((metric, i) => {
    const last = i === metrics.length - 1;
    return {
      transform: [{ filter: { field: "metric", equal: metric } }],
      facet: {
        column: {
          field: "panel",
          type: "nominal",
          sort: panels,
          // Panel names head the first row only; the rows below hold the same panels.
          header: i === 0 ? { title: null } : { title: null, labels: false },
        },
      },
      spec: {
        width,
        height: o.height ?? 130,
        layer: styledLineLayers({
          series,
          legendTitle: o.legendTitle ?? "method",
          // Rows above the last repeat the x ticks without labels; the last row names them.
          x: { ...x, axis: last ? axis : { ...axis, labels: false, title: null } },
          y: { field: "value", type: "quantitative", title: metric, scale: { zero: false } },
          tooltip: [
            { field: "series", title: "series" },
            { field: "x", title: o.xTitle },
            { field: "value", format: ".2f" },
          ],
        }),
      },
      resolve: { scale: { y: "shared" } },
    };
  });
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: titleOf(o.title, o.subtitle),
    data: {
      values: drawOrder(
        points.map((p) => ({
          x: p.x,
          series: p.series,
          panel: p.panel,
          metric: p.metric,
          value: p.value,
        })),
        series,
      ),
    },
    vconcat: rows,
    spacing: 10,
    config: baseConfig(),
  };
}
