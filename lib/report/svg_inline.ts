/**
 * Prepares an SVG file for inlining into the report's HTML. Two things would go wrong if an SVG
 * were pasted in as it is:
 *
 * - ids are document-wide in HTML: two figures that both define `clip1` would make the second
 *   figure clip with the first one's path, so every id (and every `#id` / `url(#id)` reference)
 *   gets a per-figure prefix;
 * - an SVG found in a results directory is not necessarily ours: inline `<script>`, event
 *   attributes and links to other documents would run or fetch when the page opens, so they are
 *   removed (the page's Content-Security-Policy forbids them as well), leaving a page that works
 *   offline and runs no code.
 *
 * @module
 */
import { DOMParser, XMLSerializer } from "npm:@xmldom/xmldom@0.9.12";
import { DataError } from "../errors.ts";

/** Elements that run code, embed other documents or fetch: never inlined. */
const DROPPED_ELEMENTS = new Set([
  "script",
  "foreignobject",
  "iframe",
  "object",
  "embed",
  "audio",
  "video",
  "link",
  "meta",
]);

// deno-lint-ignore no-explicit-any
type XmlNode = any;

/** An SVG ready for the page, and its declared size. */
export interface InlinedSvg {
  svg: string;
  width: number;
  height: number;
  /** What was removed (element or attribute names), for a warning. */
  removed: string[];
}

/** Rewrites `url(#id)` references to the prefixed ids; other `url(...)` are reported as null. */
function rewriteUrls(value: string, prefix: string): string | null {
  let external = false;
  const out = value.replace(/url\(\s*(['"]?)([^'")]*)\1\s*\)/g, (_m, _q, target: string) => {
    if (target.startsWith("#")) return `url(#${prefix}${target.slice(1)})`;
    external = true;
    return "none";
  });
  return external ? null : out;
}

/**
 * Rounds every decimal number in `value` with more than `decimals` places (path data, transforms)
 * to `decimals` places, trailing zeros dropped: Vega writes coordinates to 15 digits, which makes
 * a figure of many curves several times larger than 0.01 px precision needs.
 */
export function roundNumbers(value: string, decimals: number): string {
  const re = new RegExp(`-?\\d*\\.\\d{${decimals + 1},}(?:e-?\\d+)?`, "g");
  return value.replace(re, (m) => {
    const r = Number(Number(m).toFixed(decimals));
    return String(Object.is(r, -0) ? 0 : r);
  });
}

/**
 * Parses `svg` as strict XML (a `DataError` naming `name` if it is not well-formed or not an
 * `<svg>`), prefixes every id with `prefix`, drops scripts, event handlers, external links and
 * external `url(...)` references, rounds path data and transforms to `o.decimals` places when
 * given, and serialises it without an XML declaration.
 */
export function inlineSvg(
  svg: string,
  prefix: string,
  name: string,
  o: { decimals?: number } = {},
): InlinedSvg {
  let problem: string | undefined;
  let doc: XmlNode;
  try {
    doc = new DOMParser({
      onError: (level: string, msg: string) => {
        if (level !== "warning") problem ??= msg;
      },
    }).parseFromString(svg, "image/svg+xml");
  } catch (e) {
    // xmldom stops at a fatal error by throwing its own ParseError.
    problem ??= e instanceof Error ? e.message : String(e);
  }
  if (problem !== undefined) {
    throw new DataError(`${name}: not well-formed SVG (${problem.split("\n")[0]})`);
  }
  const root: XmlNode = doc.documentElement;
  if (!root || root.localName !== "svg") {
    throw new DataError(`${name}: root element is ${root?.nodeName ?? "missing"}, not <svg>`);
  }
  const removed: string[] = [];
  const visit = (el: XmlNode) => {
    for (let i = el.attributes.length - 1; i >= 0; i--) {
      const a = el.attributes[i];
      const attr = String(a.name);
      const lower = attr.toLowerCase();
      const value = String(a.value);
      if (lower.startsWith("on")) {
        el.removeAttribute(attr);
        removed.push(attr);
      } else if (o.decimals !== undefined && (lower === "d" || lower === "transform")) {
        el.setAttribute(attr, roundNumbers(value, o.decimals));
      } else if (lower === "id") {
        el.setAttribute(attr, `${prefix}${value}`);
      } else if (lower === "href" || lower === "xlink:href") {
        if (value.startsWith("#")) el.setAttribute(attr, `#${prefix}${value.slice(1)}`);
        else if (!(value.startsWith("data:image/") && el.localName === "image")) {
          el.removeAttribute(attr);
          removed.push(attr);
        }
      } else if (value.includes("url(")) {
        const v = rewriteUrls(value, prefix);
        if (v === null) {
          el.removeAttribute(attr);
          removed.push(attr);
        } else el.setAttribute(attr, v);
      }
    }
    for (let c = el.firstChild; c;) {
      const next = c.nextSibling;
      if (c.nodeType === 1) {
        const tag = String(c.localName).toLowerCase();
        const css = tag === "style" && /@import|url\(\s*['"]?[^#'")]/.test(String(c.textContent));
        if (DROPPED_ELEMENTS.has(tag) || css) {
          el.removeChild(c);
          removed.push(`<${tag}>`);
        } else visit(c);
      } else if (c.nodeType === 7 || c.nodeType === 10) {
        // Processing instructions and doctypes have no place inside HTML.
        el.removeChild(c);
      }
      c = next;
    }
  };
  visit(root);
  const text = new XMLSerializer().serializeToString(root);
  return {
    svg: text,
    width: Number(root.getAttribute("width")) || 0,
    height: Number(root.getAttribute("height")) || 0,
    removed,
  };
}
