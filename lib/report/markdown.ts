/**
 * The Markdown the toolkit's tables are written in (lib/tables/render.ts), turned back into
 * HTML for the report: `#` headings, pipe tables (alignment from the rule line, `\|` escapes),
 * fenced code, and paragraphs (the table notes). Inline markup is limited to `code` spans; all
 * other text is escaped, so a table cannot inject markup into the page.
 *
 * @module
 */
import { type Align, escapeHtml, htmlTable } from "./html.ts";

/** One block of a Markdown document. */
export type MarkdownBlock =
  | { kind: "heading"; level: number; text: string }
  | { kind: "table"; header: string[]; align: Align[]; rows: string[][] }
  | { kind: "code"; text: string }
  | { kind: "paragraph"; text: string };

/** Splits a pipe-table line into trimmed cells, honouring `\|` escapes. */
export function splitRow(line: string): string[] {
  let s = line.trim();
  if (s.startsWith("|")) s = s.slice(1);
  if (s.endsWith("|") && !s.endsWith("\\|")) s = s.slice(0, -1);
  const cells: string[] = [];
  let cur = "";
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "\\" && s[i + 1] === "|") {
      cur += "|";
      i++;
    } else if (s[i] === "|") {
      cells.push(cur.trim());
      cur = "";
    } else cur += s[i];
  }
  cells.push(cur.trim());
  return cells;
}

const RULE_CELL = /^:?-{1,}:?$/;

/** Undoes the `\\|` escape lib/tables/render.ts applies to titles and cells. */
function unescapePipes(s: string): string {
  return s.replace(/\\\|/g, "|");
}

/** Parses the Markdown subset into blocks. */
export function parseMarkdown(text: string): MarkdownBlock[] {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  const blocks: MarkdownBlock[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    const t = line.trim();
    if (t === "") {
      i++;
      continue;
    }
    const h = /^(#{1,6})\s+(.*)$/.exec(t);
    if (h) {
      blocks.push({ kind: "heading", level: h[1].length, text: unescapePipes(h[2].trim()) });
      i++;
      continue;
    }
    if (t.startsWith("```")) {
      const body: string[] = [];
      i++;
      while (i < lines.length && !lines[i].trim().startsWith("```")) body.push(lines[i++]);
      i++;
      blocks.push({ kind: "code", text: body.join("\n") });
      continue;
    }
    if (t.startsWith("|")) {
      const run: string[] = [];
      while (i < lines.length && lines[i].trim().startsWith("|")) run.push(lines[i++]);
      const rule = run.length >= 2 ? splitRow(run[1]) : [];
      if (rule.length > 0 && rule.every((c) => RULE_CELL.test(c))) {
        const header = splitRow(run[0]);
        const rows = run.slice(2).map(splitRow).map((r) => header.map((_, j) => r[j] ?? ""));
        const align = header.map((_, j) => (rule[j]?.endsWith(":") ? "right" : "left") as Align);
        blocks.push({ kind: "table", header, align, rows });
      } else blocks.push({ kind: "paragraph", text: run.join(" ") });
      continue;
    }
    const para: string[] = [];
    while (
      i < lines.length && lines[i].trim() !== "" && !lines[i].trim().startsWith("|") &&
      !/^#{1,6}\s/.test(lines[i].trim()) && !lines[i].trim().startsWith("```")
    ) para.push(lines[i++].trim());
    blocks.push({ kind: "paragraph", text: unescapePipes(para.join(" ")) });
  }
  return blocks;
}

/** Escapes `s` and turns `` `code` `` spans into `<code>` elements. */
export function inlineHtml(s: string): string {
  return s.split("`").map((part, k) =>
    k % 2 === 1 ? `<code>${escapeHtml(part)}</code>` : escapeHtml(part)
  ).join("");
}

/**
 * HTML of a Markdown document. Headings are shifted so the document's top level becomes
 * `<h{topLevel}>` (the report nests each file under its own section).
 */
export function markdownToHtml(text: string, topLevel = 3): string {
  const blocks = parseMarkdown(text);
  const min = Math.min(
    7,
    ...blocks.filter((b) => b.kind === "heading").map((b) => (b as { level: number }).level),
  );
  return blocks.map((b) => {
    switch (b.kind) {
      case "heading": {
        const level = Math.min(6, b.level - min + topLevel);
        return `<h${level}>${inlineHtml(b.text)}</h${level}>`;
      }
      case "table":
        return htmlTable(b.header, b.rows, b.align);
      case "code":
        return `<pre>${escapeHtml(b.text)}</pre>`;
      case "paragraph":
        return `<p class="note">${inlineHtml(b.text)}</p>`;
    }
  }).join("\n");
}
