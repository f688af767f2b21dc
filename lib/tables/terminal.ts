/**
 * The terminal view of a table: the same cells as the Markdown file (same formatter, same
 * missing marker), laid out to fit a fixed width (100 columns by default) for stdout.
 *
 * Column names that share leading words are set under one header ("novel-groups AUROC" and
 * "novel-groups FPR95" become "AUROC" and "FPR95" under "novel-groups"), one header line per
 * level. When the columns do not fit in one block, they are split into blocks printed one under
 * the other; each block repeats the key columns (the leading text columns, e.g. "Method") and
 * the summary groups of {@linkcode Table.summaryGroups} ("Average", "Near-OOD", ...) stay in the
 * first block. A group wider than a block on its own is split into its sub-groups. Notes are
 * word-wrapped to the width. The files (render.ts) keep the full, unsplit tables.
 *
 * @module
 */
import { type Cell, formatCell, type Table } from "./render.ts";

/** Default width of the terminal view, in characters. */
export const TERMINAL_WIDTH = 100;

/** Spaces between top-level column groups. */
const GROUP_GAP = 3;
/** Spaces between columns inside a group. */
const COLUMN_GAP = 2;

/** A header node: one column (leaf) or a group of columns under a shared label. */
export type HeaderUnit =
  | { kind: "leaf"; label: string; column: number }
  | { kind: "group"; label: string; children: HeaderUnit[] };

interface Item {
  words: string[];
  column: number;
}

/**
 * The header tree of `columns`: consecutive columns with the same first word form a group (its
 * label that word), recursively on the remaining words; a group with one member is that member
 * with the word put back, and a group whose only child is a group merges the two labels.
 */
export function headerUnits(columns: readonly string[]): HeaderUnit[] {
  return groupItems(columns.map((c, column) => ({ words: c.split(" ").filter(Boolean), column })));
}

function groupItems(items: readonly Item[]): HeaderUnit[] {
  const out: HeaderUnit[] = [];
  let i = 0;
  while (i < items.length) {
    const first = items[i].words[0];
    let j = i + 1;
    while (first !== undefined && j < items.length && items[j].words[0] === first) j++;
    if (j - i === 1) {
      out.push({ kind: "leaf", label: items[i].words.join(" "), column: items[i].column });
    } else {
      const children = groupItems(
        items.slice(i, j).map((it) => ({ words: it.words.slice(1), column: it.column })),
      );
      const only = children.length === 1 ? children[0] : undefined;
      out.push(
        only?.kind === "group"
          ? { kind: "group", label: `${first} ${only.label}`, children: only.children }
          : { kind: "group", label: first, children },
      );
    }
    i = j;
  }
  return out;
}

function leaves(u: HeaderUnit): number[] {
  return u.kind === "leaf" ? [u.column] : u.children.flatMap(leaves);
}

function height(u: HeaderUnit): number {
  return u.kind === "leaf" ? 1 : 1 + Math.max(...u.children.map(height));
}

/** The label's words on at most `lines` lines, as narrow as possible (greedy per width). */
function wrapLabel(label: string, lines: number): string[] {
  if (label === "") return [];
  const words = label.split(" ");
  const longest = Math.max(...words.map((w) => w.length));
  for (let w = longest; w <= label.length; w++) {
    const out = wrapWords(words, w);
    if (out.length <= lines) return out;
  }
  return [label];
}

function wrapWords(words: readonly string[], width: number): string[] {
  const out: string[] = [];
  let line = "";
  for (const w of words) {
    if (line === "") line = w;
    else if (line.length + 1 + w.length <= width) line += ` ${w}`;
    else {
      out.push(line);
      line = w;
    }
  }
  if (line !== "") out.push(line);
  return out;
}

/** Cells as text plus, per column, whether it is numeric (right-aligned). */
interface Grid {
  cells: string[][];
  numeric: boolean[];
}

function isMissing(v: Cell): boolean {
  return v === null || v === undefined || (typeof v === "number" && Number.isNaN(v));
}

function grid(table: Table): Grid {
  const decimals = table.decimals ?? 2;
  return {
    cells: table.rows.map((r) => r.map((v) => formatCell(v, decimals).replace(/\r?\n/g, " "))),
    numeric: table.columns.map((_, j) =>
      table.rows.some((r) => !isMissing(r[j])) &&
      table.rows.every((r) => isMissing(r[j]) || typeof r[j] === "number")
    ),
  };
}

interface Placed {
  unit: HeaderUnit;
  depth: number;
  x: number;
  width: number;
  children: Placed[];
}

/** A text column narrowed to `width`, its cells wrapped on several lines. */
interface Cap {
  column: number;
  width: number;
}

/** Narrowest width a text column is wrapped to. */
const MIN_WRAP = 12;

function naturalWidth(g: Grid, column: number): number {
  return Math.max(0, ...g.cells.map((r) => r[column].length));
}

/**
 * Widths of a unit's subtree given `lines` header lines below its own level (inclusive); the
 * capped column is no wider than its cap (or its header words).
 */
function place(u: HeaderUnit, g: Grid, lines: number, depth: number, cap?: Cap): Placed {
  if (u.kind === "leaf") {
    const label = wrapLabel(u.label, lines);
    const cells = naturalWidth(g, u.column);
    const width = Math.max(
      1,
      ...label.map((l) => l.length),
      cap?.column === u.column ? Math.min(cells, cap.width) : cells,
    );
    return { unit: u, depth, x: 0, width, children: [] };
  }
  const children = u.children.map((c) => place(c, g, lines - 1, depth + 1, cap));
  const inner = children.reduce((s, c) => s + c.width, 0) + COLUMN_GAP * (children.length - 1);
  if (u.label.length > inner) widen(children[children.length - 1], u.label.length - inner);
  return { unit: u, depth, x: 0, width: Math.max(inner, u.label.length), children };
}

/** Widens a placed subtree by `extra`, shared as evenly as possible by its columns. */
function widen(p: Placed, extra: number): void {
  p.width += extra;
  const n = p.children.length;
  p.children.forEach((c, k) => widen(c, Math.floor(extra / n) + (k >= n - (extra % n) ? 1 : 0)));
}

function setX(p: Placed, x: number): void {
  p.x = x;
  let cx = x;
  for (const c of p.children) {
    setX(c, cx);
    cx += c.width + COLUMN_GAP;
  }
}

function flatLeaves(p: Placed): Placed[] {
  return p.children.length ? p.children.flatMap(flatLeaves) : [p];
}

function flatGroups(p: Placed): Placed[] {
  return p.unit.kind === "group" ? [p, ...p.children.flatMap(flatGroups)] : [];
}

function put(line: string[], x: number, text: string): void {
  for (let k = 0; k < text.length; k++) line[x + k] = text[k];
}

/**
 * Renders one block (units in column order): header lines, a rule, the rows (several lines for a
 * row whose capped cell wraps).
 */
function renderBlock(
  units: readonly HeaderUnit[],
  g: Grid,
  cap?: Cap,
): { lines: string[]; width: number } {
  const lines = Math.max(...units.map(height));
  const placed = units.map((u) => place(u, g, lines, 0, cap));
  let x = 0;
  placed.forEach((p, k) => {
    setX(p, x);
    x += p.width + (k < placed.length - 1 ? GROUP_GAP : 0);
  });
  const width = x;
  const blank = () => Array.from({ length: width }, () => " ");
  const header = Array.from({ length: lines }, blank);
  for (const p of placed.flatMap(flatGroups)) {
    const pad = Math.floor((p.width - p.unit.label.length) / 2);
    put(header[p.depth], p.x + pad, p.unit.label);
  }
  const cols = placed.flatMap(flatLeaves);
  for (const p of cols) {
    const u = p.unit as { column: number; label: string };
    const label = wrapLabel(u.label, lines - p.depth);
    label.forEach((l, k) => {
      const text = g.numeric[u.column] ? l.padStart(p.width) : l;
      put(header[lines - label.length + k], p.x, text);
    });
  }
  const rule = blank();
  for (const p of cols) put(rule, p.x, "-".repeat(p.width));
  const body = g.cells.flatMap((r) => {
    const rowLines = [blank()];
    for (const p of cols) {
      const column = (p.unit as { column: number }).column;
      const text = r[column];
      if (g.numeric[column]) put(rowLines[0], p.x, text.padStart(p.width));
      else if (text.length <= p.width) put(rowLines[0], p.x, text);
      else {
        wrapText(text, p.width).forEach((piece, k) => {
          while (rowLines.length <= k) rowLines.push(blank());
          put(rowLines[k], p.x, piece);
        });
      }
    }
    return rowLines;
  });
  return {
    lines: [...header, rule, ...body].map((l) => l.join("").trimEnd()),
    width,
  };
}

function firstColumn(u: HeaderUnit): number {
  return Math.min(...leaves(u));
}

/** Sub-units of a group, each labelled with the group's label in front. */
function split(u: HeaderUnit): HeaderUnit[] {
  if (u.kind === "leaf") return [u];
  return u.children.map((c) =>
    c.kind === "leaf"
      ? { ...c, label: `${u.label} ${c.label}`.trim() }
      : { ...c, label: `${u.label} ${c.label}` }
  );
}

/**
 * Renders a block in at most `width` characters if it can: when a block of the keys and ONE other
 * unit is too wide, its widest text column is narrowed (to no less than {@linkcode MIN_WRAP}) and
 * its cells wrapped. Blocks of several units are never narrowed: the packing moves units instead.
 */
function fitBlock(
  units: readonly HeaderUnit[],
  g: Grid,
  width: number,
  shrinkable: boolean,
): { lines: string[]; width: number } {
  const sorted = [...units].sort((a, b) => firstColumn(a) - firstColumn(b));
  const r = renderBlock(sorted, g);
  if (r.width <= width || !shrinkable) return r;
  const text = sorted.flatMap(leaves).filter((j) => !g.numeric[j]);
  if (text.length === 0) return r;
  const widest = text.reduce((a, b) => naturalWidth(g, b) > naturalWidth(g, a) ? b : a);
  const capped = naturalWidth(g, widest) - (r.width - width);
  return capped < MIN_WRAP ? r : renderBlock(sorted, g, { column: widest, width: capped });
}

/** The blocks (top-level units, key units first in each) and the number of key units. */
function plan(table: Table, width: number): { blocks: HeaderUnit[][]; keys: number } {
  const g = grid(table);
  const units = headerUnits(table.columns);
  const keys: HeaderUnit[] = [];
  const fits = (us: HeaderUnit[]) =>
    fitBlock(us, g, width, us.length === keys.length + 1).width <= width;
  while (
    keys.length < units.length - 1 && leaves(units[keys.length]).every((j) => !g.numeric[j]) &&
    fits([...keys, units[keys.length]])
  ) {
    keys.push(units[keys.length]);
  }
  // Without a leading text column (e.g. a numeric "Level"), the first column labels the rows.
  if (keys.length === 0 && units.length > 1) keys.push(units[0]);
  // Units too wide for a block of their own (beside the keys) are split into their sub-groups.
  let rest = units.slice(keys.length);
  for (let changed = true; changed;) {
    changed = false;
    rest = rest.flatMap((u) => {
      if (u.kind === "group" && !fits([...keys, u])) {
        changed = true;
        return split(u);
      }
      return [u];
    });
  }
  const summary = new Set(table.summaryGroups ?? []);
  const blocks: HeaderUnit[][] = [];
  // The summaries lead only all together (Near-OOD without Far-OOD would mislead).
  let first = rest.filter((u) => summary.has(u.label));
  if (!fits([...keys, ...first])) first = [];
  let pending = rest.filter((u) => !first.includes(u));
  let current: HeaderUnit[] = first;
  while (pending.length > 0 || current.length > 0) {
    const next: HeaderUnit[] = [];
    for (const u of pending) {
      if (next.length === 0 && current.length === 0) current.push(u);
      else if (next.length === 0 && fits([...keys, ...current, u])) current.push(u);
      else next.push(u);
    }
    blocks.push([...keys, ...current].sort((a, b) => firstColumn(a) - firstColumn(b)));
    pending = next;
    current = [];
  }
  return { blocks: blocks.length ? blocks : [keys], keys: keys.length };
}

/**
 * The blocks of the terminal view: each a list of top-level header units in column order, the
 * key units first in every block. Exported for tests.
 */
export function terminalBlocks(table: Table, width = TERMINAL_WIDTH): HeaderUnit[][] {
  return plan(table, width).blocks;
}

/** Word-wraps `text` to `width`: first line after `first`, the others after `rest`. */
export function wrapText(text: string, width: number, first = "", rest = ""): string[] {
  const words = text.split(/\s+/).filter(Boolean);
  const out: string[] = [];
  let line = first;
  let empty = true;
  for (let w of words) {
    // A word longer than a line (a long path) is cut, so that no line exceeds the width.
    while (true) {
      const room = width - line.length - (empty ? 0 : 1);
      if (w.length <= room) {
        line += (empty ? "" : " ") + w;
        empty = false;
        break;
      }
      if (!empty) {
        out.push(line);
        line = rest;
        empty = true;
        continue;
      }
      line += w.slice(0, room);
      w = w.slice(room);
      out.push(line);
      line = rest;
    }
  }
  if (!empty) out.push(line);
  return out;
}

/** Options of {@linkcode renderTerminal}. */
export interface TerminalOptions {
  /** Maximum line width (default {@linkcode TERMINAL_WIDTH}). */
  width?: number;
  /** Print the notes under the table (default true). */
  notes?: boolean;
}

/**
 * Renders the terminal view (see the module doc): the title, one or more column blocks separated
 * by a blank line, then the notes as "- " items, every line at most `width` characters (unless a
 * single cell is wider). Ends with "\n".
 *
 * @example
 * ```ts
 * import { table1 } from "./paper_tables.ts";
 * const rows = [
 *   { method: "msp", dataset: "sun", auroc: 78.3, fpr95: 79.9, aupr_in: 80.1, aupr_out: 74.5 },
 *   { method: "mos", dataset: "sun", auroc: 92.0, fpr95: 40.6, aupr_in: 93.2, aupr_out: 89.8 },
 * ];
 * console.log(renderTerminal(table1(rows, { datasets: ["sun"] })));
 * ```
 */
export function renderTerminal(table: Table, opts: TerminalOptions = {}): string {
  const width = opts.width ?? TERMINAL_WIDTH;
  const g = grid(table);
  const out = [...wrapText(table.title, width), ""];
  const { blocks, keys } = plan(table, width);
  blocks.forEach((block, k) => {
    if (k > 0) out.push("");
    out.push(...fitBlock(block, g, width, block.length === keys + 1).lines);
  });
  if (opts.notes !== false && table.notes?.length) {
    out.push("");
    for (const n of table.notes) out.push(...wrapText(n, width, "- ", "  "));
  }
  return out.join("\n") + "\n";
}
