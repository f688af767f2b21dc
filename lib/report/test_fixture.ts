/**
 * A small results directory for the report's tests, in both score layouts the report reads: two
 * score stages (`scores/flat` with msp and energy, `scores/group` with mos) and one
 * table1-extended detector stage (`paper/seed-0/knn`), a Markdown + CSV table, three SVG figures,
 * manifests, and things that must never reach the page (a staging directory, a temp file, a
 * symbolic link to a directory outside and one to a file outside).
 *
 * @module
 */
import { renderSvg } from "../figures/render.ts";
import { rocCurvesSpec } from "../figures/roc_curves.ts";
import { writeNpy } from "../io/npy.ts";
import { createRng } from "../random.ts";
import { renderCsv, renderMarkdown, type Table } from "../tables/render.ts";

/** What the fixture holds, for the tests' expectations. */
export interface ResultsFixture {
  root: string;
  /** Score arrays by `<group>|<method>|<set>`. */
  scores: Map<string, Float32Array>;
  /** A string only the file behind the symbolic link contains. */
  secret: string;
}

/** Writes `data` as a float32 `.npy` (parents created). */
async function npy(path: string, data: Float32Array): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await writeNpy(path, { dtype: "<f4", shape: [data.length], data });
}

function manifest(stage: string, config: unknown, wall: number, created: string): string {
  return JSON.stringify(
    {
      tool: "mos-toolkit",
      version: "0.1.0",
      deno: "2.9.6",
      stage,
      config,
      seed: 0,
      inputs: { head: `sha256:${"ab".repeat(32)}` },
      wall_seconds: wall,
      created,
    },
    null,
    2,
  ) + "\n";
}

/**
 * Writes the fixture under `root` (which must exist, with `outside` a sibling directory for the
 * link target). `wall` and `created` go into every manifest and `wall` into timings.csv, so two
 * fixtures can differ in their time fields only.
 */
export async function writeResultsFixture(
  root: string,
  outside: string,
  o: { wall?: number; created?: string } = {},
): Promise<ResultsFixture> {
  const wall = o.wall ?? 1.25;
  const created = o.created ?? "2026-01-01T00:00:00.000Z";
  const rng = createRng(42);
  const gen = (n: number, shift: number) =>
    Float32Array.from({ length: n }, () => Math.round(100 * (rng.normal() + shift)) / 100);
  const scores = new Map<string, Float32Array>();
  const put = async (group: string, method: string, set: string, path: string, a: Float32Array) => {
    scores.set(`${group}|${method}|${set}`, a);
    await npy(path, a);
  };
  for (
    const [group, methods] of [["scores/flat", ["msp", "energy"]], ["scores/group", [
      "mos",
    ]]] as const
  ) {
    for (const [k, m] of methods.entries()) {
      await put(group, m, "id", `${root}/${group}/scores/${m}/id.npy`, gen(200, 1 + k));
      await put(group, m, "near", `${root}/${group}/scores/${m}/near.npy`, gen(150, 0.5));
      await put(group, m, "far", `${root}/${group}/scores/${m}/far.npy`, gen(120, 0));
    }
    await Deno.writeTextFile(
      `${root}/${group}/manifest.json`,
      manifest("score", { methods, id: "id", ood: ["near", "far"] }, wall, created),
    );
    await Deno.writeTextFile(
      `${root}/${group}/timings.csv`,
      `method,seconds\n${methods.map((m) => `${m},${wall}`).join("\n")}\n`,
    );
  }
  // table1-extended's layout: <protocol>/seed-<s>/<method>/scores/<set>.npy, order from
  // <protocol>/metrics.csv (far listed first there).
  const knn = `${root}/paper/seed-0/knn`;
  await put("paper/seed-0", "knn", "id", `${knn}/scores/id.npy`, gen(200, 2));
  await put("paper/seed-0", "knn", "near", `${knn}/scores/near.npy`, gen(150, 0));
  await put("paper/seed-0", "knn", "far", `${knn}/scores/far.npy`, gen(120, -1));
  await Deno.writeTextFile(`${knn}/result.json`, JSON.stringify({ method: "knn", label: "KNN" }));
  await Deno.writeTextFile(
    `${knn}/manifest.json`,
    manifest("detector", { method: "knn" }, wall, created),
  );
  await Deno.writeTextFile(
    `${root}/paper/metrics.csv`,
    "method,dataset,seed,auroc\nknn,far,0,90\nknn,near,0,80\n",
  );

  const table: Table = {
    title: "Table 1: OOD detection (fixture)",
    columns: ["Method", "Test time (s)", "near AUROC", "far AUROC"],
    rows: [["MSP", wall, 75.5, 88.25], ["MOS", wall, 80, null]],
    notes: ["All values are percentages."],
  };
  await Deno.writeTextFile(`${root}/table1.md`, renderMarkdown(table));
  await Deno.writeTextFile(`${root}/table1.csv`, renderCsv(table));
  await Deno.writeTextFile(
    `${root}/manifest.json`,
    manifest("tables", { title: "x" }, wall, created),
  );

  const curve = { fpr: [0, 0.3, 1], tpr: [0, 0.8, 1] };
  for (const name of ["fig10", "fig2", "fig1"]) {
    const { svg } = await renderSvg(
      rocCurvesSpec({ curves: [{ panel: "p", series: "MSP", curve }], title: `Figure ${name}` }),
    );
    await Deno.writeTextFile(`${root}/${name}.svg`, svg);
  }

  // Never on the page: staging, temp files, and what a symbolic link points at.
  const secret = "SECRET-OUTSIDE-7f3a";
  await Deno.mkdir(`${root}/.staging.tmp-1-abc`, { recursive: true });
  await Deno.writeTextFile(`${root}/.staging.tmp-1-abc/fig9.svg`, `<svg>${secret}</svg>`);
  await Deno.writeTextFile(`${root}/fig3.svg.tmp-1-abc`, secret);
  await Deno.mkdir(outside, { recursive: true });
  await Deno.writeTextFile(`${outside}/leak.md`, `# ${secret}\n`);
  await Deno.writeTextFile(
    `${outside}/leak.svg`,
    `<svg xmlns="http://www.w3.org/2000/svg"><text>${secret}</text></svg>`,
  );
  await Deno.symlink(outside, `${root}/linked`);
  await Deno.symlink(`${outside}/leak.svg`, `${root}/leak.svg`);
  return { root, scores, secret };
}
