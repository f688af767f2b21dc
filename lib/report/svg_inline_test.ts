/**
 * Inlining an SVG: ids become unique per figure (references follow), code and external links are
 * removed, a rendered Vega figure survives with all its marks, and coordinates are rounded.
 */
import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import { renderSvg } from "../figures/render.ts";
import { rocCurvesSpec } from "../figures/roc_curves.ts";
import { inspectSvg } from "../figures/svg_inspect.ts";
import { inlineSvg, roundNumbers } from "./svg_inline.ts";

const CLIPPED = `<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="40" height="30">
<defs><clipPath id="clip1"><rect width="10" height="10"/></clipPath></defs>
<g clip-path="url(#clip1)" onclick="alert(1)"><rect width="40" height="30" style="fill: url('#grad')"/></g>
<use xlink:href="#clip1"/><use href="https://example.com/x.svg#a"/>
<script>alert(2)</script><foreignObject><div>x</div></foreignObject>
<image href="data:image/png;base64,AAAA"/><image href="http://example.com/x.png"/>
<rect style="fill: url(http://example.com/p.png)"/>
</svg>`;

Deno.test("inlineSvg: ids and every reference to them get the prefix", () => {
  const a = inlineSvg(CLIPPED, "fig-1-", "a.svg");
  const b = inlineSvg(CLIPPED, "fig-2-", "b.svg");
  assert.ok(a.svg.includes('id="fig-1-clip1"'));
  assert.ok(a.svg.includes('clip-path="url(#fig-1-clip1)"'));
  assert.ok(a.svg.includes("url(#fig-1-grad)"));
  assert.ok(a.svg.includes('xlink:href="#fig-1-clip1"'));
  assert.ok(b.svg.includes('id="fig-2-clip1"'));
  // In one HTML document the two figures no longer share an id.
  const ids = (s: string) => [...s.matchAll(/ id="([^"]*)"/g)].map((m) => m[1]);
  assert.deepEqual(ids(a.svg).filter((x) => ids(b.svg).includes(x)), []);
  assert.equal(a.width, 40);
  assert.equal(a.height, 30);
});

Deno.test("inlineSvg: scripts, handlers, foreign content and external links are removed", () => {
  const r = inlineSvg(CLIPPED, "p-", "a.svg");
  for (const bad of ["<script", "alert(", "onclick", "foreignObject", "example.com", "<?xml"]) {
    assert.ok(!r.svg.includes(bad), `${bad} left in ${r.svg}`);
  }
  assert.ok(r.svg.includes('href="data:image/png;base64,AAAA"'), "an embedded image stays");
  assert.deepEqual(
    [...new Set(r.removed)].sort(),
    ["<foreignobject>", "<script>", "href", "onclick", "style"],
  );
});

Deno.test("inlineSvg: not well-formed or not an SVG is one DataError naming the file", () => {
  assert.throws(
    () => inlineSvg("<svg><g></svg>", "p-", "broken.svg"),
    (e) => e instanceof DataError && e.message.startsWith("broken.svg: not well-formed SVG"),
  );
  assert.throws(
    () => inlineSvg("<html/>", "p-", "page.svg"),
    (e) => e instanceof DataError && /page\.svg: root element is html/.test(e.message),
  );
});

Deno.test("inlineSvg keeps a rendered Vega figure whole: the same marks and legend", async () => {
  const curve = { fpr: [0, 0.2, 1], tpr: [0, 0.7, 1] };
  const { svg } = await renderSvg(rocCurvesSpec({
    curves: [
      { panel: "A", series: "MSP", curve },
      { panel: "B", series: "MSP", curve },
      { panel: "A", series: "MOS", curve },
    ],
    title: "t",
  }));
  const r = inlineSvg(svg, "f-", "roc", { decimals: 1 });
  assert.deepEqual(r.removed, []);
  const before = inspectSvg(svg);
  const after = inspectSvg(r.svg);
  assert.deepEqual(after.marks, before.marks);
  assert.deepEqual(after.legendLabels, ["MSP", "MOS"]);
  assert.equal(after.width, before.width);
  // No coordinate keeps more than one decimal.
  for (const m of r.svg.matchAll(/ (?:d|transform)="([^"]*)"/g)) {
    assert.doesNotMatch(m[1], /\d\.\d{2,}/, m[1]);
  }
});

Deno.test("roundNumbers rounds long decimals only, without negative zeros", () => {
  assert.equal(roundNumbers("M0,89.53846153846155h4.000000000000002v-0.0001Z", 1), "M0,89.5h4v0Z");
  assert.equal(roundNumbers("translate(0.5,12.25)", 2), "translate(0.5,12.25)");
  assert.equal(roundNumbers("L1.23456e-7,3.14159", 2), "L0,3.14");
});
