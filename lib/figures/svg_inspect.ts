/**
 * Reads back a rendered figure: parses the SVG as strict XML and counts what Vega drew, per mark
 * type (one `path` per line series or bar, one `line` per rule), plus the legend entries and where
 * they sit, every axis with its labels, and how lines and points are drawn. Used to check that a
 * figure shows the series and bars it should, and shows them legibly.
 *
 * @module
 */
import { DOMParser } from "npm:@xmldom/xmldom@0.9.12";
import { DataError } from "../errors.ts";

/** A legend entry's label and where it is drawn (absolute SVG coordinates of its text). */
export interface LegendEntry {
  label: string;
  x: number;
  y: number;
}

/** One axis: its orientation (from Vega's aria-label), title and tick labels in order. */
export interface AxisSummary {
  orient: "x" | "y" | "?";
  title: string;
  labels: string[];
}

/** How one item of a mark is drawn: the SVG attributes Vega sets on it. */
export interface DrawnItem {
  stroke: string;
  /** `stroke-dasharray`, "" when solid. */
  dash: string;
  strokeWidth: number;
  fill: string;
  /** The path data (a point's shape, relative to its position). */
  d: string;
}

/** What a rendered figure contains. */
export interface SvgSummary {
  /** Drawn items per Vega mark type: `line` (series paths), `rect` (bars), `rule`, `symbol`, ... */
  marks: Record<string, number>;
  /** Legend entry labels in drawing order. */
  legendLabels: string[];
  /** Legend entries with their positions, in drawing order. */
  legendEntries: LegendEntry[];
  /** Every axis, in drawing order. */
  axes: AxisSummary[];
  /** Line series paths (`mark-line` items) and points (`mark-symbol` items), in drawing order. */
  lines: DrawnItem[];
  symbols: DrawnItem[];
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
  const legendEntries: LegendEntry[] = [];
  const axes: AxisSummary[] = [];
  const lines: DrawnItem[] = [];
  const symbols: DrawnItem[] = [];
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
      if (type === "line" || type === "symbol") {
        for (const el of elementChildren(g)) (type === "line" ? lines : symbols).push(drawn(el));
      }
    }
    if (cls.includes("role-legend-label")) {
      const texts = g.getElementsByTagName("text");
      for (let j = 0; j < texts.length; j++) {
        const label = String(texts[j].textContent);
        legendLabels.push(label);
        legendEntries.push({ label, ...position(texts[j]) });
      }
    }
    if (cls.includes("role-axis")) {
      const aria = String(g.getAttribute("aria-label") ?? "");
      const orient = aria.startsWith("X-axis") ? "x" : aria.startsWith("Y-axis") ? "y" : "?";
      axes.push({
        orient,
        title: textsOf(g, "role-axis-title").join(" "),
        labels: textsOf(g, "role-axis-label"),
      });
    }
  }
  return {
    marks,
    legendLabels,
    legendEntries,
    axes,
    lines,
    symbols,
    width: Number(root.getAttribute("width")),
    height: Number(root.getAttribute("height")),
  };
}

/** Element children of `node`. */
function elementChildren(node: XmlNode): XmlNode[] {
  const out: XmlNode[] = [];
  for (let j = 0; j < node.childNodes.length; j++) {
    if (node.childNodes[j].nodeType === 1) out.push(node.childNodes[j]);
  }
  return out;
}

/** Texts of the `<text>` elements under the descendant groups of `g` with class `role`. */
function textsOf(g: XmlNode, role: string): string[] {
  const out: string[] = [];
  const groups = g.getElementsByTagName("g");
  for (let i = 0; i < groups.length; i++) {
    if (!String(groups[i].getAttribute("class") ?? "").split(/\s+/).includes(role)) continue;
    const texts = groups[i].getElementsByTagName("text");
    for (let j = 0; j < texts.length; j++) out.push(String(texts[j].textContent));
  }
  return out;
}

/** The attributes that say how an item is drawn. */
function drawn(el: XmlNode): DrawnItem {
  const attr = (name: string) => String(el.getAttribute(name) ?? "");
  return {
    stroke: attr("stroke"),
    dash: attr("stroke-dasharray"),
    strokeWidth: Number(attr("stroke-width") || 1),
    fill: attr("fill"),
    d: attr("d"),
  };
}

/** Sum of the `translate(x,y)` of an element and all its ancestors: its absolute position. */
function position(el: XmlNode): { x: number; y: number } {
  let x = 0;
  let y = 0;
  for (let n = el; n && n.nodeType === 1; n = n.parentNode) {
    const m = /translate\(\s*([-\d.e]+)[ ,]+([-\d.e]+)\s*\)/.exec(
      String(n.getAttribute("transform") ?? ""),
    );
    if (m) {
      x += Number(m[1]);
      y += Number(m[2]);
    }
  }
  return { x, y };
}
