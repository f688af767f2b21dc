/**
 * The report page's frame: `<head>` (a Content-Security-Policy that allows no script, no
 * network and no external resource, so the page is provably self-contained), the style sheet,
 * and the generator tag by which a later run recognises a report.html as its own before
 * replacing it.
 *
 * @module
 */
import { escapeHtml } from "./html.ts";

/** Content of the page's `<meta name="generator">`; marks a report.html as this toolkit's. */
export const REPORT_GENERATOR = "mos-toolkit report";

/**
 * Everything the page may load: nothing from anywhere, except its own inline style sheet and
 * `data:` images. Scripts are not allowed at all.
 */
export const REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; " +
  "base-uri 'none'; form-action 'none'";

/**
 * `html` with the text of every time cell (class `time`: measured seconds, timestamps) removed:
 * what two reports of the same results must agree on byte for byte.
 */
export function timelessReport(html: string): string {
  return html.replace(/(<(td|th) class="[^"]*\btime\b[^"]*">)[^<]*(<\/\2>)/g, "$1$3");
}

/** Whether `html` (a file's first bytes suffice) is a report this toolkit wrote. */
export function isToolkitReport(html: string): boolean {
  return html.slice(0, 4096).includes(`<meta name="generator" content="${REPORT_GENERATOR}">`);
}

const STYLE = `
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
  color: #1d1d1f; background: #fafafa; margin: 0; }
main { padding: 24px 32px 64px; max-width: 1400px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 21px; margin: 40px 0 12px; padding-top: 12px; border-top: 1px solid #ddd; }
h3 { font-size: 17px; margin: 24px 0 8px; }
h4 { font-size: 15px; margin: 16px 0 6px; }
nav { margin: 12px 0 0; }
nav a { margin-right: 16px; }
a { color: #0b5cad; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
pre { background: #f0f0f0; padding: 8px 12px; overflow-x: auto; max-height: 420px; }
p.note { margin: 6px 0; color: #444; max-width: 1100px; }
p.meta { color: #555; margin: 0; }
.table-wrap { overflow-x: auto; margin: 8px 0 12px; }
table { border-collapse: collapse; background: #fff; font-size: 13px; }
th, td { border: 1px solid #d5d5d5; padding: 3px 8px; text-align: left; white-space: nowrap; }
th { background: #efefef; white-space: normal; vertical-align: bottom; }
td.time { color: #666; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:nth-child(even) td { background: #f7f7f7; }
figure { margin: 16px 0 28px; background: #fff; border: 1px solid #e2e2e2; padding: 8px;
  display: inline-block; max-width: calc(100% - 18px); }
figure svg { display: block; max-width: 100%; height: auto; }
figcaption { font-size: 13px; color: #555; margin-top: 6px; }
details { margin: 6px 0; }
summary { cursor: pointer; }
ul.problems li { color: #9a3412; }
`;

/** One section of the page. */
export interface PageSection {
  id: string;
  title: string;
  html: string;
}

/** The whole page: title, one line under it, a table of contents, the sections. */
export function renderPage(o: {
  title: string;
  meta: string[];
  sections: readonly PageSection[];
}): string {
  const nav = o.sections.map((s) => `<a href="#${s.id}">${escapeHtml(s.title)}</a>`).join("\n");
  const body = o.sections.map((s) =>
    `<section id="${s.id}">\n<h2>${escapeHtml(s.title)}</h2>\n${s.html}\n</section>`
  ).join("\n");
  return [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    `<meta name="generator" content="${REPORT_GENERATOR}">`,
    `<meta http-equiv="Content-Security-Policy" content="${REPORT_CSP}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(o.title)}</title>`,
    `<style>${STYLE}</style>`,
    "</head>",
    "<body>",
    "<main>",
    `<h1>${escapeHtml(o.title)}</h1>`,
    ...o.meta.map((m) => `<p class="meta">${m}</p>`),
    `<nav>\n${nav}\n</nav>`,
    body,
    "</main>",
    "</body>",
    "</html>",
    "",
  ].join("\n");
}
