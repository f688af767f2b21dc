/**
 * Every figure kind rendered to SVG: the SVG parses as strict XML (inspectSvg) and has the
 * expected number of series (one line path per series per panel) or bars, counted from Vega's
 * mark groups; sharp turns one into a PNG of the right size.
 */
import assert from "node:assert/strict";
import { accuracyChartSpec, combineSpecs, groupedBarsSpec } from "./grouped_bars.ts";
import { linePanelsSpec, type LinePoint } from "./line_panels.ts";
import { othersBarsSpec } from "./others_bars.ts";
import { renderSvg, svgToPng } from "./render.ts";
import { rocPoints } from "../metrics/roc.ts";
import { rocCurvesSpec } from "./roc_curves.ts";
import { inspectSvg } from "./svg_inspect.ts";
import { createRng } from "../random.ts";

/** Drawn items of one mark type (line series, bars, rules) in a rendered SVG. */
function markPaths(svg: string, type: string): number {
  return inspectSvg(svg).marks[type] ?? 0;
}

const DATASETS = ["iNaturalist", "SUN", "Places", "Textures"];
const METRICS = ["AUROC (%)", "FPR95 (%)"];

Deno.test("linePanelsSpec: one line per series per panel, legend lists the series", async () => {
  const rng = createRng(3);
  const points: LinePoint[] = [];
  for (const panel of DATASETS) {
    for (const series of ["MSP", "MOS"]) {
      for (const x of [50, 200, 500, 1000]) {
        for (const metric of METRICS) {
          points.push({ x, series, panel, metric, value: 100 * rng.float() });
        }
      }
    }
  }
  const { svg, warnings } = await renderSvg(
    linePanelsSpec({ points, title: "t", xTitle: "number of classes C" }),
  );
  assert.deepEqual(warnings, []);
  const doc = svg;
  assert.equal(markPaths(doc, "line"), DATASETS.length * METRICS.length * 2);
  assert.deepEqual(inspectSvg(doc).legendLabels, ["MSP", "MOS"]);
  assert.ok(svg.includes("number of classes C"), "x axis title");
});

Deno.test("linePanelsSpec: non-finite values are dropped, a series absent from a panel draws no line", async () => {
  const points: LinePoint[] = [
    { x: 1, series: "a", panel: "p", metric: "m", value: 1 },
    { x: 2, series: "a", panel: "p", metric: "m", value: NaN },
    { x: 3, series: "a", panel: "p", metric: "m", value: 2 },
    { x: 1, series: "b", panel: "q", metric: "m", value: 1 },
  ];
  const spec = linePanelsSpec({ points, title: "t", xTitle: "x" });
  const values = (spec.data as { values: unknown[] }).values;
  assert.equal(values.length, 3);
  const doc = (await renderSvg(spec)).svg;
  assert.equal(markPaths(doc, "line"), 2);
});

Deno.test("groupedBarsSpec + accuracy bars side by side: 2 x 4 x 4 metric bars and 4 accuracy bars", async () => {
  const series = ["MSP", "MOS (taxonomy)", "MOS (feature clustering)", "MOS (random grouping)"];
  const bars = DATASETS.flatMap((category, i) =>
    series.flatMap((s, j) =>
      METRICS.map((metric) => ({ category, series: s, metric, value: 10 * i + j }))
    )
  );
  const spec = combineSpecs("Figure 6", "sub", [
    groupedBarsSpec({ points: bars, title: "OOD detection" }),
    accuracyChartSpec({
      kind: "bars",
      points: series.map((s, i) => ({ series: s, value: 70 + i })),
    }),
  ], { direction: "horizontal", shareLegend: true });
  const { svg, warnings } = await renderSvg(spec);
  assert.deepEqual(warnings, []);
  const doc = svg;
  assert.equal(markPaths(doc, "rect"), 2 * 4 * 4 + 4);
  // One legend: the accuracy bars are the same series in the same colours.
  assert.deepEqual(inspectSvg(doc).legendLabels, series);
  // Each accuracy bar carries its value (two decimals, as the tables print it).
  for (let i = 0; i < series.length; i++) assert.ok(svg.includes(`>${70 + i}.00</text>`));
});

Deno.test("accuracyChartSpec lines: one line per head", async () => {
  const spec = combineSpecs("t", undefined, [
    accuracyChartSpec({
      kind: "lines",
      points: ["a", "b", "c"].flatMap((x, i) => [
        { series: "flat softmax", x, value: 70 + i },
        { series: "group softmax", x, value: 71 + i },
      ]),
    }),
  ]);
  const doc = (await renderSvg(spec)).svg;
  assert.equal(markPaths(doc, "line"), 2);
});

Deno.test("rocCurvesSpec: one curve per method per OOD set and one TPR-95 guide per panel", async () => {
  const rng = createRng(5);
  const curves = DATASETS.flatMap((panel) =>
    ["MSP", "MOS"].map((series, s) => ({
      panel,
      series,
      curve: rocPoints(
        Float32Array.from({ length: 300 }, () => rng.normal() + 1 + s),
        Float32Array.from({ length: 200 }, () => rng.normal()),
      ),
    }))
  );
  const { svg, warnings } = await renderSvg(rocCurvesSpec({ curves, title: "Figure 11" }));
  assert.deepEqual(warnings, []);
  const doc = svg;
  assert.equal(markPaths(doc, "line"), DATASETS.length * 2);
  assert.equal(markPaths(doc, "rule"), DATASETS.length, "one dashed guide per panel");
});

Deno.test("othersBarsSpec: K bars per panel, own group highlighted, fixed [0, 1] axis", async () => {
  const names = ["animal", "artifact", "misc"];
  const panels = names.map((name, g) => ({
    name,
    ownGroup: g,
    count: 10,
    means: names.map((_, k) => (k === g ? 0.1 : 0.9)),
  }));
  const spec = othersBarsSpec({ panels, groupNames: names, title: "Figure 12" });
  const { svg, warnings } = await renderSvg(spec);
  assert.deepEqual(warnings, []);
  const doc = svg;
  assert.equal(markPaths(doc, "rect"), 9);
  const values = (spec.data as { values: { own: string }[] }).values;
  assert.equal(values.filter((v) => v.own === "images' own group").length, 3);
  assert.throws(
    () => othersBarsSpec({ panels: [{ name: "x", means: [1] }], groupNames: names, title: "t" }),
    /has 1 means for 3 groups/,
  );
  const ood = othersBarsSpec({
    panels: [{ name: "SUN", means: [0.8, 0.9, 0.7] }, { name: "Places", means: [1, 1, 1] }],
    groupNames: names,
    title: "Figure 13",
  });
  assert.equal(markPaths((await renderSvg(ood)).svg, "rect"), 6);
});

Deno.test("svgToPng: a PNG with the SVG's aspect ratio at 2x density", async () => {
  const { svg } = await renderSvg(
    linePanelsSpec({
      points: [{ x: 1, series: "a", panel: "p", metric: "m", value: 1 }, {
        x: 2,
        series: "a",
        panel: "p",
        metric: "m",
        value: 2,
      }],
      title: "t",
      xTitle: "x",
    }),
  );
  const png = await svgToPng(svg, 144);
  assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10]);
  const view = new DataView(png.buffer, png.byteOffset);
  const width = view.getUint32(16);
  const svgWidth = Number(/width="(\d+)"/.exec(svg)![1]);
  assert.equal(width, 2 * svgWidth);
});

Deno.test("inspectSvg: DataErrors for bad XML or root; entry positions, line styles, axes", () => {
  assert.throws(() => inspectSvg("<svg><g></svg>"), /not well-formed XML/);
  assert.throws(() => inspectSvg("<html></html>"), /expected <svg>/);
  const s = inspectSvg(
    '<svg width="10" height="5"><g class="mark-rect role-mark x"><path/><path/></g></svg>',
  );
  assert.deepEqual(s, {
    marks: { rect: 2 },
    legendLabels: [],
    legendEntries: [],
    axes: [],
    lines: [],
    symbols: [],
    width: 10,
    height: 5,
  });
  // Positions add up the translations of every enclosing group; styles are read off the items.
  const t = inspectSvg(
    '<svg width="9" height="9"><g transform="translate(10,20)">' +
      '<g class="mark-text role-legend-label" transform="translate(1.5,2)">' +
      '<text transform="translate(3,4)">a</text></g>' +
      '<g class="mark-line role-mark"><path stroke="#111" stroke-dasharray="6,3" ' +
      'stroke-width="2" d="M0,0L1,1"/></g>' +
      '<g class="mark-group role-axis" aria-label="Y-axis for a linear scale">' +
      '<g class="mark-text role-axis-label"><text>0</text><text>50</text></g>' +
      '<g class="mark-text role-axis-title"><text>AUROC</text></g></g>' +
      "</g></svg>",
  );
  assert.deepEqual(t.legendEntries, [{ label: "a", x: 14.5, y: 26 }]);
  assert.deepEqual(t.lines, [
    { stroke: "#111", dash: "6,3", strokeWidth: 2, fill: "", d: "M0,0L1,1" },
  ]);
  assert.deepEqual(t.axes, [{ orient: "y", title: "AUROC", labels: ["0", "50"] }]);
});
