/**
 * The text widths figures are laid out with: the embedded advance tables equal the font file's
 * (read here by a separate minimal TrueType reader), and text rasterised by sharp, as the PNGs
 * are, is as wide as the layout assumed. Both checks need Liberation Sans installed (Debian's
 * fonts-liberation, present wherever the PNGs are made) and are skipped without it.
 */
import assert from "node:assert/strict";
import sharp from "npm:sharp@0.35.5";
import {
  COVERED_CODE_POINTS,
  glyphAdvance,
  isBold,
  textWidth,
  vegaTextWidth,
} from "./text_metrics.ts";

const FONT_DIR = "/usr/share/fonts/truetype/liberation";

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

const HAVE_FONTS = exists(`${FONT_DIR}/LiberationSans-Regular.ttf`) &&
  exists(`${FONT_DIR}/LiberationSans-Bold.ttf`);

/** Advance widths (font units) of `codePoints` from a TrueType file's cmap (3,1,4) and hmtx. */
function ttfAdvances(bytes: Uint8Array, codePoints: readonly number[]): Map<number, number> {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tables = new Map<string, number>();
  for (let i = 0; i < v.getUint16(4); i++) {
    const rec = 12 + 16 * i;
    tables.set(String.fromCharCode(...bytes.subarray(rec, rec + 4)), v.getUint32(rec + 8));
  }
  const hhea = tables.get("hhea")!;
  const hmtx = tables.get("hmtx")!;
  const cmap = tables.get("cmap")!;
  assert.equal(v.getUint16(tables.get("head")! + 18), 2048, "units per em");
  const numHMetrics = v.getUint16(hhea + 34);
  let sub = -1;
  for (let i = 0; i < v.getUint16(cmap + 2); i++) {
    const rec = cmap + 4 + 8 * i;
    const off = cmap + v.getUint32(rec + 4);
    if (v.getUint16(rec) === 3 && v.getUint16(rec + 2) === 1 && v.getUint16(off) === 4) sub = off;
  }
  assert.ok(sub >= 0, "a Unicode BMP cmap");
  const segments = v.getUint16(sub + 6) / 2;
  const ends = sub + 14;
  const starts = ends + 2 * segments + 2;
  const deltas = starts + 2 * segments;
  const ranges = deltas + 2 * segments;
  const glyph = (c: number): number => {
    for (let s = 0; s < segments; s++) {
      if (c > v.getUint16(ends + 2 * s)) continue;
      const start = v.getUint16(starts + 2 * s);
      if (c < start) return 0;
      const delta = v.getInt16(deltas + 2 * s);
      const ro = v.getUint16(ranges + 2 * s);
      if (ro === 0) return (c + delta) & 0xffff;
      const g = v.getUint16(ranges + 2 * s + ro + 2 * (c - start));
      return g === 0 ? 0 : (g + delta) & 0xffff;
    }
    return 0;
  };
  const out = new Map<number, number>();
  for (const c of codePoints) {
    const g = glyph(c);
    assert.notEqual(g, 0, `U+${c.toString(16)} is in the font`);
    out.set(c, v.getUint16(hmtx + 4 * Math.min(g, numHMetrics - 1)));
  }
  return out;
}

Deno.test({
  name: "text metrics: the embedded advances are Liberation Sans's, regular and bold",
  ignore: !HAVE_FONTS,
  fn: () => {
    for (const [file, bold] of [["Regular", false], ["Bold", true]] as const) {
      const font = ttfAdvances(
        Deno.readFileSync(`${FONT_DIR}/LiberationSans-${file}.ttf`),
        COVERED_CODE_POINTS,
      );
      for (const c of COVERED_CODE_POINTS) {
        assert.equal(glyphAdvance(c, bold), font.get(c), `U+${c.toString(16)} ${file}`);
      }
    }
  },
});

/** Width in pixels of the ink of `text` drawn by sharp (librsvg) at 72 dpi, as the PNGs are. */
async function inkWidth(text: string, size: number, bold: boolean): Promise<number> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="900" height="60">` +
    `<rect width="900" height="60" fill="white"/><text x="20" y="40" ` +
    `font-family="Helvetica, Arial, sans-serif" font-size="${size}px"` +
    `${bold ? ' font-weight="bold"' : ""}>${text}</text></svg>`;
  const { info } = await sharp(new TextEncoder().encode(svg), { density: 72 })
    .trim()
    .toBuffer({ resolveWithObject: true });
  return info.width;
}

Deno.test({
  name: "text metrics: layout width matches the text sharp draws for the figures' font list",
  ignore: !HAVE_FONTS,
  fn: async () => {
    const cases: [string, number, boolean][] = [
      ["group softmax (MOS), feature clustering", 12, false],
      ["flat softmax (MSP)", 12, false],
      ["number of classes C", 12, true],
      ["Figure 7: MSP vs MOS across backbones", 14, true],
      ["1000", 11, false],
    ];
    for (const [text, size, bold] of cases) {
      const laidOut = textWidth(text, size, bold);
      const ink = await inkWidth(text, size, bold);
      // Ink excludes the side bearings of the first and last glyph (a pixel or two).
      assert.ok(Math.abs(laidOut - ink) <= 0.02 * ink + 3, `${text}: ${laidOut} vs ink ${ink}`);
      // Vega's own guess (0.8 em per character) is what placed legend entries far apart.
      if (text.length > 10) assert.ok(0.8 * text.length * size > 1.3 * ink, text);
    }
  },
});

Deno.test("textWidth: sum of advances, by hand", () => {
  // M 1706 + S 1366 + P 1366 = 4438 units of 1/2048 em at 12 px.
  assert.equal(textWidth("MSP", 12), (4438 * 12) / 2048);
  // Bold: M 1706 + S 1366 + P 1366, the same three advances in Liberation Sans Bold.
  assert.equal(textWidth("MSP", 12, true), (4438 * 12) / 2048);
  // "i" is narrower than "m": 455 vs 1706 regular.
  assert.equal(textWidth("im", 2048), 455 + 1706);
  // An unknown character counts a full em, so layout never under-estimates it.
  assert.equal(textWidth("\u4e00", 10), 10);
});

Deno.test("vegaTextWidth: Vega's default size, weight keywords and numbers, the truncation limit", () => {
  assert.equal(vegaTextWidth({}, "MSP"), (4438 * 11) / 2048);
  assert.equal(vegaTextWidth({ fontSize: 12 }, "  MSP  "), (4438 * 12) / 2048, "trimmed");
  assert.equal(vegaTextWidth({ fontSize: 12, limit: 20 }, "MSP"), 20);
  assert.equal(vegaTextWidth({ fontSize: 12 }, null), 0);
  assert.equal(vegaTextWidth({ fontSize: 10 }, 1000), textWidth("1000", 10));
  // "a" is 1139 regular and 1139 bold, "r" 682 vs 797: bold text is wider.
  assert.ok(vegaTextWidth({ fontWeight: "bold" }, "rr") > vegaTextWidth({}, "rr"));
  assert.deepEqual(
    ["bold", 700, "600", "normal", 400, undefined, "bolder"].map(isBold),
    [true, true, true, false, false, false, true],
  );
});
