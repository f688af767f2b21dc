/**
 * Text widths for laying out figures headless. Vega sizes legends, axes and titles from the width
 * of their text; without a canvas it guesses 0.8 em per character, which is 30-60 % too wide for
 * a proportional font, so legend entries were placed hundreds of pixels apart and charts carried
 * wide blank margins. Here the width is the sum of the glyph advances of Liberation Sans (regular
 * and bold). The figures ask for "Helvetica, Arial, sans-serif"; Liberation Sans has Arial's
 * advance widths by design, Arial has Helvetica's, and it is what the PNG rasteriser (sharp's
 * librsvg on Debian) draws for that list, so the layout matches the drawn text.
 *
 * @module
 */

/** Advance widths of Liberation Sans (units of 1/2048 em) for code points 32..126. */
// deno-fmt-ignore
const REGULAR_ASCII: readonly number[] = [
  569, 569, 727, 1139, 1139, 1821, 1366, 391, 682, 682, 797, 1196, 569, 682, 569, 569, 1139, 1139,
  1139, 1139, 1139, 1139, 1139, 1139, 1139, 1139, 569, 569, 1196, 1196, 1196, 1139, 2079, 1366,
  1366, 1479, 1479, 1366, 1251, 1593, 1479, 569, 1024, 1366, 1139, 1706, 1479, 1593, 1366, 1593,
  1479, 1366, 1251, 1479, 1366, 1933, 1366, 1366, 1251, 569, 569, 569, 961, 1139, 682, 1139, 1139,
  1024, 1139, 1139, 569, 1139, 1139, 455, 455, 1024, 455, 1706, 1139, 1139, 1139, 1139, 682, 1024,
  569, 1139, 1024, 1479, 1024, 1024, 1024, 684, 532, 684, 1196,
];

/** Advance widths of Liberation Sans Bold (units of 1/2048 em) for code points 32..126. */
// deno-fmt-ignore
const BOLD_ASCII: readonly number[] = [
  569, 682, 971, 1139, 1139, 1821, 1479, 487, 682, 682, 797, 1196, 569, 682, 569, 569, 1139, 1139,
  1139, 1139, 1139, 1139, 1139, 1139, 1139, 1139, 682, 682, 1196, 1196, 1196, 1251, 1997, 1479,
  1479, 1479, 1479, 1366, 1251, 1593, 1479, 569, 1139, 1479, 1251, 1706, 1479, 1593, 1366, 1593,
  1479, 1366, 1251, 1479, 1366, 1933, 1366, 1366, 1251, 682, 569, 682, 1196, 1139, 682, 1139,
  1251, 1139, 1251, 1139, 682, 1251, 1251, 569, 569, 1139, 569, 1821, 1251, 1251, 1251, 1251, 797,
  1139, 682, 1251, 1139, 1593, 1139, 1139, 1024, 797, 573, 797, 1196,
];

/** Non-ASCII characters the figures use (arrows, dashes, ellipsis, ≤ ≥), same in both weights. */
const OTHER: Readonly<Record<number, number>> = Object.freeze({
  0x2191: 1024, // ↑
  0x2193: 1024, // ↓
  0x2013: 1139, // –
  0x2014: 2048, // —
  0x2026: 2048, // …
  0x2264: 1124, // ≤
  0x2265: 1124, // ≥
  0xd7: 1196, // ×
});

/** Units per em of the tables above. */
const UNITS_PER_EM = 2048;

/** Width of a character missing from the tables: a full em, so unknown text is never too narrow. */
const UNKNOWN = 2048;

/** Code points the tables cover (for cross-checking them against the font file). */
export const COVERED_CODE_POINTS: readonly number[] = Object.freeze([
  ...Array.from({ length: 95 }, (_, i) => 32 + i),
  ...Object.keys(OTHER).map(Number),
]);

/** Advance of `codePoint` in 1/2048 em, regular or bold. */
export function glyphAdvance(codePoint: number, bold: boolean): number {
  if (codePoint >= 32 && codePoint <= 126) {
    return (bold ? BOLD_ASCII : REGULAR_ASCII)[codePoint - 32];
  }
  return OTHER[codePoint] ?? UNKNOWN;
}

/** Width in pixels of `text` at `fontSize` pixels (no kerning: kerning only narrows). */
export function textWidth(text: string, fontSize: number, bold = false): number {
  let units = 0;
  for (const ch of text) units += glyphAdvance(ch.codePointAt(0)!, bold);
  return (units * fontSize) / UNITS_PER_EM;
}

/** Whether a Vega `fontWeight` (a keyword or a number) is drawn bold. */
export function isBold(weight: unknown): boolean {
  if (weight === undefined || weight === null) return false;
  if (typeof weight === "number") return weight >= 600;
  const s = String(weight).toLowerCase();
  if (s === "bold" || s === "bolder") return true;
  const n = Number(s);
  return Number.isFinite(n) && n >= 600;
}

/** The subset of a Vega text item the width depends on. */
export interface TextItem {
  fontSize?: number | string;
  fontWeight?: unknown;
  /** Vega truncates text wider than `limit` (> 0) with an ellipsis. */
  limit?: number;
}

/**
 * A replacement for Vega's `textMetrics.width(item, text)`: the measured width of one line of an
 * item's text, at most the item's `limit` (Vega truncates longer text to fit it). Vega's default
 * font size is 11 px.
 */
export function vegaTextWidth(item: TextItem, text: unknown): number {
  const size = item.fontSize !== undefined && item.fontSize !== null
    ? Number(item.fontSize) || 0
    : 11;
  const s = text === undefined || text === null ? "" : String(text).trim();
  const w = textWidth(s, size, isBold(item.fontWeight));
  const limit = Number(item.limit);
  return limit > 0 ? Math.min(w, limit) : w;
}
