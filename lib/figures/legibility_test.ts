/**
 * What a reader sees, checked on the rendered SVG: two series with equal values are both drawn
 * (Fig 7's flat and group accuracy), legend entries sit at equal steps, the smallest x value
 * (C = 50) has a labelled tick, panels of a row share one y scale that is drawn once, and a figure
 * with an accuracy chart beside its panels is no taller than the panels.
 */
import assert from "node:assert/strict";
import {
  accuracyChartSpec,
  accuracyGapNote,
  combineSpecs,
  groupedBarsSpec,
} from "./grouped_bars.ts";
import {
  dataTicks,
  drawOrder,
  formatTick,
  linePanelsSpec,
  type LinePoint,
  TICK_LABEL_GAP_PX,
} from "./line_panels.ts";
import { renderSvg } from "./render.ts";
import { rocCurvesSpec } from "./roc_curves.ts";
import {
  baseConfig,
  FLAT_LABEL,
  GROUP_LABEL,
  groupLabel,
  seriesStyles,
  VEGA_LITE_SCHEMA,
} from "./style.ts";
import { inspectSvg } from "./svg_inspect.ts";
import { textWidth } from "./text_metrics.ts";

const PANELS = ["novel-groups", "novel-classes", "group-mixtures", "diffuse-texture"];
const METRICS = ["AUROC (%) ↑", "FPR95 (%) ↓"];
const BACKBONES = ["D=64", "D=128", "D=256", "D=512"];
const HEADS = [FLAT_LABEL, GROUP_LABEL];

/** Figure 7's shape: detection panels and an accuracy chart where both heads score the same. */
function fig7Like() {
  const points: LinePoint[] = [];
  for (const panel of PANELS) {
    for (const [i, x] of BACKBONES.entries()) {
      for (const [j, series] of HEADS.entries()) {
        for (const metric of METRICS) points.push({ x, series, panel, metric, value: 20 * j + i });
      }
    }
  }
  const detection = linePanelsSpec({
    points,
    title: "OOD detection",
    xTitle: "backbone",
    xType: "ordinal",
    xOrder: BACKBONES,
    seriesOrder: HEADS,
  });
  const accuracy = accuracyChartSpec({
    kind: "lines",
    // Identical values: the two lines lie exactly on top of each other.
    points: BACKBONES.flatMap((x, i) => HEADS.map((series) => ({ series, x, value: 10 + 20 * i }))),
    xOrder: BACKBONES,
    seriesOrder: HEADS,
    height: 270,
  });
  return { detection, accuracy };
}

Deno.test("coinciding lines (Fig 7 accuracy): dashed flat over a wider solid group line, different point shapes, one legend", async () => {
  const { detection, accuracy } = fig7Like();
  const spec = combineSpecs("Figure 7", undefined, [detection, accuracy], {
    direction: "horizontal",
    shareLegend: true,
  });
  const { svg, warnings } = await renderSvg(spec);
  assert.deepEqual(warnings, []);
  const s = inspectSvg(svg);
  const [flat, group] = seriesStyles(HEADS);
  assert.notEqual(flat.color, group.color);
  // 4 panels x 2 metrics x 2 heads + 2 accuracy lines.
  assert.equal(s.lines.length, 18);
  const flatLines = s.lines.filter((l) => l.stroke === flat.color);
  const groupLines = s.lines.filter((l) => l.stroke === group.color);
  assert.equal(flatLines.length, 9);
  assert.equal(groupLines.length, 9);
  for (const l of flatLines) assert.equal(l.dash, "6,3");
  for (const l of groupLines) assert.equal(l.dash, "");
  assert.ok(groupLines.every((g) => g.strokeWidth > flatLines[0].strokeWidth), "solid is wider");
  // The accuracy chart's two paths have the same geometry (equal values) ...
  const accFlat = flatLines[flatLines.length - 1];
  const accGroup = groupLines[groupLines.length - 1];
  assert.equal(accFlat.d, accGroup.d);
  // ... and the dashed one is drawn after (on top of) the solid one, in every panel.
  for (let i = 0; i < s.lines.length; i += 2) {
    assert.deepEqual([s.lines[i].stroke, s.lines[i + 1].stroke], [group.color, flat.color]);
  }
  // Points: squares for flat, circles for group, flat's larger (a shape around a shape).
  const flatShapes = new Set(s.symbols.filter((p) => p.stroke === flat.color).map((p) => p.d));
  const groupShapes = new Set(s.symbols.filter((p) => p.stroke === group.color).map((p) => p.d));
  assert.equal(flatShapes.size, 1);
  assert.equal(groupShapes.size, 1);
  const [sq] = flatShapes;
  const [circle] = groupShapes;
  assert.match(sq, /^M-?[\d.]+,-?[\d.]+h[\d.]+v[\d.]+h-[\d.]+Z$/, "a square path");
  assert.match(circle, /A/, "an arc path");
  const half = Number(/^M-?([\d.]+)/.exec(sq)![1]);
  const radius = Number(/^M([\d.]+)/.exec(circle)![1]);
  assert.ok(half > radius, `square half-side ${half} > circle radius ${radius}`);
  // One legend for both charts, each head once.
  assert.deepEqual(s.legendLabels, HEADS);
});

Deno.test("vertical side legend: entries share one x and sit at equal steps whatever their length", async () => {
  const series = [
    FLAT_LABEL,
    ...["taxonomy", "feature clustering", "random grouping"].map(groupLabel),
  ];
  const bars = PANELS.flatMap((category, i) =>
    series.flatMap((s, j) =>
      METRICS.map((metric) => ({ category, series: s, metric, value: 50 + 10 * j - i }))
    )
  );
  const spec = combineSpecs("Figure 6", undefined, [
    groupedBarsSpec({
      points: bars,
      title: "OOD detection",
      seriesOrder: series,
      yDomain: [0, 100],
    }),
    accuracyChartSpec({
      kind: "bars",
      points: series.map((s, i) => ({ series: s, value: 60 - i })),
      seriesOrder: series,
    }),
  ], { direction: "horizontal", shareLegend: true });
  const s = inspectSvg((await renderSvg(spec)).svg);
  assert.deepEqual(s.legendLabels, series, "one legend, naming the classifier of every bar");
  const xs = s.legendEntries.map((e) => e.x);
  const steps = s.legendEntries.slice(1).map((e, i) => e.y - s.legendEntries[i].y);
  assert.ok(Math.max(...xs) - Math.min(...xs) < 0.5, `x ${xs}`);
  assert.ok(Math.max(...steps) - Math.min(...steps) < 1, `y steps ${steps}`);
  // The legend ends inside the figure: its longest label fits the measured width.
  const longest = Math.max(...series.map((l) => textWidth(l, 12)));
  assert.ok(xs[0] + longest <= s.width, `${xs[0]} + ${longest} <= ${s.width}`);
});

Deno.test("horizontal legend: equal blank gaps between entries (text measured, not guessed at 0.8 em)", async () => {
  // Labels of very different lengths; Vega's 0.8 em guess spaced such entries 30-300 px apart.
  const labels = ["MSP", "group softmax (MOS), feature clustering", "KNN", "random grouping"];
  const spec = {
    $schema: VEGA_LITE_SCHEMA,
    data: { values: labels.map((series, i) => ({ series, v: i + 1 })) },
    mark: "bar",
    encoding: {
      x: { field: "series", type: "nominal", axis: null },
      y: { field: "v", type: "quantitative" },
      color: { field: "series", type: "nominal", sort: labels },
    },
    config: baseConfig(),
  };
  const s = inspectSvg((await renderSvg(spec)).svg);
  assert.deepEqual(s.legendLabels, labels);
  const e = s.legendEntries;
  assert.ok(e.every((x) => Math.abs(x.y - e[0].y) < 0.5), "one row");
  const gaps = e.slice(1).map((x, i) => x.x - (e[i].x + textWidth(e[i].label, 12)));
  assert.ok(Math.max(...gaps) - Math.min(...gaps) < 1, `gaps ${gaps}`);
  assert.ok(gaps[0] > 5 && gaps[0] < 40, `gap ${gaps[0]}`);
});

Deno.test("dataTicks: a tick at every C, labels where they fit, C = 50 and the largest labelled", () => {
  const C = [50, 200, 300, 400, 500, 600, 700, 800, 900, 1000];
  // 170 px for 950 classes: 17.9 px per 100; "200"-"300" need 9.2 + 9.2 + 6 = 24.4 px.
  assert.deepEqual(dataTicks([...C, ...C], 170, false), {
    values: C,
    labelled: [50, 200, 400, 600, 800, 1000],
  });
  // Wide enough for all: every value labelled.
  assert.deepEqual(dataTicks(C, 800, false)?.labelled, C);
  // Log axis of group counts: 2, 3 and 6, 8 crowd; 625 gives way to the largest, 788.
  const K = [2, 3, 6, 8, 37, 85, 216, 407, 625, 788];
  assert.deepEqual(dataTicks(K, 170, true)?.labelled, [2, 6, 37, 85, 216, 788]);
  assert.equal(dataTicks([], 170, false), undefined);
  assert.equal(dataTicks(Array.from({ length: 31 }, (_, i) => i), 170, false), undefined);
  assert.deepEqual(dataTicks([5, 5], 170, true), { values: [5], labelled: [5] });
  assert.deepEqual([50, 1000, 0.5, 2.25].map(formatTick), ["50", "1000", "0.5", "2.25"]);
  assert.ok(TICK_LABEL_GAP_PX > 0);
});

Deno.test("line panels (Fig 5): the x axis labels C = 50; each metric row has one shared y axis", async () => {
  const C = [50, 200, 300, 400, 500, 600, 700, 800, 900, 1000];
  const points: LinePoint[] = [];
  for (const [p, panel] of PANELS.entries()) {
    for (const x of C) {
      for (const series of HEADS) {
        // Very different ranges per panel: independent scales would each zoom in.
        for (const metric of METRICS) {
          points.push({ x, series, panel, metric, value: 10 * p + x / 100 });
        }
      }
    }
  }
  const s = inspectSvg(
    (await renderSvg(linePanelsSpec({ points, title: "t", xTitle: "number of classes C" }))).svg,
  );
  const x = s.axes.filter((a) => a.orient === "x" && a.labels.length > 0);
  assert.equal(x.length, PANELS.length, "labelled x axes under the last row only");
  for (const a of x) {
    assert.deepEqual(a.labels.filter((l) => l !== ""), ["50", "200", "400", "600", "800", "1000"]);
    assert.equal(a.labels.length, C.length, "a tick at every C");
  }
  const y = s.axes.filter((a) => a.orient === "y");
  assert.deepEqual(y.map((a) => a.title), METRICS, "one y axis per row, titled with its metric");
  // Shared: the row's axis spans every panel's values (10 * 3 + 10 = 40 at the top).
  for (const a of y) assert.equal(a.labels[a.labels.length - 1], "40");
});

Deno.test("grouped bars (Fig 6): every row's y axis is the same 0-100 scale", async () => {
  const bars = PANELS.flatMap((category, i) =>
    HEADS.flatMap((series) =>
      METRICS.map((metric, m) => ({ category, series, metric, value: m === 0 ? 20 + i : 90 - i }))
    )
  );
  const s = inspectSvg(
    (await renderSvg(groupedBarsSpec({ points: bars, title: "t", yDomain: [0, 100] }))).svg,
  );
  const y = s.axes.filter((a) => a.orient === "y");
  assert.equal(y.length, METRICS.length);
  for (const a of y) assert.deepEqual(a.labels, ["0", "20", "40", "60", "80", "100"]);
});

Deno.test("Fig 7 layout: the accuracy chart beside the panels adds width, not height", async () => {
  const { detection, accuracy } = fig7Like();
  const alone = inspectSvg((await renderSvg(combineSpecs("Figure 7", "sub", [detection]))).svg);
  const beside = inspectSvg(
    (await renderSvg(
      combineSpecs("Figure 7", "sub", [detection, accuracy], {
        direction: "horizontal",
        shareLegend: true,
      }),
    )).svg,
  );
  const stacked = inspectSvg(
    (await renderSvg(combineSpecs("Figure 7", "sub", [detection, accuracy]))).svg,
  );
  assert.ok(beside.height <= alone.height + 10, `${beside.height} vs ${alone.height}`);
  assert.ok(stacked.height > alone.height + 250, "stacking (the old layout) adds a chart's height");
  assert.ok(beside.width > alone.width);
});

Deno.test("ROC curves: flat dashed and drawn on top, legend names the classifier", async () => {
  const curve = { fpr: [0, 0.5, 1], tpr: [0, 0.5, 1] };
  const spec = rocCurvesSpec({
    curves: HEADS.map((series) => ({ panel: "p", series, curve })),
    title: "Figure 11",
    seriesOrder: HEADS,
  });
  const s = inspectSvg((await renderSvg(spec)).svg);
  assert.deepEqual(s.legendLabels, HEADS);
  assert.deepEqual(s.lines.map((l) => l.dash), ["", "6,3"], "solid first, dashed on top");
});

Deno.test("drawOrder: the first series last, rows of a series kept in order", () => {
  const rows = [
    { series: "a", i: 0 },
    { series: "b", i: 1 },
    { series: "a", i: 2 },
    { series: "c", i: 3 },
    { series: "b", i: 4 },
  ];
  assert.deepEqual(drawOrder(rows, ["a", "b", "c"]).map((r) => r.i), [3, 1, 4, 0, 2]);
});

Deno.test("accuracyGapNote: the spread of group minus flat accuracy", () => {
  assert.equal(accuracyGapNote([0.37, 0.74, 0.5]), "group − flat: +0.37 to +0.74 points");
  assert.equal(accuracyGapNote([-1.5, 2]), "group − flat: −1.50 to +2.00 points");
  assert.equal(accuracyGapNote([0.5, 0.5]), "group − flat: +0.50 points");
  assert.equal(accuracyGapNote([NaN]), undefined);
});
