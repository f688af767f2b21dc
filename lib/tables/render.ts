/**
 * A plain table value and its two renderings: CSV (machine-friendly: bare numbers, empty cells
 * for missing values, no title or notes) and GitHub Markdown (title, aligned columns, "-" for
 * missing values, notes below). Every table of the toolkit is rendered here.
 *
 * @module
 */
import { stringify } from "csv-stringify/sync";

/** A cell: a number (formatted with the table's decimals), a string, or missing. */
export type Cell = string | number | null | undefined;

/** A table: a title, column names, rows of cells, and optional notes (Markdown only). */
export interface Table {
  title: string;
  columns: string[];
  rows: Cell[][];
  notes?: string[];
  /** Decimals for numbers (default 2). */
  decimals?: number;
}

/** Shown in Markdown for missing cells (null, undefined, NaN). */
export const MISSING = "-";

function isMissing(v: Cell): boolean {
  return v === null || v === undefined || (typeof v === "number" && Number.isNaN(v));
}

/**
 * Formats one cell: numbers with `decimals` places (`-0.00` is printed as `0.00`), missing values
 * (null, undefined, NaN) as `missing`, strings as they are.
 */
export function formatCell(v: Cell, decimals = 2, missing = MISSING): string {
  if (isMissing(v)) return missing;
  if (typeof v === "number") {
    const s = v.toFixed(decimals);
    return /^-0\.?0*$/.test(s) ? s.slice(1) : s;
  }
  return String(v);
}

function checkShape(table: Table): void {
  table.rows.forEach((r, i) => {
    if (r.length !== table.columns.length) {
      throw new RangeError(
        `Table "${table.title}" row ${i} has ${r.length} cells for ${table.columns.length} columns`,
      );
    }
  });
}

/**
 * Renders CSV: a header line of column names, then one line per row; numbers with the table's
 * decimals, missing cells empty (so numeric columns stay numeric in pandas / R). Ends with "\n".
 */
export function renderCsv(table: Table): string {
  checkShape(table);
  const decimals = table.decimals ?? 2;
  const body = table.rows.map((r) => r.map((v) => formatCell(v, decimals, "")));
  return stringify([table.columns, ...body], { record_delimiter: "\n" });
}

function escapeMarkdown(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}

/**
 * Renders GitHub Markdown: `### title`, a pipe table whose columns are padded to equal width
 * (numeric columns right-aligned, others left-aligned), then each note as its own paragraph line.
 * Ends with "\n".
 */
export function renderMarkdown(table: Table): string {
  checkShape(table);
  const decimals = table.decimals ?? 2;
  const cells = table.rows.map((r) => r.map((v) => escapeMarkdown(formatCell(v, decimals))));
  const header = table.columns.map(escapeMarkdown);
  // A column is numeric when every present cell is a number: those read best right-aligned.
  const numeric = table.columns.map((_, j) =>
    table.rows.some((r) => !isMissing(r[j])) &&
    table.rows.every((r) => isMissing(r[j]) || typeof r[j] === "number")
  );
  const width = header.map((h, j) => Math.max(3, h.length, ...cells.map((r) => r[j].length)));
  const pad = (s: string, j: number) => numeric[j] ? s.padStart(width[j]) : s.padEnd(width[j]);
  const line = (r: string[]) => `| ${r.map(pad).join(" | ")} |`;
  const rule = `| ${
    width.map((w, j) => numeric[j] ? "-".repeat(w - 1) + ":" : "-".repeat(w)).join(" | ")
  } |`;
  const out = [`### ${escapeMarkdown(table.title)}`, "", line(header), rule, ...cells.map(line)];
  if (table.notes?.length) out.push("", ...table.notes.flatMap((n, i) => i ? ["", n] : [n]));
  return out.join("\n") + "\n";
}
