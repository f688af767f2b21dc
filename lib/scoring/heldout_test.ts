import assert from "node:assert/strict";
import { UsageError } from "../errors.ts";
import type { Matrix } from "../matrix.ts";
import { auroc } from "../metrics/auroc.ts";
import { matrixSource } from "../ort/linear.ts";
import { createRng } from "../random.ts";
import {
  defaultIdValCount,
  excludeRows,
  expandGrid,
  gatherRows,
  heldoutEvaluate,
  searchOnVal,
  selectEntries,
  selectRows,
  splitIdRows,
  type TunableDetector,
  type ValData,
} from "./heldout.ts";

Deno.test("splitIdRows: sizes, disjoint, covering, sorted, seeded; default sizes", () => {
  const s = splitIdRows(1000, 100, 7);
  assert.equal(s.val.length, 100);
  assert.equal(s.test.length, 900);
  const all = [...s.val, ...s.test].sort((a, b) => a - b);
  assert.deepEqual(all, Array.from({ length: 1000 }, (_, i) => i));
  for (const part of [s.val, s.test]) {
    for (let k = 1; k < part.length; k++) assert.ok(part[k] > part[k - 1]);
  }
  assert.deepEqual(splitIdRows(1000, 100, 7), s);
  assert.notDeepEqual(splitIdRows(1000, 100, 8).val, s.val);
  // The val rows are spread over the set, not a block: both halves of the set hold some.
  assert.ok(s.val.some((r) => r < 500) && s.val.some((r) => r >= 500));
  assert.equal(defaultIdValCount(50000), 5000);
  assert.equal(defaultIdValCount(1281167), 5000);
  assert.equal(defaultIdValCount(10000), 1000);
  assert.equal(defaultIdValCount(5), 1);
  assert.throws(() => splitIdRows(10, 10, 0), UsageError);
  assert.throws(() => splitIdRows(10, 0, 0), UsageError);
  assert.throws(() => splitIdRows(10, 0, 0), /ID-val count must be an integer in \[1, 9\]/);
  assert.throws(
    () => splitIdRows(10, 0, 0, { label: "--id-val-count" }),
    /--id-val-count must be an integer in \[1, 9\] for an ID set of 10 rows, got 0/,
  );
});

Deno.test("selectRows / selectEntries / gatherRows / excludeRows pick the right rows", async () => {
  const rng = createRng(3);
  const n = 57;
  const m: Matrix = {
    data: Float32Array.from({ length: n * 3 }, () => rng.float()),
    rows: n,
    cols: 3,
  };
  const pick = Int32Array.from([0, 1, 2, 9, 10, 30, 56]);
  const want = [...pick].flatMap((r) => [...m.data.slice(r * 3, r * 3 + 3)]);
  assert.deepEqual([...selectRows(m, pick).data], want);
  assert.deepEqual([...(await gatherRows(matrixSource(m), pick)).data], want);
  const lab = Int32Array.from({ length: n }, (_, i) => i * 2);
  assert.deepEqual([...selectEntries(lab, pick)], [...pick].map((i) => i * 2));
  // excludeRows: every (start, count) window equals the plain filtered matrix.
  const kept = Array.from({ length: n }, (_, i) => i).filter((i) => !pick.includes(i));
  const src = excludeRows({ ...matrixSource(m), view: undefined }, pick);
  assert.equal(src.rows, kept.length);
  for (let start = 0; start < kept.length; start += 5) {
    for (const count of [1, 4, 13]) {
      const c = Math.min(count, kept.length - start);
      const out = new Float32Array(c * 3);
      await src.readRows(start, c, out);
      const exp = kept.slice(start, start + c).flatMap((r) => [...m.data.slice(r * 3, r * 3 + 3)]);
      assert.deepEqual([...out], exp, `window ${start}+${c}`);
    }
  }
});

Deno.test("expandGrid: Cartesian product in OpenOOD's order, first key fastest", () => {
  assert.deepEqual(expandGrid({ a: [1, 2], b: ["x", "y"] }), [
    { a: 1, b: "x" },
    { a: 2, b: "x" },
    { a: 1, b: "y" },
    { a: 2, b: "y" },
  ]);
  // Three keys: setting k is k written in mixed radix (2, 3, 2), the first key's digit lowest.
  const a = [1, 2];
  const b = ["x", "y", "z"];
  const c = [true, false];
  const want = Array.from({ length: 12 }, (_, k) => ({
    a: a[k % 2],
    b: b[Math.floor(k / 2) % 3],
    c: c[Math.floor(k / 6)],
  }));
  assert.deepEqual(expandGrid({ a, b, c }), want);
  assert.deepEqual(expandGrid({}), [{}]);
  assert.throws(() => expandGrid({ a: [] }), RangeError);
});

Deno.test("searchOnVal over an expanded grid breaks AUROC ties as OpenOOD does", async () => {
  // Score = x * w with w = a when a != b and 0 otherwise: {a: 2, b: 1} and {a: 1, b: 2} rank the
  // rows identically (equal AUROC, the best), the two others tie everything (AUROC 0.5). OpenOOD
  // tries {a: 2, b: 1} first (first key fastest) and keeps the first best; in first-key-slowest
  // order {a: 1, b: 2} would come first and win.
  const candidates = expandGrid({ a: [1, 2], b: [1, 2] });
  const det: TunableDetector<Record<string, unknown>, number, Tagged> = {
    candidates: candidates as Record<string, unknown>[],
    fit: (p) => (p.a === p.b ? 0 : p.a as number),
    score: (w, data) => data.x.map((v) => v * w),
  };
  const val: ValData<Tagged> = { id: tagged("id-val", 3, 60, 1), ood: tagged("ood-val", 4, 50, 0) };
  const r = await searchOnVal(det, val);
  assert.deepEqual(r.best, { a: 2, b: 1 });
  assert.deepEqual(r.trials.map((t) => t.params), candidates);
  assert.equal(r.trials[1].auroc, r.trials[2].auroc);
  assert.ok(r.trials[1].auroc > 0.5 && r.trials[0].auroc === 0.5);
});

/** Data of one set in the tests: a score per row and a tag saying which set it is. */
interface Tagged {
  tag: string;
  x: Float32Array;
}

/** Score = x * w: the sign and size of w decide the ranking; w = 0 ties everything. */
function linearDetector(ws: number[], log: string[]): TunableDetector<number, number, Tagged> {
  return {
    candidates: ws,
    fit(w, val) {
      log.push(`fit:${val.id.tag},${val.ood.tag}`);
      return w;
    },
    score(w, data) {
      log.push(`score:${data.tag}`);
      return data.x.map((v) => v * w);
    },
  };
}

function tagged(tag: string, seed: number, n: number, shift: number): Tagged {
  const rng = createRng(seed);
  return { tag, x: Float32Array.from({ length: n }, () => rng.normal() + shift) };
}

Deno.test("searchOnVal picks the best val AUROC (first on ties) and scores only val data", async () => {
  const log: string[] = [];
  const val: ValData<Tagged> = { id: tagged("id-val", 1, 50, 1), ood: tagged("ood-val", 2, 40, 0) };
  const r = await searchOnVal(linearDetector([0, -1, 2, 1], log), val);
  // w = 2 and w = 1 rank identically (same AUROC); the first of them wins.
  assert.equal(r.best, 2);
  assert.equal(r.trials.length, 4);
  assert.equal(r.trials[0].auroc, 0.5);
  assert.equal(r.trials[2].auroc, auroc(val.id.x, val.ood.x));
  assert.equal(r.trials[2].auroc, r.trials[3].auroc);
  assert.ok(r.trials[1].auroc < 0.5);
  assert.ok(log.every((e) => !e.includes("test")));
  // One candidate: chosen as is, nothing scored.
  const log1: string[] = [];
  const one = await searchOnVal(linearDetector([5], log1), val);
  assert.equal(one.best, 5);
  assert.deepEqual(log1, []);
});

Deno.test("held-out protocol: tuning never reads ID-test or OOD-test data, which is scored once", async () => {
  const log: string[] = [];
  // Test sets behind proxies that record every read of their contents, into the same log.
  const guard = (t: Tagged): Tagged =>
    new Proxy(t, {
      get(target, prop, receiver) {
        if (prop === "x") log.push(`read:${target.tag}`);
        return Reflect.get(target, prop, receiver);
      },
    });
  const val = { id: tagged("id-val", 11, 60, 0.8), ood: tagged("ood-val", 12, 60, 0) };
  // On the test sets the ranking is reversed: a search that peeked would pick w = -1.
  const test = {
    id: guard(tagged("id-test", 13, 70, 0)),
    ood: [
      { name: "a", data: guard(tagged("ood-test-a", 14, 30, 1.5)) },
      { name: "b", data: guard(tagged("ood-test-b", 15, 20, 2)) },
    ],
  };
  const det = linearDetector([-1, 1], log);
  const r = await heldoutEvaluate(det, val, test);
  assert.equal(r.search.best, 1);
  const firstTest = log.findIndex((e) => e.includes("test"));
  const searchPart = log.slice(0, firstTest);
  assert.ok(searchPart.length >= 6, `search log ${searchPart}`);
  assert.ok(searchPart.every((e) => e.includes("val")), `search saw ${searchPart}`);
  // After the search: one refit on val, then each test set scored (and read) exactly once.
  assert.deepEqual(log.slice(firstTest - 1), [
    "fit:id-val,ood-val",
    "score:id-test",
    "read:id-test",
    "score:ood-test-a",
    "read:ood-test-a",
    "score:ood-test-b",
    "read:ood-test-b",
  ]);
  assert.deepEqual([...r.scores.id], [...test.id.x]);
  // The choice does not depend on the test data: other test sets, same choice.
  const other = {
    id: tagged("id-test", 99, 70, 3),
    ood: [{ name: "a", data: tagged("ood-test-a", 98, 30, -3) }],
  };
  const r2 = await heldoutEvaluate(linearDetector([-1, 1], []), val, other);
  assert.deepEqual(r2.search, r.search);
});
