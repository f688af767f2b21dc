/**
 * `buildReport`: one self-contained HTML page for a results directory. It holds the tables the
 * run wrote (Markdown rendered as HTML tables with their notes; CSV files that have no Markdown
 * twin under "Raw CSV files"), every SVG figure the run made (inlined), ROC and precision-recall
 * curves per method and OOD set and ID-vs-OOD score histograms per method (computed from the
 * `.npy` score files, drawn with Vega-Lite as every figure is), and the provenance of every
 * `manifest.json`.
 *
 * The page needs no network and runs no script: figures are inline SVG, the style sheet is
 * inline, and its Content-Security-Policy forbids everything else. For the same directory
 * contents the bytes are the same, except where the inputs themselves carry times
 * (`wall_seconds`, `created`, Test-time columns).
 *
 * @module
 */
import { parse } from "npm:csv-parse@7.0.3/sync";
import { renderSvg } from "../figures/render.ts";
import { TOOL_VERSION } from "../io/manifest.ts";
import { escapeHtml, htmlTable, numericColumn } from "./html.ts";
import { markdownToHtml } from "./markdown.ts";
import { type PageSection, renderPage } from "./page.ts";
import { provenanceHtml, provenanceRows } from "./provenance.ts";
import { type ResultsScan, type ScanLabels, scanResults, type TextFile } from "./scan.ts";
import { type ScoreFigures, scoreFigures } from "./score_section.ts";
import { inlineSvg } from "./svg_inline.ts";

/** Rows of a raw CSV file shown at most (the file has them all). */
export const MAX_CSV_ROWS = 500;

/** Options of {@linkcode buildReport}. */
export interface ReportOptions {
  /** Page title (default: "MOS toolkit report: <directory name>"). */
  title?: string;
  /** How errors name the results directory (see lib/report/scan.ts). */
  labels?: ScanLabels;
}

/** A built report: the page and what the caller may want to say about it. */
export interface Report {
  html: string;
  /** Counts of what is on the page. */
  counts: {
    tables: number;
    figures: number;
    scoreFigures: number;
    methods: number;
    manifests: number;
  };
  /** Things left out of the page (unreadable files, removed SVG content), one line each. */
  warnings: string[];
}

function baseName(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  const name = trimmed.slice(trimmed.lastIndexOf("/") + 1);
  return name === "" || name === "." ? "results" : name;
}

/** A figure element around an inlined SVG. */
function figureHtml(id: string, kind: string, svg: string, caption: string): string {
  return `<figure id="${id}" data-kind="${kind}">\n${svg}\n<figcaption>${caption}</figcaption>\n</figure>`;
}

function csvHtml(rel: string, text: string, warnings: string[]): string {
  let rows: string[][];
  try {
    rows = parse(text, { relax_column_count: true, skip_empty_lines: true }) as string[][];
  } catch (e) {
    warnings.push(
      `${rel}: not readable as CSV (${
        e instanceof Error ? e.message.split("\n")[0] : e
      }); shown as text`,
    );
    return `<pre>${escapeHtml(text.slice(0, 20000))}</pre>`;
  }
  if (rows.length === 0) return '<p class="note">Empty file.</p>';
  const [header, ...body] = rows;
  const shown = body.slice(0, MAX_CSV_ROWS).map((r) => header.map((_, j) => r[j] ?? ""));
  const align = header.map((_, j) =>
    (numericColumn(shown, j) ? "right" : "left") as "left" | "right"
  );
  const more = body.length > MAX_CSV_ROWS
    ? `<p class="note">First ${MAX_CSV_ROWS} of ${body.length} rows; the file has them all.</p>`
    : "";
  return htmlTable(header, shown, align) + more;
}

/** A `<ul>` of problem lines. */
function problemList(lines: readonly string[]): string {
  return `<ul class="problems">\n${
    lines.map((p) => `<li>${escapeHtml(p)}</li>`).join("\n")
  }\n</ul>`;
}

/**
 * The Tables section's HTML: Markdown first (titles and notes included), then the CSV files with
 * no Markdown twin; null when there is neither.
 */
export function tablesHtml(
  scan: Pick<ResultsScan, "markdown" | "csv">,
  warnings: string[],
): string | null {
  const parts: string[] = [];
  for (const md of scan.markdown) {
    parts.push(
      `<div class="table-file">\n${markdownToHtml(md.text)}\n<p class="meta">File: <code>${
        escapeHtml(md.rel)
      }</code></p>\n</div>`,
    );
  }
  if (scan.csv.length > 0) {
    parts.push("<h3>Raw CSV files</h3>");
    for (const c of scan.csv) {
      parts.push(
        `<details>\n<summary><code>${escapeHtml(c.rel)}</code></summary>\n${
          csvHtml(c.rel, c.text, warnings)
        }\n</details>`,
      );
    }
  }
  return parts.length > 0 ? parts.join("\n") : null;
}

/**
 * The run's own SVG figures, each inlined with its ids prefixed by `nextId()`; a figure that
 * cannot be inlined is left out and named in `warnings`, as is content removed from one.
 */
export function runFiguresHtml(
  svgs: readonly TextFile[],
  nextId: () => string,
  warnings: string[],
): string[] {
  const out: string[] = [];
  for (const f of svgs) {
    const id = nextId();
    try {
      const s = inlineSvg(f.text, `${id}-`, f.rel);
      if (s.removed.length > 0) {
        warnings.push(
          `${f.rel}: removed ${
            [...new Set(s.removed)].join(", ")
          } (no scripts or external links in the report)`,
        );
      }
      out.push(figureHtml(id, "run", s.svg, `<code>${escapeHtml(f.rel)}</code>`));
    } catch (e) {
      warnings.push(`${e instanceof Error ? e.message : e}; left out of the report`);
    }
  }
  return out;
}

/** The score section's HTML: what was drawn, the rendered curves and histograms, the problems. */
async function scoreSectionHtml(
  scores: ScoreFigures,
  nextId: () => string,
  warnings: string[],
): Promise<string> {
  const parts: string[] = [];
  parts.push(
    '<p class="note">Computed from the score files (<code>scores/&lt;method&gt;/&lt;set&gt;.npy' +
      "</code>; higher = more in-distribution), ID as the positive class. The AUROC in each " +
      "histogram's header is computed from the same files as the tables' (ties count half).</p>",
  );
  parts.push(
    htmlTable(
      ["method", "score directory", "ID set (samples)", "OOD sets (samples)"],
      scores.drawn.map((d) => [
        d.series,
        d.where,
        `${d.id} (${d.idCount})`,
        d.ood.map(([n, c]) => `${n} (${c})`).join(", "),
      ]),
    ),
  );
  for (const f of scores.figures) {
    const { svg, warnings: w } = await renderSvg(f.spec);
    for (const x of w) warnings.push(`${f.kind} figure: ${x}`);
    const id = nextId();
    parts.push(
      figureHtml(
        id,
        f.kind,
        inlineSvg(svg, `${id}-`, f.kind, { decimals: 1 }).svg,
        escapeHtml(f.caption),
      ),
    );
  }
  if (scores.problems.length > 0) parts.push(problemList(scores.problems));
  return parts.join("\n");
}

/**
 * Builds the report of `root`. Throws a `DataError` when `root` is not a readable directory (see
 * lib/report/scan.ts); a file that cannot be shown is left out and named in `warnings` and on the
 * page.
 *
 * @example
 * ```ts
 * import { writeTextAtomic } from "../io/atomic.ts";
 * const { html } = await buildReport("results/demo");
 * await writeTextAtomic("results/demo/report.html", html);
 * ```
 */
export async function buildReport(root: string, o: ReportOptions = {}): Promise<Report> {
  const scan = await scanResults(root, o.labels);
  const warnings: string[] = [...scan.problems];
  const sections: PageSection[] = [];
  let figureCount = 0;
  const nextId = () => `fig-${++figureCount}`;

  const tables = tablesHtml(scan, warnings);
  if (tables !== null) sections.push({ id: "tables", title: "Tables", html: tables });
  const runFigures = runFiguresHtml(scan.svg, nextId, warnings);
  if (runFigures.length > 0) {
    sections.push({ id: "figures", title: "Figures", html: runFigures.join("\n") });
  }
  // Curves and histograms from the score files.
  const scores = await scoreFigures(scan.scoreSets);
  warnings.push(...scores.problems);
  if (scores.drawn.length > 0 || scores.problems.length > 0) {
    const html = await scoreSectionHtml(scores, nextId, warnings);
    sections.push({ id: "scores", title: "Score curves and histograms", html });
  }
  const rows = provenanceRows(scan.manifests);
  sections.push({ id: "provenance", title: "Provenance", html: provenanceHtml(rows) });
  const otherProblems = warnings.filter((w) => !scores.problems.includes(w));
  if (otherProblems.length > 0) {
    sections.push({ id: "left-out", title: "Left out", html: problemList(otherProblems) });
  }

  const name = baseName(root);
  const counts = {
    tables: scan.markdown.length + scan.csv.length,
    figures: runFigures.length,
    scoreFigures: scores.figures.length,
    methods: scores.drawn.length,
    manifests: rows.length,
  };
  const html = renderPage({
    title: o.title ?? `MOS toolkit report: ${name}`,
    meta: [
      `Results directory <code>${escapeHtml(name)}</code>: ${counts.tables} table files, ` +
      `${counts.figures} figures, curves of ${counts.methods} methods, ${counts.manifests} ` +
      "manifests.",
      `Written by mos-toolkit ${escapeHtml(TOOL_VERSION)} on Deno ${
        escapeHtml(Deno.version.deno)
      }. Self-contained: open it in any browser, offline; it runs no script.`,
    ],
    sections,
  });
  return { html, counts, warnings };
}
