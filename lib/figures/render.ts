/**
 * The one place a figure spec becomes an image: Vega-Lite is compiled to Vega and rendered
 * headless by Vega's SVG renderer (no browser, no canvas); sharp rasterises an SVG to PNG for
 * viewing. Warnings of the compiler and the view are collected and returned, never printed.
 *
 * @module
 */
import * as vega from "npm:vega@6.4.0";
import * as vegaLite from "npm:vega-lite@6.5.0";
import sharp from "npm:sharp@0.35.5";
import type { VegaLiteSpec } from "./style.ts";
import { vegaTextWidth } from "./text_metrics.ts";

// Headless Vega has no canvas to measure text and guesses 0.8 em per character, which misplaces
// legend entries and pads charts with blank space; measure with the font's glyph advances
// instead (Vega's documented hook for renderers without a canvas, as vl-convert uses).
// vega's typings leave `textMetrics` out; it is exported (vega-scenegraph) and meant to be set.
(vega as unknown as { textMetrics: { width: typeof vegaTextWidth } }).textMetrics.width =
  vegaTextWidth;

/** A rendered figure: the SVG text and any warnings Vega-Lite or Vega raised. */
export interface RenderedFigure {
  svg: string;
  warnings: string[];
}

/** A Vega logger that keeps warnings (and errors) in `sink` instead of printing them. */
function collectingLogger(sink: string[]) {
  let level = vega.Warn;
  const text = (args: unknown[]) => args.map((a) => String(a)).join(" ");
  const logger = {
    level(l?: number) {
      if (l === undefined) return level;
      level = l;
      return logger;
    },
    error(...args: unknown[]) {
      sink.push(`error: ${text(args)}`);
      return logger;
    },
    warn(...args: unknown[]) {
      if (level >= vega.Warn) sink.push(text(args));
      return logger;
    },
    info() {
      return logger;
    },
    debug() {
      return logger;
    },
  };
  return logger;
}

/**
 * Compiles a Vega-Lite spec and renders it to an SVG string, headless.
 *
 * @example
 * ```ts
 * import { linePanelsSpec } from "./line_panels.ts";
 * const points = [50, 100].map((x, i) => ({
 *   x, series: "MOS", panel: "iNaturalist", metric: "AUROC (%)", value: 90 + i,
 * }));
 * const { svg } = await renderSvg(linePanelsSpec({ points, title: "Fig 5", xTitle: "classes" }));
 * await Deno.writeTextFile("fig5.svg", svg);
 * ```
 */
export async function renderSvg(spec: VegaLiteSpec): Promise<RenderedFigure> {
  const warnings: string[] = [];
  const logger = collectingLogger(warnings);
  // deno-lint-ignore no-explicit-any
  const compiled = vegaLite.compile(spec as any, { logger: logger as any }).spec;
  // deno-lint-ignore no-explicit-any
  const view = new vega.View(vega.parse(compiled), { renderer: "none", logger: logger as any });
  try {
    const svg = await view.toSVG();
    return { svg, warnings };
  } finally {
    view.finalize();
  }
}

/** Rasterises SVG text to PNG bytes with sharp; `density` is in DPI (144 = 2x). */
export async function svgToPng(svg: string, density = 144): Promise<Uint8Array> {
  const buf = await sharp(new TextEncoder().encode(svg), { density }).png().toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
