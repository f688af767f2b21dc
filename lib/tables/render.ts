/**
 * A plain table value and its two file renderings: CSV (machine-friendly: bare numbers, empty
 * cells for missing values, no title or notes) and GitHub Markdown (title, aligned columns, "-"
 * for missing values, notes below). Every table of the toolkit is rendered here or, for stdout,
 * by terminal.ts; all of them format numbers with {@linkcode formatNumber}.
 *
 * @module
 */
import { stringify } from "npm:csv-stringify@6.9.0/sync";

/** A cell: a number (formatted with the table's decimals), a string, or missing. */
export type Cell = string | number | null | undefined;

/** A table: a title, column names, rows of cells, and optional notes (Markdown only). */
export interface Table {
  /** Heading of the Markdown output (CSV has none). */
  title: string;
  /** Column names, in order (the CSV header). */
  columns: string[];
  /** Rows of cells, one per column. */
  rows: Cell[][];
  /** Paragraphs printed below the Markdown table. */
  notes?: string[];
  /** Decimals for numbers (default 2). */
  decimals?: number;
  /**
   * Labels of column groups that summarise the others (e.g. "Average", "Near-OOD"): the terminal
   * view (terminal.ts) keeps them in its first block when it has to split the columns.
   */
  summaryGroups?: string[];
}

/**
 * The one definition of the "Test time (s)" column of Table 1 and Table 1 extended, printed once
 * under each table that has the column.
 */
export const TEST_TIME_NOTE =
  "Test time (s): wall seconds on this machine from cached features to the method's scores on " +
  "the ID and every OOD set: the head's forward pass (for methods that read logits), any fitting " +
  "the method needs (Mahalanobis statistics, KL templates; under the held-out protocol the whole " +
  "grid search) and the scoring; metrics not included.";

/** Shown in Markdown for missing cells (null, undefined, NaN). */
export const MISSING = "-";

function isMissing(v: Cell): boolean {
  return v === null || v === undefined || (typeof v === "number" && Number.isNaN(v));
}

/**
 * THE number formatter of every table (files and terminal): `v` rounded to `decimals` places,
 * half away from zero, applied to the number's decimal value to 15 significant digits (the
 * digits a float64 always carries; the 16th and 17th are arithmetic noise). So a value computed
 * as 88.47500000000001 and the same value read back from a CSV cell "88.4750"
 * (88.474999999999994) both print "88.48", where `toFixed(2)` printed "88.48" for one and "88.47"
 * for the other; 88.735 prints "88.74" (`toFixed`: "88.73"). A result that rounds to zero has no
 * sign ("0.00", never "-0.00"). Infinite values print as "Infinity" / "-Infinity".
 *
 * @example
 * ```ts
 * formatNumber(88.735, 2); // "88.74"
 * formatNumber(1.005, 2); // "1.01" (toFixed: "1.00")
 * formatNumber(-2.5, 0); // "-3"
 * ```
 */
export function formatNumber(v: number, decimals = 2): string {
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > 20) {
    throw new RangeError(`decimals must be an integer in [0, 20], got ${decimals}`);
  }
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "Infinity" : "-Infinity";
  // Digits and decimal point position of |v| to 15 significant digits ("1.5e-7" forms included).
  const [mantissa, expText] = Math.abs(v).toPrecision(15).split("e");
  const [intPart, fracPart = ""] = mantissa.split(".");
  let digits = intPart + fracPart;
  let point = intPart.length + (expText ? Number(expText) : 0);
  if (point < 0) {
    digits = "0".repeat(-point) + digits;
    point = 0;
  }
  const keep = point + decimals;
  digits = digits.padEnd(keep + 1, "0");
  let n = BigInt(digits.slice(0, keep) || "0");
  if (digits.charCodeAt(keep) >= 53 /* "5" */) n += 1n;
  const text = n.toString().padStart(decimals + 1, "0");
  const out = decimals === 0
    ? text
    : `${text.slice(0, text.length - decimals)}.${text.slice(text.length - decimals)}`;
  return v < 0 && n !== 0n ? `-${out}` : out;
}

/**
 * Formats one cell: numbers with {@linkcode formatNumber} to `decimals` places, missing values
 * (null, undefined, NaN) as `missing`, strings as they are.
 */
export function formatCell(v: Cell, decimals = 2, missing = MISSING): string {
  if (isMissing(v)) return missing;
  if (typeof v === "number") return formatNumber(v, decimals);
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
