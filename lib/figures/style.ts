/**
 * Shared look of every figure: the paper's colours (MSP gray, MOS blue), readable fonts, and the
 * Vega-Lite `config` block the builders attach. A spec is a plain JSON object, so builders stay
 * pure and testable without a renderer.
 *
 * @module
 */

/** A Vega-Lite specification (plain JSON). */
export type VegaLiteSpec = Record<string, unknown>;

/** Vega-Lite schema URL the specs declare (vega-lite 6). */
export const VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";

/** Figure label of the flat softmax head, scored with MSP (a classifier first, its score second). */
export const FLAT_LABEL = "flat softmax (MSP)";

/** Figure label of the group softmax head, scored with MOS. */
export const GROUP_LABEL = "group softmax (MOS)";

/** Figure label of a group softmax head whose groups came from `grouping` (e.g. "taxonomy"). */
export function groupLabel(grouping: string): string {
  return `${GROUP_LABEL}, ${grouping}`;
}

/** How one series is drawn: colour, line dash and point shape, so no two series look alike. */
export interface SeriesStyle {
  color: string;
  /** Vega stroke dash array; [] is a solid line. */
  dash: number[];
  /** Vega point shape ("circle", "square", "triangle-up", "diamond", ...). */
  shape: string;
}

/**
 * Styles of known series. The paper draws MSP in gray and MOS in blue; the flat head is also
 * dashed with square points and the group head solid with circles, so the two stay apart where
 * their lines coincide and in grayscale. Grouping strategies share MOS's blue for the taxonomy.
 */
export const SERIES_STYLES: Readonly<Record<string, SeriesStyle>> = Object.freeze({
  MSP: { color: "#8c8c8c", dash: [6, 3], shape: "square" },
  MOS: { color: "#1f77b4", dash: [], shape: "circle" },
  [FLAT_LABEL]: { color: "#8c8c8c", dash: [6, 3], shape: "square" },
  [GROUP_LABEL]: { color: "#1f77b4", dash: [], shape: "circle" },
  [groupLabel("taxonomy")]: { color: "#1f77b4", dash: [], shape: "circle" },
  [groupLabel("feature clustering")]: { color: "#ff7f0e", dash: [2, 2], shape: "triangle-up" },
  [groupLabel("random grouping")]: { color: "#2ca02c", dash: [8, 3, 2, 3], shape: "diamond" },
  "MOS (taxonomy)": { color: "#1f77b4", dash: [], shape: "circle" },
  "MOS (feature clustering)": { color: "#ff7f0e", dash: [2, 2], shape: "triangle-up" },
  "MOS (random grouping)": { color: "#2ca02c", dash: [8, 3, 2, 3], shape: "diamond" },
  "flat softmax": { color: "#8c8c8c", dash: [6, 3], shape: "square" },
  "group softmax": { color: "#1f77b4", dash: [], shape: "circle" },
  taxonomy: { color: "#1f77b4", dash: [], shape: "circle" },
  "feature clustering": { color: "#ff7f0e", dash: [2, 2], shape: "triangle-up" },
  "random grouping": { color: "#2ca02c", dash: [8, 3, 2, 3], shape: "diamond" },
});

/** Fallback palette (Tableau 10 without blue and gray, which the paper's series use). */
export const FALLBACK_COLORS: readonly string[] = Object.freeze([
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#bcbd22",
  "#17becf",
  "#ff7f0e",
  "#2ca02c",
]);

/** Fallback dashes and shapes, cycled with the fallback colours. */
const FALLBACK_DASHES: readonly number[][] = [[], [6, 3], [2, 2], [8, 3, 2, 3], [4, 4]];
const FALLBACK_SHAPES: readonly string[] = [
  "circle",
  "square",
  "triangle-up",
  "diamond",
  "triangle-down",
  "cross",
];

/**
 * Style of each series name, in order: the fixed style when it has one, else the next unused
 * fallback (colours, dashes and shapes cycling), so the same names always look the same.
 */
export function seriesStyles(names: readonly string[]): SeriesStyle[] {
  let next = 0;
  return names.map((n) => {
    const fixed = SERIES_STYLES[n];
    if (fixed) return fixed;
    const i = next++;
    return {
      color: FALLBACK_COLORS[i % FALLBACK_COLORS.length],
      dash: FALLBACK_DASHES[i % FALLBACK_DASHES.length],
      shape: FALLBACK_SHAPES[i % FALLBACK_SHAPES.length],
    };
  });
}

/** Colour of each series name, in order (see {@linkcode seriesStyles}). */
export function seriesColors(names: readonly string[]): string[] {
  return seriesStyles(names).map((s) => s.color);
}

/**
 * A legend placed right of the chart, one entry per line: entries sit at equal steps whatever the
 * label lengths (a horizontal legend spaces them by measured text width).
 */
export const SIDE_LEGEND: Readonly<Record<string, unknown>> = Object.freeze({
  orient: "right",
  direction: "vertical",
});

/** The Vega-Lite `config` of every figure: white background, 12 px labels, 13 px titles. */
export function baseConfig(): Record<string, unknown> {
  return {
    background: "white",
    font: "Helvetica, Arial, sans-serif",
    view: { stroke: "#bbbbbb" },
    axis: { labelFontSize: 11, titleFontSize: 12, gridColor: "#e6e6e6" },
    header: { labelFontSize: 12, titleFontSize: 12 },
    legend: {
      labelFontSize: 12,
      titleFontSize: 12,
      orient: "bottom",
      direction: "horizontal",
      labelLimit: 0,
    },
    title: { fontSize: 14, anchor: "start", offset: 12 },
  };
}

/** A figure title with an optional subtitle (e.g. "synthetic demo data"). */
export function titleOf(title: string, subtitle?: string): Record<string, unknown> {
  return subtitle ? { text: title, subtitle } : { text: title };
}
