/** The configurations, table rows and points of the number-of-classes ablation. */
import assert from "node:assert/strict";
import { UsageError } from "../../lib/errors.ts";
import { FLAT_LABEL, GROUP_LABEL } from "../../lib/figures/style.ts";
import { classConfigs, classTable, classViews, configKey } from "./fig5.ts";
import { fakeHead } from "./test_heads.ts";

const BASE = {
  settings: ["per_class", "fixed_total"] as const,
  counts: [50, 100],
  perClass: 1,
  total: 100,
  numClasses: 1000,
};

Deno.test("classConfigs: n per setting, every bound a UsageError naming the flag", () => {
  // fixed_total: floor(100 / 50) = 2, floor(100 / 100) = 1.
  assert.deepEqual(classConfigs(BASE), [
    { setting: "per_class", C: 50, n: 1 },
    { setting: "per_class", C: 100, n: 1 },
    { setting: "fixed_total", C: 50, n: 2 },
    { setting: "fixed_total", C: 100, n: 1 },
  ]);
  const usage = (o: Partial<Parameters<typeof classConfigs>[0]>, re: RegExp) =>
    assert.throws(() => classConfigs({ ...BASE, ...o }), (e: unknown) => {
      assert.ok(e instanceof UsageError);
      assert.match(e.message, re);
      return true;
    });
  usage(
    { counts: [1] },
    /^--classes: 1 is not a valid number of classes; use integers from 2 to 1000/,
  );
  usage({ counts: [1001] }, /^--classes: 1001 /);
  usage(
    { total: 99 },
    /^--total-images 99 gives no image per class at C = 100; raise it to at least 100$/,
  );
  usage(
    { demoTrainPerClass: 1 },
    /^2 images per class \(fixed_total, C = 50\) exceed the 1 synthetic training images per class; raise --train-per-class/,
  );
  assert.equal(classConfigs({ ...BASE, demoTrainPerClass: 2 }).length, 4);
  assert.equal(configKey({ C: 50, n: 2 }), "c50_n2");
});

Deno.test("classViews: one MSP and one MOS row per configuration, points per setting", () => {
  const configs = classConfigs({ ...BASE, counts: [50] });
  const far = { auroc: 80, fpr95: 40 };
  const done = new Map([
    ["c50_n1", { flat: fakeHead("f1", 0.5, { far }), mos: fakeHead("m1", 0.25, { far }, 3), K: 3 }],
    ["c50_n2", { flat: fakeHead("f2", 0.75, { far }), mos: fakeHead("m2", 1, { far }, 4), K: 4 }],
  ]);
  const { entries, points } = classViews(configs, done, ["far"]);
  assert.deepEqual(entries.map((e) => e.keys), [
    ["fixed images per class", "50", "1", "MSP", "1", 50],
    ["fixed images per class", "50", "1", "MOS", "3", 25],
    ["fixed total images", "50", "2", "MSP", "1", 75],
    ["fixed total images", "50", "2", "MOS", "4", 100],
  ]);
  assert.deepEqual(points.per_class.map((p) => [p.x, p.series, p.value]), [
    [50, FLAT_LABEL, 80],
    [50, FLAT_LABEL, 40],
    [50, GROUP_LABEL, 80],
    [50, GROUP_LABEL, 40],
  ]);
  assert.equal(points.fixed_total.length, 4);
  const table = classTable(entries, ["far"], { perClass: 1, total: 100, demo: true });
  assert.match(table.title, /\(synthetic demo data\)$/);
  assert.equal(table.rows.length, 4);
  assert.ok(table.notes!.some((n) => n.includes("floor(100 / C) per class")));
});
