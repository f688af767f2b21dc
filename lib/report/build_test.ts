/**
 * buildReport on the fixture: a self-contained page (no script, no external reference), every
 * table, figure and manifest on it, the curves and histograms with one drawn line / area per
 * method and OOD set and the AUROC of the score files, the same bytes for the same directory, and
 * the same bytes up to time cells for directories that differ only in time fields.
 */
import assert from "node:assert/strict";
import { inspectSvg } from "../figures/svg_inspect.ts";
import { writeNpy } from "../io/npy.ts";
import { formatNumber } from "../tables/render.ts";
import { buildReport, runFiguresHtml, tablesHtml } from "./build.ts";
import { isToolkitReport, REPORT_CSP, timelessReport } from "./page.ts";
import { writeResultsFixture } from "./test_fixture.ts";

async function withTemp(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "report_build_" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The fixture at `<dir>/<parent>/results` (the same directory name for every parent). */
async function fixture(dir: string, parent: string, o: { wall?: number; created?: string } = {}) {
  await Deno.mkdir(`${dir}/${parent}/results`, { recursive: true });
  return await writeResultsFixture(`${dir}/${parent}/results`, `${dir}/${parent}/outside`, o);
}

/** Pairwise AUROC, ties half: the reference the histogram headers must show. */
function referenceAuroc(id: Float32Array, ood: Float32Array): number {
  let wins = 0;
  for (const a of id) for (const b of ood) wins += a > b ? 1 : a === b ? 0.5 : 0;
  return (100 * wins) / (id.length * ood.length);
}

/** The inline SVG of each `<figure data-kind=...>`, in page order. */
function figures(html: string): { kind: string; svg: string }[] {
  return [...html.matchAll(/<figure id="[^"]+" data-kind="([^"]+)">\n(<svg[\s\S]*?<\/svg>)/g)]
    .map((m) => ({ kind: m[1], svg: m[2] }));
}

Deno.test("buildReport: a self-contained page with every table, figure, score curve and manifest", async () => {
  await withTemp(async (dir) => {
    const fx = await fixture(dir, "a");
    const r = await buildReport(fx.root);
    const html = r.html;
    assert.ok(html.startsWith("<!DOCTYPE html>"));
    assert.ok(isToolkitReport(html));
    assert.ok(html.includes(`content="${REPORT_CSP}"`));
    // No code and nothing to fetch: the only URLs are the SVG namespaces.
    assert.doesNotMatch(html, /<script|<link|<iframe|\son\w+=/i);
    assert.doesNotMatch(html, /\s(?:src|href)="(?!#|data:image\/)/);
    const urls = [...html.matchAll(/https?:\/\/[^\s"'<>)]+/g)].map((m) => m[0]);
    assert.deepEqual(
      [...new Set(urls)].sort(),
      ["http://www.w3.org/1999/xlink", "http://www.w3.org/2000/svg"],
    );
    assert.ok(!html.includes(fx.secret), "nothing read through the symbolic links");

    assert.deepEqual(r.counts, {
      tables: 4,
      figures: 3,
      scoreFigures: 2,
      methods: 4,
      manifests: 4,
    });
    assert.deepEqual(r.warnings, []);
    assert.ok(html.includes("<h3>Table 1: OOD detection (fixture)</h3>"));
    assert.ok(html.includes('<td class="num">88.25</td>'));
    assert.ok(html.includes("<code>paper/metrics.csv</code>"));
    for (const dirName of [".", "paper/seed-0/knn", "scores/flat", "scores/group"]) {
      assert.ok(html.includes(`<td>${dirName}</td>`), `provenance row of ${dirName}`);
    }
    assert.ok(html.includes(`sha256:${"ab".repeat(32)}`), "input hashes listed");

    const figs = figures(html);
    assert.deepEqual(figs.map((f) => f.kind), ["run", "run", "run", "curves", "histograms"]);
    // The run's figures in natural order (fig1, fig2, fig10), each its own title.
    assert.deepEqual(
      figs.slice(0, 3).map((f) => /Figure (fig\d+)/.exec(f.svg)?.[1]),
      ["fig1", "fig2", "fig10"],
    );
    // 4 methods x 2 OOD sets: a ROC and a PR line each; an ID and an OOD area per histogram.
    const curves = inspectSvg(figs[3].svg);
    assert.equal(curves.marks.line, 2 * 4 * 2);
    assert.deepEqual(curves.legendLabels, ["KNN", "MSP", "Energy", "MOS"]);
    assert.equal(inspectSvg(figs[4].svg).marks.area, 2 * 4 * 2);
    // The AUROC of every method and set, from the .npy files, in the histogram headers.
    let checked = 0;
    for (const [key, ood] of fx.scores) {
      const [group, method, set] = key.split("|");
      if (set === "id") continue;
      const id = fx.scores.get(`${group}|${method}|id`)!;
      const want = `${set}: AUROC ${formatNumber(referenceAuroc(id, ood), 2)}`;
      assert.ok(figs[4].svg.includes(want), `${group} ${method}: ${want}`);
      checked++;
    }
    assert.equal(checked, 8);
  });
});

Deno.test("buildReport: same bytes for the same directory; only time cells differ when only time fields do", async () => {
  await withTemp(async (dir) => {
    const a = await fixture(dir, "a");
    const b = await fixture(dir, "b", { wall: 97.5, created: "2027-05-05T05:05:05.000Z" });
    const ra = (await buildReport(a.root)).html;
    assert.equal((await buildReport(a.root)).html, ra, "rebuilt byte for byte");
    const rb = (await buildReport(b.root)).html;
    assert.notEqual(rb, ra, "the time fields are shown");
    assert.equal(timelessReport(rb), timelessReport(ra));
    // A changed score is not a time field.
    await writeNpy(`${b.root}/scores/flat/scores/msp/near.npy`, {
      dtype: "<f4",
      shape: [3],
      data: new Float32Array([0, 1, 2]),
    });
    const rc = (await buildReport(b.root)).html;
    assert.notEqual(timelessReport(rc), timelessReport(ra));
  });
});

Deno.test("buildReport: an unreadable figure or score file is left out and named, the rest is drawn", async () => {
  await withTemp(async (dir) => {
    const fx = await fixture(dir, "a");
    await Deno.writeTextFile(`${fx.root}/fig2.svg`, "<svg><g></svg>");
    await Deno.writeTextFile(
      `${fx.root}/evil.svg`,
      '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script><rect width="1" height="1"/></svg>',
    );
    await writeNpy(`${fx.root}/scores/group/scores/mos/far.npy`, {
      dtype: "<f4",
      shape: [2],
      data: new Float32Array([1, NaN]),
    });
    const r = await buildReport(fx.root);
    assert.deepEqual(r.counts.figures, 3, "fig1, fig10 and evil.svg without its script");
    assert.equal(r.counts.methods, 3);
    assert.deepEqual(r.warnings, [
      "evil.svg: removed <script> (no scripts or external links in the report)",
      'fig2.svg: not well-formed SVG (Opening and ending tag mismatch: "g" != "svg"); left out of the report',
      `MOS: ${fx.root}/scores/group/scores/mos/far.npy: score 1 is NaN; a score must be finite; not drawn`,
    ]);
    assert.ok(!r.html.includes("<script"));
    assert.ok(r.html.includes('<section id="left-out">'));
    assert.ok(r.html.includes("score 1 is NaN; a score must be finite; not drawn"));
  });
});

Deno.test("tablesHtml: Markdown tables, then raw CSV files; null for none; bad CSV as text", () => {
  assert.equal(tablesHtml({ markdown: [], csv: [] }, []), null);
  const warnings: string[] = [];
  const html = tablesHtml({
    markdown: [{ rel: "t/table1.md", text: "| a | b |\n| --- | --- |\n| 1 | 2 |\n" }],
    csv: [{ rel: "x.csv", text: "m,v\nmsp,1.5\n" }, { rel: "bad.csv", text: 'a,"b\n' }],
  }, warnings)!;
  const md = html.indexOf("<code>t/table1.md</code>");
  const raw = html.indexOf("<h3>Raw CSV files</h3>");
  assert.ok(md !== -1 && raw > md, "Markdown before the raw CSV heading");
  assert.ok(html.indexOf("<code>x.csv</code>") > raw);
  assert.match(html, /<td[^>]*>msp<\/td>/);
  assert.ok(html.includes("<pre>a,&quot;b\n</pre>"), "unparsable CSV shown as escaped text");
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /^bad\.csv: not readable as CSV/);
});

Deno.test("runFiguresHtml: ids in order, scripts removed with a warning, bad SVG left out", () => {
  let n = 0;
  const nextId = () => `fig-${++n}`;
  const warnings: string[] = [];
  const ok =
    '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="5" height="5"/></svg>';
  const scripted =
    '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>';
  const out = runFiguresHtml(
    [
      { rel: "a.svg", text: ok },
      { rel: "b.svg", text: "not an svg" },
      { rel: "c.svg", text: scripted },
    ],
    nextId,
    warnings,
  );
  assert.equal(out.length, 2);
  assert.match(out[0], /^<figure id="fig-1" data-kind="run">/);
  assert.match(out[1], /^<figure id="fig-3" data-kind="run">/);
  assert.ok(!out[1].includes("<script"));
  assert.equal(warnings.length, 2);
  assert.match(warnings[0], /left out of the report$/);
  assert.match(warnings[1], /^c\.svg: removed .*script/);
});
