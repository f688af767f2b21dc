/**
 * Reads back a rendered figure: parses the SVG as strict XML and counts what Vega drew, per mark
 * type (one `path` per line series or bar, one `line` per rule), plus the legend labels. Used to
 * check that a figure shows the series and bars it should.
 *
 * @module
 */
// Inline npm specifier until deno.json maps "@xmldom/xmldom".
import { DOMParser } from "@xmldom/xmldom";
import { DataError } from "../errors.ts";

/** What a rendered figure contains. */
export interface SvgSummary {
  /** Drawn items per Vega mark type: `line` (series paths), `rect` (bars), `rule`, `symbol`, ... */
  marks: Record<string, number>;
  /** Legend entry labels in drawing order. */
  legendLabels: string[];
  /** Width and height of the root `<svg>`. */
  width: number;
  height: number;
}

// deno-lint-ignore no-explicit-any
type XmlNode = any;

/**
 * Parses `svg` (a `DataError` if it is not well-formed XML or has no `<svg>` root) and counts the
 * children of every Vega mark group (`<g class="mark-<type> role-mark ...">`).
 */
export function inspectSvg(svg: string): SvgSummary {
  const doc = new DOMParser({
    onError: (level: string, msg: string) => {
      if (level !== "warning") throw new DataError(`SVG is not well-formed XML: ${msg}`);
    },
  }).parseFromString(svg, "image/svg+xml");
  const root = doc.documentElement;
  if (!root || root.nodeName !== "svg") {
    throw new DataError(`SVG root element is ${root?.nodeName ?? "missing"}, expected <svg>`);
  }
  const marks: Record<string, number> = {};
  const legendLabels: string[] = [];
  const groups = doc.getElementsByTagName("g");
  for (let i = 0; i < groups.length; i++) {
    const g: XmlNode = groups[i];
    const cls = String(g.getAttribute("class") ?? "").split(/\s+/);
    const type = cls.find((c) => c.startsWith("mark-"))?.slice(5);
    if (type && cls.includes("role-mark")) {
      let n = 0;
      for (let j = 0; j < g.childNodes.length; j++) {
        if (g.childNodes[j].nodeType === 1) n++;
      }
      marks[type] = (marks[type] ?? 0) + n;
    }
    if (cls.includes("role-legend-label")) {
      const texts = g.getElementsByTagName("text");
      for (let j = 0; j < texts.length; j++) legendLabels.push(String(texts[j].textContent));
    }
  }
  return {
    marks,
    legendLabels,
    width: Number(root.getAttribute("width")),
    height: Number(root.getAttribute("height")),
  };
}
