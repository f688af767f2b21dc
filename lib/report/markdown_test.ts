/**
 * The report reads back the Markdown that lib/tables/render.ts writes: every cell, the alignment
 * and the notes survive, escapes are undone, and nothing in a cell becomes markup.
 */
import assert from "node:assert/strict";
import { formatCell, renderMarkdown, type Table } from "../tables/render.ts";
import { escapeHtml, htmlTable, isTimeColumn, numericColumn } from "./html.ts";
import { markdownToHtml, parseMarkdown, splitRow } from "./markdown.ts";
import { timelessReport } from "./page.ts";

const TABLE: Table = {
  title: "Table 1: AUROC | FPR95 <b>",
  columns: ["Method", "Test time (s)", "novel AUROC", "note"],
  rows: [
    ["MSP", 0.934, 88.735, "a|b"],
    ["MOS", 1.5, null, "<script>x</script>"],
  ],
  notes: ["First note with `--flag`.", "Second & last."],
};

Deno.test("parseMarkdown reads back every cell, the alignment and the notes of renderMarkdown", () => {
  const blocks = parseMarkdown(renderMarkdown(TABLE));
  assert.deepEqual(blocks.map((b) => b.kind), ["heading", "table", "paragraph", "paragraph"]);
  assert.deepEqual(blocks[0], { kind: "heading", level: 3, text: TABLE.title });
  const t = blocks[1];
  assert.equal(t.kind, "table");
  if (t.kind !== "table") return;
  assert.deepEqual(t.header, TABLE.columns);
  // The cells as the table builder formats them (numbers with 2 decimals, "-" for missing).
  const want = TABLE.rows.map((r) => r.map((c) => formatCell(c, 2)));
  assert.deepEqual(t.rows, want);
  assert.deepEqual(t.align, ["left", "right", "right", "left"]);
  assert.deepEqual(blocks.slice(2), [
    { kind: "paragraph", text: "First note with `--flag`." },
    { kind: "paragraph", text: "Second & last." },
  ]);
});

Deno.test("markdownToHtml escapes cell text and turns code spans into <code>", () => {
  const html = markdownToHtml(renderMarkdown(TABLE));
  assert.ok(!html.includes("<script>"), "a cell cannot inject markup");
  assert.ok(html.includes("&lt;script&gt;x&lt;/script&gt;"));
  assert.ok(html.includes("<h3>Table 1: AUROC | FPR95 &lt;b&gt;</h3>"));
  assert.ok(html.includes("<td>a|b</td>"), "the escaped pipe is one cell again");
  assert.ok(html.includes("First note with <code>--flag</code>."));
  assert.ok(html.includes("Second &amp; last."));
  // Right-aligned numbers; the time column is marked as such.
  assert.ok(html.includes('<td class="num time">0.93</td>'), html);
  assert.ok(html.includes('<td class="num">88.74</td>'));
  // Headings shift so the file's top level is the level asked for.
  assert.ok(markdownToHtml("# A\n\n## B\n", 3).includes("<h3>A</h3>\n<h4>B</h4>"));
});

Deno.test("splitRow: escaped pipes, empty cells, a line without outer pipes", () => {
  assert.deepEqual(splitRow("| a \\| b |  | c |"), ["a | b", "", "c"]);
  assert.deepEqual(splitRow("x | y"), ["x", "y"]);
});

Deno.test("parseMarkdown: code fences, a pipe paragraph that is no table, blank-line runs", () => {
  const blocks = parseMarkdown("intro line\nsecond line\n\n```\n| not | a table |\n```\n\n| a |\n");
  assert.deepEqual(blocks, [
    { kind: "paragraph", text: "intro line second line" },
    { kind: "code", text: "| not | a table |" },
    { kind: "paragraph", text: "| a |" },
  ]);
});

Deno.test("html helpers: escaping, numeric and time columns, timelessReport", () => {
  assert.equal(
    escapeHtml(`<a href="x">'&'</a>`),
    "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;",
  );
  assert.ok(numericColumn([["1.5"], ["-"], ["2e-3"], [""]], 0));
  assert.ok(numericColumn([["88.74 (87.1, 90.2)"]], 0), "a value with its interval");
  assert.ok(!numericColumn([["1.5"], ["MSP"]], 0));
  assert.ok(!numericColumn([["-"]], 0), "no number at all");
  for (const h of ["Test time (s)", "wall time (s)", "seconds", "created"]) {
    assert.ok(isTimeColumn(h), h);
  }
  for (const h of ["AUROC", "Method", "seed"]) assert.ok(!isTimeColumn(h), h);
  const a = htmlTable(["Method", "seconds"], [["MSP", "0.93"]], ["left", "right"]);
  const b = htmlTable(["Method", "seconds"], [["MSP", "1.27"]], ["left", "right"]);
  assert.notEqual(a, b);
  assert.equal(timelessReport(a), timelessReport(b));
  const c = htmlTable(["Method", "seconds"], [["MOS", "0.93"]], ["left", "right"]);
  assert.notEqual(timelessReport(a), timelessReport(c), "only time cells are dropped");
});
