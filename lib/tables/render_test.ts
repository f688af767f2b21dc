import assert from "node:assert/strict";
import {
  formatCell,
  formatNumber,
  MISSING,
  renderCsv,
  renderMarkdown,
  type Table,
} from "./render.ts";

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
  // 1.005 is 1.00499999999999989... in binary; its decimal value rounds half away from zero.
  assert.equal(formatCell(1.005), "1.01");
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

Deno.test("formatNumber: half away from zero on the decimal value (88.735-style ties)", () => {
  // Each tie is written as a decimal literal; the double nearest to it lies below the tie for
  // 88.735, 1.005, 2.675 and 9.995 (toFixed gives 88.73, 1.00, 2.67, 9.99) and above it for
  // 0.125 (exact) and 1.115: the decimal value decides, not the binary one.
  const cases: [number, number, string, string][] = [
    [88.735, 2, "88.74", "88.73"],
    [1.005, 2, "1.01", "1.00"],
    [2.675, 2, "2.68", "2.67"],
    [9.995, 2, "10.00", "9.99"],
    [0.125, 2, "0.13", "0.13"],
    [-88.735, 2, "-88.74", "-88.73"],
    [-2.5, 0, "-3", "-3"],
    [2.5, 0, "3", "3"],
    [0.5, 0, "1", "1"],
    [0.49999, 0, "0", "0"],
    [99.995, 2, "100.00", "100.00"],
    [88.7349, 2, "88.73", "88.73"],
  ];
  for (const [v, d, want, toFixed] of cases) {
    assert.equal(formatNumber(v, d), want, `${v} to ${d} places`);
    assert.equal(v.toFixed(d), toFixed, `toFixed(${v}) as the comment says`);
  }
});

Deno.test("formatNumber: the same value rounds the same whether computed or read back from CSV", () => {
  // An AUROC of 176950 correct pairs out of 400 x 500, exactly 88.475%: computed in float64 as
  // 100 * (pairs / total) it is 88.47500000000001; metrics.csv stores "88.4750", which reads back
  // as 88.474999999999994. toFixed(2) printed 88.48 for the first and 88.47 for the second, so
  // two tables of the same run disagreed.
  const computed = 100 * (176950 / (400 * 500));
  const stored = Number(computed.toFixed(4));
  assert.notEqual(computed, stored);
  assert.equal(computed.toFixed(2), "88.48");
  assert.equal(stored.toFixed(2), "88.47");
  assert.equal(formatNumber(computed, 2), "88.48");
  assert.equal(formatNumber(stored, 2), "88.48");
  // Every count k of 200,000 pairs (percentages with at most 4 decimals): the value and its
  // 4-decimal CSV round trip print the same 2-decimal text (toFixed disagrees on 2358 of them).
  let toFixedDisagrees = 0;
  for (let k = 0; k <= 200_000; k++) {
    const v = 100 * (k / 200_000);
    const back = Number(v.toFixed(4));
    assert.equal(formatNumber(back, 2), formatNumber(v, 2), `k = ${k}`);
    if (back.toFixed(2) !== v.toFixed(2)) toFixedDisagrees++;
  }
  assert.equal(toFixedDisagrees, 2358);
});

Deno.test("formatNumber: signs, zero, exponent forms, non-finite values, bad decimals", () => {
  assert.equal(formatNumber(-0.004, 2), "0.00"); // rounds to zero: no sign
  assert.equal(formatNumber(-0, 2), "0.00");
  assert.equal(formatNumber(-0.005, 2), "-0.01");
  assert.equal(formatNumber(1e-7, 2), "0.00"); // String(1e-7) is "1e-7"
  assert.equal(formatNumber(5e-7, 6), "0.000001");
  assert.equal(formatNumber(1.5e21, 1), "1500000000000000000000.0");
  assert.equal(formatNumber(12, 0), "12");
  assert.equal(formatNumber(123.456, 4), "123.4560");
  assert.equal(formatNumber(Infinity), "Infinity");
  assert.equal(formatNumber(-Infinity), "-Infinity");
  assert.throws(() => formatNumber(1, -1), RangeError);
  assert.throws(() => formatNumber(1, 1.5), RangeError);
});
