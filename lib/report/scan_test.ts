/**
 * scanResults on the fixture: the files the page shows, in a fixed order, both score layouts with
 * their method and data set order, and nothing from bookkeeping, temp files or symbolic links.
 */
import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import { MAX_SCAN_ENTRIES, naturalCompare, scanResults, scoreLayout } from "./scan.ts";
import { writeResultsFixture } from "./test_fixture.ts";

/** Runs `body` with a fresh results directory `root` and a sibling `outside`. */
async function withTemp(body: (root: string, outside: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "report_scan_" });
  try {
    await Deno.mkdir(`${dir}/r`);
    await body(`${dir}/r`, `${dir}/outside`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("scanResults: tables, figures, manifests and score sets of the fixture, in order", async () => {
  await withTemp(async (root, outside) => {
    const fx = await writeResultsFixture(root, outside);
    const s = await scanResults(root);
    assert.deepEqual(s.markdown.map((f) => f.rel), ["table1.md"]);
    // table1.csv has a Markdown twin, so only the CSVs without one are listed.
    assert.deepEqual(s.csv.map((f) => f.rel), [
      "paper/metrics.csv",
      "scores/flat/timings.csv",
      "scores/group/timings.csv",
    ]);
    assert.deepEqual(s.svg.map((f) => f.rel), ["fig1.svg", "fig2.svg", "fig10.svg"]);
    assert.deepEqual(s.manifests.map((f) => f.rel), [
      "manifest.json",
      "paper/seed-0/knn/manifest.json",
      "scores/flat/manifest.json",
      "scores/group/manifest.json",
    ]);
    const all = [...s.markdown, ...s.csv, ...s.svg, ...s.manifests].map((f) => f.text).join("");
    assert.ok(!all.includes(fx.secret), "nothing behind a link, in staging or in a temp file");
    assert.deepEqual(
      s.scoreSets.map((x) => [x.group, x.method, x.label ?? null, x.id, x.ood]),
      [
        ["paper/seed-0", "knn", "KNN", "id", ["far", "near"]],
        // The score stage's manifest order (msp before energy; near before far).
        ["scores/flat", "msp", null, "id", ["near", "far"]],
        ["scores/flat", "energy", null, "id", ["near", "far"]],
        ["scores/group", "mos", null, "id", ["near", "far"]],
      ],
    );
    assert.equal(s.scoreSets[1].files.far, `${root}/scores/flat/scores/msp/far.npy`);
    assert.deepEqual(s.problems, []);
  });
});

Deno.test("scanResults: a score directory without the ID set's file, or without OOD files, is a problem line", async () => {
  await withTemp(async (root, outside) => {
    await writeResultsFixture(root, outside);
    await Deno.remove(`${root}/scores/flat/scores/energy/id.npy`);
    await Deno.remove(`${root}/paper/seed-0/knn/scores/near.npy`);
    await Deno.remove(`${root}/paper/seed-0/knn/scores/far.npy`);
    const s = await scanResults(root);
    assert.deepEqual(s.scoreSets.map((x) => x.method), ["msp", "mos"]);
    // In path order, as the walk found them.
    assert.deepEqual(s.problems, [
      "paper/seed-0/knn/scores: no OOD set's scores beside id.npy; not drawn",
      "scores/flat/scores/energy: no id.npy (the ID set's scores); not drawn",
    ]);
  });
});

Deno.test("scanResults: a manifest that is a link to a file outside is neither listed nor read", async () => {
  await withTemp(async (root, outside) => {
    await writeResultsFixture(root, outside);
    const config = { methods: ["mos"], id: "near", ood: ["far"] };
    await Deno.writeTextFile(`${outside}/manifest.json`, JSON.stringify({ stage: "x", config }));
    await Deno.remove(`${root}/scores/group/manifest.json`);
    await Deno.symlink(`${outside}/manifest.json`, `${root}/scores/group/manifest.json`);
    const s = await scanResults(root);
    assert.ok(!s.manifests.some((m) => m.rel === "scores/group/manifest.json"));
    // Read, it would make "near" the ID set; unread, the default "id" holds and both sets stay.
    const mos = s.scoreSets.find((x) => x.method === "mos")!;
    assert.equal(mos.id, "id");
    assert.deepEqual(mos.ood, ["far", "near"]);
  });
});

Deno.test("scanResults: a missing directory, a file, and a directory too large are DataErrors", async () => {
  await withTemp(async (root) => {
    await assert.rejects(
      scanResults(`${root}/nope`),
      (e) =>
        e instanceof DataError &&
        e.message.startsWith(`results directory ${root}/nope not found; give the output`),
    );
    await Deno.writeTextFile(`${root}/f`, "x");
    await assert.rejects(
      scanResults(`${root}/f`),
      (e) => e instanceof DataError && e.message.includes("is not a directory"),
    );
    for (let i = 0; i < 12; i++) await Deno.mkdir(`${root}/d/${i}`, { recursive: true });
    await scanResults(`${root}/d`, { maxEntries: 12 });
    await assert.rejects(
      scanResults(`${root}/d`, { maxEntries: 11 }),
      (e) =>
        e instanceof DataError && e.message.includes("holds more than 11 files and directories"),
    );
    await assert.rejects(
      scanResults(`${root}/d`, { maxEntries: 11, label: "--results", hint: "pass one" }),
      (e) =>
        e instanceof DataError &&
        e.message === `--results ${root}/d holds more than 11 files and directories; pass one`,
    );
    assert.ok(MAX_SCAN_ENTRIES >= 100_000, "large enough for a real run's directory");
  });
});

Deno.test("naturalCompare orders digit runs as numbers", () => {
  const names = ["fig11.svg", "fig2.svg", "fig6.svg", "a/fig1.svg", "fig6b.svg", "fig06.svg"];
  assert.deepEqual(names.sort(naturalCompare), [
    "a/fig1.svg",
    "fig2.svg",
    "fig06.svg",
    "fig6.svg",
    "fig6b.svg",
    "fig11.svg",
  ]);
});

Deno.test("scoreLayout: both score layouts, and paths in neither", () => {
  assert.deepEqual(scoreLayout(["scores", "flat", "msp", "id.npy"]), null);
  assert.deepEqual(scoreLayout("run/scores/msp/id.npy".split("/")), {
    group: "run",
    method: "msp",
    stage: "run",
  });
  assert.deepEqual(scoreLayout("scores/msp/sun.npy".split("/")), {
    group: "",
    method: "msp",
    stage: "",
  });
  assert.deepEqual(scoreLayout("paper/seed-0/knn/scores/near.npy".split("/")), {
    group: "paper/seed-0",
    method: "knn",
    stage: "paper/seed-0/knn",
  });
  assert.equal(scoreLayout(["heads", "weight.npy"]), null);
  assert.equal(scoreLayout(["a", "b", "c.npy"]), null);
});
