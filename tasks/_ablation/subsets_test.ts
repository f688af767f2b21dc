/** Class subsets: nested seeded sampling, renumbered labels, restricted groups, class means. */
import assert from "node:assert/strict";
import { assertClose } from "../../tests/assert_close.ts";
import { classMeans } from "../../lib/grouping/kmeans.ts";
import { readFeatureSet, writeFeatureSet } from "../../lib/io/feature_set.ts";
import { matrix } from "../../lib/matrix.ts";
import { createRng } from "../../lib/random.ts";
import { streamClassMeans } from "./groupings.ts";
import {
  classSampler,
  restrictGroups,
  sampleClasses,
  sampleRows,
  writeClassSubset,
} from "./subsets.ts";

Deno.test("classSampler: nested class subsets and per-class rows, same for the same seed", () => {
  const s = classSampler(100, 7);
  const c10 = sampleClasses(s, 10);
  const c40 = sampleClasses(s, 40);
  assert.equal(new Set(c40).size, 40);
  assert.ok(c10.every((c) => c40.includes(c)), "the 10 classes are among the 40");
  assert.deepEqual(c10, [...c10].sort((a, b) => a - b));
  assert.deepEqual(sampleClasses(classSampler(100, 7), 10), c10);
  assert.notDeepEqual(sampleClasses(classSampler(100, 8), 10), c10);

  const labels = Int32Array.from({ length: 1000 }, (_, i) => i % 100);
  const r3 = sampleRows(labels, [5, 9], 3, s, "x");
  const r6 = sampleRows(labels, [5, 9], 6, s, "x");
  assert.equal(r3.length, 6);
  assert.ok([...r3].every((r) => r6.includes(r)), "3 images per class extend to 6");
  assert.ok([...r6].every((r) => labels[r] === 5 || labels[r] === 9));
  // A class's rows do not depend on which other classes are sampled.
  const only5 = sampleRows(labels, [5], 3, s, "x");
  assert.ok([...only5].every((r) => r3.includes(r)));
  assert.deepEqual([...sampleRows(labels, [5], null, s, "x")], [
    5,
    105,
    205,
    305,
    405,
    505,
    605,
    705,
    805,
    905,
  ]);
  assert.throws(() => sampleRows(labels, [5], 11, s, "train"), /class 5 has 10 rows but 11/);
});

Deno.test("restrictGroups: renumbered to the subset, slice order kept, empty groups dropped", () => {
  const groups = [[4, 0, 7], [2, 9], [5]];
  assert.deepEqual(restrictGroups(groups, [0, 4, 5, 7]), {
    groups: [[1, 0, 3], [2]],
    kept: [0, 2],
  });
});

Deno.test("writeClassSubset: rows and labels match a direct selection; reused when unchanged", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mos_subset_" });
  try {
    const rng = createRng(3);
    const N = 60;
    const D = 4;
    const data = Float32Array.from({ length: N * D }, () => rng.float());
    const labels = Int32Array.from({ length: N }, (_, i) => i % 6);
    const meta = { dataset: "toy", backbone: "toy-backbone", num_classes: 6 };
    await writeFeatureSet(`${dir}/train`, { meta, features: matrix(N, D, data), labels });
    await writeFeatureSet(`${dir}/val`, {
      meta,
      features: matrix(12, D, data.slice(0, 12 * D)),
      labels: labels.slice(0, 12),
    });
    const sampler = classSampler(6, 1);
    const classes = sampleClasses(sampler, 3);
    const o = {
      train: `${dir}/train`,
      id: `${dir}/val`,
      classes,
      perClass: 4,
      sampler,
      seed: 1,
      out: `${dir}/sub`,
    };
    const first = await writeClassSubset(o);
    assert.equal(first.reused, false);
    const sub = await readFeatureSet(first.train);
    const rows = sampleRows(labels, classes, 4, sampler, "t");
    assert.equal(sub.features.rows, 12);
    assert.equal(sub.meta.num_classes, 3);
    assert.equal(sub.meta.backbone, "toy-backbone");
    rows.forEach((r, i) => {
      assert.equal(sub.labels[i], classes.indexOf(labels[r]));
      assert.deepEqual(
        sub.features.data.subarray(i * D, (i + 1) * D),
        data.subarray(r * D, (r + 1) * D),
      );
    });
    const id = await readFeatureSet(first.id);
    assert.equal(id.features.rows, 6, "every val row of the 3 classes (2 each)");
    assert.equal((await writeClassSubset(o)).reused, true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("streamClassMeans equals lib classMeans across block boundaries, skips -1 rows", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mos_means_" });
  try {
    const rng = createRng(9);
    const N = 103;
    const D = 5;
    const data = Float32Array.from({ length: N * D }, () => rng.normal());
    const labels = Int32Array.from({ length: N }, (_, i) => (i % 10 === 9 ? -1 : i % 4));
    await writeFeatureSet(`${dir}/set`, {
      meta: { dataset: "toy", backbone: "b" },
      features: matrix(N, D, data),
      labels,
    });
    const got = await streamClassMeans(`${dir}/set`, 4, 7);
    const want = classMeans(matrix(N, D, data), labels, 4);
    const worst = assertClose(got.data, want.data, {
      atol: 1e-6,
      reason: "float64 sums in both; float32 storage of the means",
    });
    assert.ok(worst < 1e-6);
    await assert.rejects(() => streamClassMeans(`${dir}/set`, 5), /class 4 has no training rows/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
