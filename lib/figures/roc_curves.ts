/**
 * ROC curves (Figure 11): true positive rate (ID accepted) against false positive rate (OOD
 * accepted) as the threshold sweeps the scores, one panel per OOD set, one line per method.
 * {@linkcode rocPoints} turns two score arrays into a thinned curve small enough to draw.
 *
 * @module
 */
import { type ScoreCurve, scoreCurve, type Scores } from "../metrics/auroc.ts";
import { drawOrder, firstAppearance } from "./line_panels.ts";
import {
  baseConfig,
  seriesStyles,
  SIDE_LEGEND,
  titleOf,
  VEGA_LITE_SCHEMA,
  type VegaLiteSpec,
} from "./style.ts";

/** A ROC curve as fractions in [0, 1], from (0, 0) to (1, 1), FPR non-decreasing. */
export interface RocCurve {
  /** False-positive rates: fraction of OOD samples accepted as ID at each threshold. */
  fpr: number[];
  /** True-positive rates: fraction of ID samples accepted (ID is the positive class). */
  tpr: number[];
}

/**
 * The ROC curve of ID (positive) vs OOD scores, higher = more ID: one vertex per distinct score
 * (ties form one step, as in sklearn's `roc_curve`), thinned to at most about `maxPoints`
 * vertices by keeping a vertex only when it moved at least `1 / maxPoints` in FPR or TPR from the
 * last kept one (the first and last vertices are always kept), so the drawn shape is unchanged at
 * plotting resolution.
 */
export function rocPoints(id: Scores, ood: Scores, maxPoints = 200): RocCurve {
  return rocFromCurve(scoreCurve(id, ood), maxPoints);
}

/** {@linkcode rocPoints} from a prepared {@linkcode scoreCurve}, so one sort can serve several curves. */
export function rocFromCurve(c: ScoreCurve, maxPoints = 200): RocCurve {
  if (!Number.isInteger(maxPoints) || maxPoints < 2) {
    throw new RangeError(`maxPoints must be an integer >= 2, got ${maxPoints}`);
  }
  const fpr = [0];
  const tpr = [0];
  const step = 1 / maxPoints;
  let ni = 0;
  let no = 0;
  for (let g = 0; g < c.length; g++) {
    ni += c.idCount[g];
    no += c.oodCount[g];
    const f = no / c.numOod;
    const t = ni / c.numId;
    const last = g === c.length - 1;
    if (
      last || f - fpr[fpr.length - 1] >= step || t - tpr[tpr.length - 1] >= step
    ) {
      fpr.push(f);
      tpr.push(t);
    }
  }
  return { fpr, tpr };
}

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
