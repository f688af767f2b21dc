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

/** Colours of methods and grouping strategies; the paper draws MSP in gray and MOS in blue. */
export const SERIES_COLORS: Readonly<Record<string, string>> = Object.freeze({
  MSP: "#8c8c8c",
  MOS: "#1f77b4",
  "MOS (taxonomy)": "#1f77b4",
  "MOS (feature clustering)": "#ff7f0e",
  "MOS (random grouping)": "#2ca02c",
  taxonomy: "#1f77b4",
  "feature clustering": "#ff7f0e",
  "random grouping": "#2ca02c",
  "flat softmax": "#8c8c8c",
  "group softmax": "#1f77b4",
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

/**
 * Colour of each series name, in order: the fixed colour when it has one, else the next unused
 * fallback colour (cycling), so the same names always get the same colours.
 */
export function seriesColors(names: readonly string[]): string[] {
  let next = 0;
  return names.map((n) => SERIES_COLORS[n] ?? FALLBACK_COLORS[next++ % FALLBACK_COLORS.length]);
}

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
