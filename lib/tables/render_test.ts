import assert from "node:assert/strict";
import { formatCell, MISSING, renderCsv, renderMarkdown, type Table } from "./render.ts";

const demo: Table = {
  title: "Demo",
  columns: ["Method", "AUROC", "Note"],
  rows: [
    ["MSP", 87.594, "a|b"],
    ["MOS", null, "x"],
    ["KL", -0.001, 3],
  ],
  notes: ["n1", "n2"],
};

Deno.test("renderCsv: header, 2-decimal numbers, empty missing cells", () => {
  assert.equal(renderCsv(demo), "Method,AUROC,Note\nMSP,87.59,a|b\nMOS,,x\nKL,0.00,3.00\n");
});

Deno.test("renderCsv: quotes fields with commas, quotes and newlines (RFC 4180)", () => {
  const t: Table = {
    title: "q",
    columns: ["name", "v"],
    rows: [['say "hi", twice', 1], ["two\nlines", NaN]],
  };
  assert.equal(renderCsv(t), 'name,v\n"say ""hi"", twice",1.00\n"two\nlines",\n');
});

Deno.test("renderMarkdown: title, padded columns, numeric right-aligned, '-' for missing, notes", () => {
  const expected = [
    "### Demo",
    "",
    "| Method | AUROC | Note |",
    "| ------ | ----: | ---- |",
    "| MSP    | 87.59 | a\\|b |",
    "| MOS    |     - | x    |",
    "| KL     |  0.00 | 3.00 |",
    "",
    "n1",
    "",
    "n2",
    "",
  ].join("\n");
  assert.equal(renderMarkdown(demo), expected);
});

Deno.test("renderMarkdown: minimum width 3, numeric header right-aligned, all-missing column left-aligned, custom decimals", () => {
  const t: Table = { title: "t", columns: ["a", "b"], rows: [[1.23456, undefined]], decimals: 3 };
  assert.equal(
    renderMarkdown(t),
    "### t\n\n|     a | b   |\n| ----: | --- |\n| 1.235 | -   |\n",
  );
});

Deno.test("formatCell: rounding, negative zero, NaN and strings", () => {
  assert.equal(formatCell(1.005), "1.00"); // 1.005 is 1.00499999999999989... in binary
  assert.equal(formatCell(2.675, 1), "2.7");
  assert.equal(formatCell(-0.004), "0.00");
  assert.equal(formatCell(-1.5), "-1.50");
  assert.equal(formatCell(NaN), MISSING);
  assert.equal(formatCell(null, 2, ""), "");
  assert.equal(formatCell("x"), "x");
  assert.equal(formatCell(12), "12.00");
});

Deno.test("render: a row with the wrong number of cells is rejected", () => {
  const t: Table = { title: "bad", columns: ["a", "b"], rows: [[1]] };
  assert.throws(() => renderCsv(t), /row 0 has 1 cells for 2 columns/);
  assert.throws(() => renderMarkdown(t), RangeError);
});
