import assert from "node:assert/strict";
import { createRng } from "../random.ts";
import { type ExtendedEntry, extendedTable1 } from "./extended_table.ts";
import { type MetricRow, table1 } from "./paper_tables.ts";
import { defaultPaperDir, PAPER_FILES, parsePaperTable1 } from "./paper_reference.ts";
import { type Cell, formatCell, type Table } from "./render.ts";
import {
  type HeaderUnit,
  headerUnits,
  renderTerminal,
  TERMINAL_WIDTH,
  terminalBlocks,
  wrapText,
} from "./terminal.ts";

const SETS = ["novel-groups", "novel-classes", "group-mixtures", "diffuse-texture"];
const METHODS = ["msp", "odin", "mahalanobis", "energy", "kl", "mos"];

/** Seeded metric rows for every method on every set. */
function metricRows(seed: number): MetricRow[] {
  const rng = createRng(seed);
  return METHODS.flatMap((method) =>
    SETS.map((dataset) => ({
      method,
      dataset,
      auroc: 50 + 50 * rng.float(),
      fpr95: 100 * rng.float(),
      aupr_in: 100 * rng.float(),
      aupr_out: 100 * rng.float(),
    }))
  );
}

function leafColumns(u: HeaderUnit): number[] {
  return u.kind === "leaf" ? [u.column] : u.children.flatMap(leafColumns);
}

/**
 * Reads the rendered blocks back: each block's data cells, cut at the dash runs of its rule
 * line, paired with the table columns the layout says they show. Checks that every cell of
 * every row appears exactly as the Markdown file formats it, and that every column is shown
 * (key columns once per block, the others once).
 */
function checkCells(table: Table, text: string, width = TERMINAL_WIDTH): void {
  const lines = text.trimEnd().split("\n");
  for (const l of lines) assert.ok(l.length <= width, `line of ${l.length} > ${width}: "${l}"`);
  const blocks = terminalBlocks(table, width);
  const rules = lines.flatMap((l, i) => /^-+( +-+)*$/.test(l) ? [i] : []);
  assert.equal(rules.length, blocks.length, "one rule line per block");
  const shown = new Map<number, number>();
  blocks.forEach((block, b) => {
    const columns = block.flatMap(leafColumns);
    const runs = [...lines[rules[b]].matchAll(/-+/g)].map((
      m,
    ) => [m.index!, m.index! + m[0].length]);
    assert.equal(runs.length, columns.length, `block ${b}: one dash run per column`);
    table.rows.forEach((row, i) => {
      const line = lines[rules[b] + 1 + i];
      columns.forEach((j, k) => {
        const cell = line.slice(runs[k][0], runs[k][1]).trim();
        assert.equal(cell, formatCell(row[j] as Cell, table.decimals ?? 2), `row ${i} col ${j}`);
      });
    });
    for (const j of columns) shown.set(j, (shown.get(j) ?? 0) + 1);
  });
  const keys = blocks[0].length && blocks.every((b) => b[0] === blocks[0][0])
    ? leafColumns(blocks[0][0])
    : [];
  table.columns.forEach((c, j) => {
    assert.equal(shown.get(j), keys.includes(j) ? blocks.length : 1, `column "${c}" shown`);
  });
}

Deno.test("headerUnits: shared leading words become groups, nested, chains merged", () => {
  const units = headerUnits([
    "Method",
    "Test time (s)",
    "Test time paper (min)",
    "SUN AUROC",
    "SUN AUROC (paper)",
    "SUN FPR95",
    "Average AUROC",
    "Average FPR95",
    "K",
    "K paper",
  ]);
  assert.deepEqual(units, [
    { kind: "leaf", label: "Method", column: 0 },
    {
      kind: "group",
      label: "Test time",
      children: [
        { kind: "leaf", label: "(s)", column: 1 },
        { kind: "leaf", label: "paper (min)", column: 2 },
      ],
    },
    {
      kind: "group",
      label: "SUN",
      children: [
        {
          kind: "group",
          label: "AUROC",
          children: [
            { kind: "leaf", label: "", column: 3 },
            { kind: "leaf", label: "(paper)", column: 4 },
          ],
        },
        { kind: "leaf", label: "FPR95", column: 5 },
      ],
    },
    {
      kind: "group",
      label: "Average",
      children: [
        { kind: "leaf", label: "AUROC", column: 6 },
        { kind: "leaf", label: "FPR95", column: 7 },
      ],
    },
    {
      kind: "group",
      label: "K",
      children: [
        { kind: "leaf", label: "", column: 8 },
        { kind: "leaf", label: "paper", column: 9 },
      ],
    },
  ]);
});

Deno.test("renderTerminal: a table that fits is one block, byte for byte", () => {
  const t: Table = {
    title: "Demo",
    columns: ["Method", "Test time (s)", "a AUROC", "a FPR95", "Average AUROC", "Average FPR95"],
    rows: [
      ["MSP", 1.5, 88.735, 54.4, 88.735, 54.4],
      ["KL Matching", null, 9.995, 100, 9.995, 100],
    ],
    notes: ["First note.", "Second."],
  };
  const expected = [
    "Demo",
    "",
    // Widths: Method 11; "Test time (s)" wrapped on the two header lines to 8; group "a"
    // 5 + 2 + 6 ("100.00") with its label centred; groups 3 apart, columns in a group 2 apart.
    "                  Test         a            Average",
    "Method        time (s)   AUROC   FPR95   AUROC   FPR95",
    "-----------   --------   -----  ------   -----  ------",
    "MSP               1.50   88.74   54.40   88.74   54.40",
    "KL Matching          -   10.00  100.00   10.00  100.00",
    "",
    "- First note.",
    "- Second.",
    "",
  ].join("\n");
  assert.equal(renderTerminal(t), expected);
  checkCells(t, renderTerminal(t));
});

Deno.test("renderTerminal: Table 1 with near/far groups fits 100 columns, summaries first", () => {
  const t = table1(metricRows(1), {
    datasets: SETS,
    times: Object.fromEntries(METHODS.map((m, i) => [m, 0.5 + i])),
    oodGroups: {
      near: ["novel-classes", "group-mixtures"],
      far: ["novel-groups", "diffuse-texture"],
    },
  });
  const text = renderTerminal(t);
  checkCells(t, text);
  const blocks = terminalBlocks(t);
  assert.ok(blocks.length >= 2, "4 sets + 3 summaries do not fit one block of 100");
  const firstLabels = blocks[0].map((u) => u.label);
  for (const s of ["Near-OOD", "Far-OOD", "Average"]) assert.ok(firstLabels.includes(s), s);
  // The same table is 243+ characters wide as Markdown.
  assert.ok(Math.max(...text.split("\n").map((l) => l.length)) <= 100);
});

Deno.test("renderTerminal: Table 1 beside the paper (445 wide as Markdown) splits into blocks", async () => {
  const paper = parsePaperTable1(
    await Deno.readTextFile(defaultPaperDir() + PAPER_FILES.table1),
  );
  const rows = metricRows(2).map((r) => ({
    ...r,
    dataset: ["inaturalist", "sun", "places", "textures"][SETS.indexOf(r.dataset)],
  }));
  const t = table1(rows, { datasets: ["inaturalist", "sun", "places", "textures"], paper });
  checkCells(t, renderTerminal(t));
  // At 60 columns a per-set group is too wide: its metrics are split into their own blocks.
  checkCells(t, renderTerminal(t, { width: 60 }), 60);
});

Deno.test("renderTerminal: Table 1 extended with CIs and seeds (408 wide) fits 100 columns", () => {
  const rng = createRng(3);
  const methods = ["msp", "odin", "mahalanobis-multilayer", "energy", "kl", "mos", "vim", "knn"];
  const entries: ExtendedEntry[] = methods.flatMap((method) =>
    SETS.map((dataset) => {
      const v = () => [0, 1, 2].map(() => 100 * rng.float());
      const iv = () => {
        const a = 100 * rng.float();
        return { low: a, high: a + 2 * rng.float() };
      };
      return {
        method,
        dataset,
        values: { auroc: v(), fpr95: v(), aupr_in: v(), aupr_out: v() },
        ci: { auroc: iv(), fpr95: iv(), aupr_in: iv(), aupr_out: iv() },
      };
    })
  );
  const { markdown } = extendedTable1(entries, {
    methods: methods.map((key, i) => ({ key, label: `Method ${key}`, seconds: i + 0.25 })),
    datasets: SETS,
    ci: true,
    oodGroups: { near: ["novel-classes"], far: ["novel-groups", "diffuse-texture"] },
    title: "Table 1 extended",
  });
  const text = renderTerminal(markdown);
  checkCells(markdown, text);
  assert.ok(text.includes("Method mahalanobis-multilayer"));
});

Deno.test("wrapText: words wrapped to the width, over-long words cut, hanging indent", () => {
  assert.deepEqual(wrapText("aa bb cc dd", 5, "- ", "  "), ["- aa", "  bb", "  cc", "  dd"]);
  assert.deepEqual(wrapText("aa bb cc", 8), ["aa bb cc"]);
  assert.deepEqual(wrapText("x /a/very/long/path y", 8, "- ", "  "), [
    "- x",
    "  /a/ver",
    "  y/long",
    "  /path",
    "  y",
  ]);
  for (const l of wrapText("word ".repeat(50) + "/".repeat(250), 30, "- ", "  ")) {
    assert.ok(l.length <= 30, l);
  }
  assert.deepEqual(wrapText("", 10), []);
});

Deno.test("renderTerminal: a text column too wide for any block wraps; a numeric first column keys", () => {
  const groups = [
    "animal (398), artifact (521), geological formation (9), fungus (7), misc (52), " +
    "natural object (8), person (3), plant (2)",
    "animal + plant + fungus (407), artifact (521), other (72)",
  ];
  const t: Table = {
    title: "Groups per level",
    columns: ["Level", "K (ours)", "K (paper)", "Δ", "Groups"],
    rows: [[0, 8, 8, 0, groups[0]], [-1, 3, 6, -3, groups[1]]],
    decimals: 0,
  };
  const text = renderTerminal(t, { width: 60 });
  const lines = text.split("\n");
  for (const l of lines) assert.ok(l.length <= 60, l);
  const blocks = terminalBlocks(t, 60);
  assert.deepEqual(blocks.map((b) => b.map((u) => u.label)), [["Level", "K", "Δ"], [
    "Level",
    "Groups",
  ]]);
  // Second block: Level, then Groups wrapped; the pieces of each row read back as the cell.
  const rule = lines.findLastIndex((l) => /^-+ +-+$/.test(l));
  const start = lines[rule].lastIndexOf(" ") + 1;
  const rows: string[][] = [];
  for (const l of lines.slice(rule + 1)) {
    if (l === "") break;
    if (l.slice(0, start).trim() !== "") rows.push([]);
    rows[rows.length - 1].push(l.slice(start).trim());
  }
  assert.equal(rows.length, 2);
  assert.ok(rows[0].length > 1, "the long cell wraps");
  assert.deepEqual(rows.map((r) => r.join(" ")), groups);
});
