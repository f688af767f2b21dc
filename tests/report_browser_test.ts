/**
 * The report in a real browser: a tiny `demo` run and a tiny `grouping --demo` run (their own
 * report.html, written by the tasks) are opened in headless Chromium (tests/chromium.ts). Each
 * page must load with no console error, no failed request and no request but the page itself,
 * and every figure (and every SVG in it) must render with a non-zero size, the curve and histogram
 * figures with one visible line / area per method and OOD set found in the run's score files.
 * Screenshots go to results/report_screenshot.png (demo) and
 * results/report_screenshot_grouping.png for people to look at. A deliberately broken copy of
 * the page shows that each check catches what it is for.
 *
 * Without a Chromium (`deno task test` on a fresh machine) the test is reported as ignored, with
 * the reason in its name; `.ci/run` installs Debian's chromium first.
 */
import assert from "node:assert/strict";
import { findChromium, type Page, type PageLog, withChromium } from "./chromium.ts";
import { ok, REPO_ROOT, withTempDir } from "./cli_helpers.ts";

const CHROMIUM = await findChromium();

/** Viewport width of the screenshots, in CSS pixels. */
const WIDTH = 1400;

/** The tiny settings of the tasks (seconds, not minutes; the numbers do not matter here). */
const TINY = ["--dim", "8", "--train-per-class", "2", "--steps", "5"];

/** One figure as the browser laid it out. */
interface FigureBox {
  id: string;
  kind: string;
  width: number;
  height: number;
  /** Width x height of every `<svg>` inside it. */
  svgs: [number, number][];
  /** Drawn paths of Vega line / area marks with a non-empty box. */
  lines: number;
  areas: number;
}

const MEASURE = `[...document.querySelectorAll("figure")].map((f) => {
  const box = (e) => e.getBoundingClientRect();
  const drawn = (type) => [...f.querySelectorAll("g.mark-" + type + ".role-mark > path")]
    .filter((p) => { const b = p.getBBox(); return b.width > 0 || b.height > 0; }).length;
  return {
    id: f.id,
    kind: f.dataset.kind ?? "",
    width: box(f).width,
    height: box(f).height,
    svgs: [...f.querySelectorAll("svg")].map((s) => [box(s).width, box(s).height]),
    lines: drawn("line"),
    areas: drawn("area"),
  };
})`;

/** What the page did and how its figures were laid out. */
async function inspect(page: Page, file: string): Promise<{ log: PageLog; figures: FigureBox[] }> {
  const log = await page.load(`file://${file}`);
  return { log, figures: await page.evaluate<FigureBox[]>(MEASURE) };
}

/** Every check of a loaded report, as a list of problems (empty when the page is right). */
function problems(file: string, r: { log: PageLog; figures: FigureBox[] }): string[] {
  const out: string[] = [];
  for (const e of r.log.errors) out.push(`console error: ${e}`);
  for (const f of r.log.failed) out.push(`failed request: ${f}`);
  for (const u of r.log.requests) if (u !== `file://${file}`) out.push(`request: ${u}`);
  for (const f of r.figures) {
    if (!(f.width > 0 && f.height > 0)) {
      out.push(`figure ${f.id || f.kind}: ${f.width}x${f.height}`);
    }
    if (f.svgs.length === 0) out.push(`figure ${f.id || f.kind}: no svg`);
    for (const [w, h] of f.svgs) {
      if (!(w > 0 && h > 0)) out.push(`figure ${f.id || f.kind}: svg ${w}x${h}`);
    }
  }
  return out;
}

/** Methods (score directories) and OOD sets of a run, from its files, not from the report. */
async function scoreLayout(out: string): Promise<{ methods: number; sets: number }> {
  let methods = 0;
  let sets = 0;
  for await (const stage of Deno.readDir(`${out}/scores`)) {
    for await (const m of Deno.readDir(`${out}/scores/${stage.name}/scores`)) {
      methods++;
      let n = 0;
      for await (const f of Deno.readDir(`${out}/scores/${stage.name}/scores/${m.name}`)) {
        if (f.name.endsWith(".npy")) n++;
      }
      sets = n - 1; // all but id.npy
    }
  }
  return { methods, sets };
}

async function svgFiles(dir: string): Promise<number> {
  let n = 0;
  for await (const e of Deno.readDir(dir)) if (e.isFile && e.name.endsWith(".svg")) n++;
  return n;
}

/** PNG width and height from the IHDR chunk. */
function pngSize(png: Uint8Array): [number, number] {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  assert.deepEqual([...png.subarray(0, 8)], sig, "a PNG file");
  const v = new DataView(png.buffer, png.byteOffset);
  return [v.getUint32(16), v.getUint32(20)];
}

/** Checks one run's report in the browser and writes its screenshot to `shot`. */
async function checkReport(page: Page, out: string, shot: string): Promise<FigureBox[]> {
  const file = `${out}/report.html`;
  const r = await inspect(page, file);
  assert.deepEqual(problems(file, r), [], `${file} in Chromium`);
  assert.deepEqual(r.log.requests, [`file://${file}`], "the page fetches nothing");
  const { methods, sets } = await scoreLayout(out);
  const runFigures = await svgFiles(out);
  // Every figure of the run, then one curve and one histogram figure (up to 8 methods each).
  const kinds = [...Array(runFigures).fill("run"), "curves", "histograms"];
  assert.deepEqual(r.figures.map((f) => f.kind), kinds, file);
  const curves = r.figures.find((f) => f.kind === "curves")!;
  const hist = r.figures.find((f) => f.kind === "histograms")!;
  assert.equal(curves.lines, 2 * methods * sets, "a ROC and a PR line per method and OOD set");
  assert.equal(hist.areas, 2 * methods * sets, "an ID and an OOD area per method and OOD set");
  const png = await page.screenshot(WIDTH);
  const [w, h] = pngSize(png);
  assert.equal(w, WIDTH);
  assert.equal(h, await page.evaluate<number>("Math.ceil(document.documentElement.scrollHeight)"));
  await Deno.mkdir(`${REPO_ROOT}/results`, { recursive: true });
  await Deno.writeFile(shot, png);
  return r.figures;
}

Deno.test({
  name: CHROMIUM
    ? "report in headless Chromium: no console errors or requests, every figure drawn, screenshots"
    : "report in headless Chromium (IGNORED: no chromium on PATH; .ci/run installs Debian's " +
      "chromium, or set MOS_CHROMIUM=/path/to/chrome)",
  ignore: CHROMIUM === null,
  async fn() {
    await withTempDir(async (dir) => {
      const demo = `${dir}/demo`;
      const grouping = `${dir}/grouping`;
      await Promise.all([
        ok("demo.ts", [...TINY, "--out", demo]),
        ok("grouping.ts", ["--demo", ...TINY, "--out", grouping]),
      ]);
      await withChromium(CHROMIUM!, WIDTH, async (page) => {
        const demoFigures = await checkReport(
          page,
          demo,
          `${REPO_ROOT}/results/report_screenshot.png`,
        );
        assert.equal(demoFigures.length, 2, "the demo writes no SVG of its own");
        const groupingFigures = await checkReport(
          page,
          grouping,
          `${REPO_ROOT}/results/report_screenshot_grouping.png`,
        );
        assert.equal(groupingFigures.filter((f) => f.kind === "run").length, 4, "Figs 6, 11-13");

        // The checks catch what they are for: a script, an external image, zero-size figures.
        const bad = `${dir}/bad.html`;
        const html = await Deno.readTextFile(`${demo}/report.html`);
        await Deno.writeTextFile(
          bad,
          html.replace(
            "</main>",
            '<figure id="hidden" data-kind="run" style="display: none"><svg></svg></figure>\n' +
              '<figure id="broken" data-kind="run"><svg width="0" height="0"></svg></figure>\n' +
              '<img src="https://example.invalid/x.png" alt="">\n' +
              '<script>console.error("a script ran")</script>\n</main>',
          ),
        );
        const found = problems(bad, await inspect(page, bad));
        assert.ok(found.includes("figure hidden: 0x0"), found.join("\n"));
        assert.ok(found.includes("figure broken: svg 0x0"), found.join("\n"));
        assert.ok(
          found.some((p) => p.startsWith("console error:") && /script/i.test(p)),
          `the blocked script is reported: ${found.join("\n")}`,
        );
        assert.ok(
          found.some((p) => p.includes("example.invalid")),
          `the external image is reported: ${found.join("\n")}`,
        );
      });
    });
  },
});
