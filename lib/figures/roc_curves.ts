/**
 * ROC curves (Figure 11): true positive rate (ID accepted) against false positive rate (OOD
 * accepted) as the threshold sweeps the scores, one panel per OOD set, one line per method.
 * The curves come from `rocPoints` (lib/metrics/roc.ts), thinned small enough to draw.
 *
 * @module
 */
import type { RocCurve } from "../metrics/roc.ts";
import { drawOrder, firstAppearance } from "./line_panels.ts";
import {
  baseConfig,
  seriesStyles,
  SIDE_LEGEND,
  titleOf,
  VEGA_LITE_SCHEMA,
  type VegaLiteSpec,
} from "./style.ts";

/** One curve to draw. */
export interface RocSeries {
  /** Panel (OOD data set). */
  panel: string;
  /** Line (method). */
  series: string;
  curve: RocCurve;
}

/** Options of {@linkcode rocCurvesSpec}. */
export interface RocCurvesOptions {
  curves: readonly RocSeries[];
  title: string;
  subtitle?: string;
  panelOrder?: readonly string[];
  seriesOrder?: readonly string[];
  /** Legend title (default "method"). */
  legendTitle?: string;
  /** Draw a dashed guide at this TPR in percent (default 95, where FPR95 is read); null: none. */
  tprGuide?: number | null;
  /** Panel size in pixels (default 170). */
  size?: number;
}

/** ROC curves in percent, one square panel per OOD set, with a dashed TPR = 95% guide. */
export function rocCurvesSpec(o: RocCurvesOptions): VegaLiteSpec {
  const series = o.seriesOrder
    ? [...o.seriesOrder]
    : firstAppearance(o.curves.map((c) => c.series));
  const panels = o.panelOrder ? [...o.panelOrder] : firstAppearance(o.curves.map((c) => c.panel));
  const styles = seriesStyles(series);
  const values: { series: string; [key: string]: unknown }[] = [];
  for (const c of o.curves) {
    c.curve.fpr.forEach((f, i) => {
      values.push({
        panel: c.panel,
        series: c.series,
        i,
        fpr: 100 * f,
        tpr: 100 * c.curve.tpr[i],
      });
    });
  }
  const guide = o.tprGuide === undefined ? 95 : o.tprGuide;
  const axis = { values: [0, 25, 50, 75, 100] };
  const layer: Record<string, unknown>[] = [
    {
      mark: { type: "line", strokeWidth: 2, interpolate: "linear" },
      encoding: {
        x: {
          field: "fpr",
          type: "quantitative",
          title: "FPR: OOD accepted (%)",
          scale: { domain: [0, 100] },
          axis,
        },
        y: {
          field: "tpr",
          type: "quantitative",
          title: "TPR: ID accepted (%)",
          scale: { domain: [0, 100] },
          axis,
        },
        order: { field: "i", type: "quantitative" },
        color: {
          field: "series",
          type: "nominal",
          title: o.legendTitle ?? "method",
          sort: series,
          scale: { domain: series, range: styles.map((s) => s.color) },
          legend: { ...SIDE_LEGEND, symbolType: "stroke", symbolStrokeWidth: 2 },
        },
        // Dashed and solid as in the other figures, so curves that coincide stay visible.
        strokeDash: {
          field: "series",
          type: "nominal",
          title: o.legendTitle ?? "method",
          sort: series,
          scale: { domain: series, range: styles.map((s) => s.dash) },
          legend: { ...SIDE_LEGEND, symbolType: "stroke", symbolStrokeWidth: 2 },
        },
      },
    },
  ];
  if (guide !== null) {
    // One rule per panel: without the aggregate, a datum rule is drawn once per data row.
    layer.push({
      transform: [{ aggregate: [{ op: "count", as: "n" }], groupby: [] }],
      mark: { type: "rule", strokeDash: [4, 4], color: "#555555", strokeWidth: 1 },
      encoding: { y: { datum: guide } },
    });
  }
  const size = o.size ?? 170;
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: titleOf(o.title, o.subtitle),
    // The first series (dashed) last in the data, so it is drawn on top.
    data: { values: drawOrder(values, series) },
    facet: { column: { field: "panel", type: "nominal", sort: panels, header: { title: null } } },
    spec: { width: size, height: size, layer },
    config: baseConfig(),
  };
}
