import assert from "node:assert/strict";
import { DataError } from "./errors.ts";
import {
  groupLayout,
  groupPredict,
  groupTargets,
  othersProbabilities,
  validateGroups,
} from "./groups.ts";
import { matrix } from "./matrix.ts";
import { mos } from "./scores/mos.ts";
import { assertClose } from "../tests/assert_close.ts";

// Groups [[2, 0], [1, 3, 4]] over 5 classes: outputs
// 0: others(g0) 1: class 2  2: class 0  | 3: others(g1) 4: class 1  5: class 3  6: class 4
const GROUPS = [[2, 0], [1, 3, 4]];

Deno.test("groupLayout tables for [[2, 0], [1, 3, 4]]", () => {
  const L = groupLayout(GROUPS, 5);
  assert.equal(L.numClasses, 5);
  assert.equal(L.numGroups, 2);
  assert.equal(L.numOutputs, 7);
  assert.deepEqual([...L.starts], [0, 3]);
  assert.deepEqual([...L.sizes], [3, 4]);
  assert.deepEqual([...L.classGroup], [0, 1, 0, 1, 1]);
  assert.deepEqual([...L.classSlot], [2, 1, 1, 2, 3]);
  assert.deepEqual([...L.outputClass], [-1, 2, 0, -1, 1, 3, 4]);
});

Deno.test("groupTargets: own group gets the class slot, other groups 'others' (0)", () => {
  const L = groupLayout(GROUPS, 5);
  const t = groupTargets(L, new Int32Array([0, 4, 2, 1]));
  assert.deepEqual([...t], [2, 0, 0, 3, 1, 0, 0, 1]);
});

Deno.test("groupPredict and othersProbabilities on hand-computed logits", () => {
  const L = groupLayout(GROUPS, 5);
  const ln = Math.log;
  const logits = matrix(
    3,
    7,
    new Float32Array([
      // Row A: g0 probs [1, 2, 1] / 4, g1 probs [1, 1, 4, 1] / 7 -> g1 wins (4/7 > 1/2), class 3.
      0,
      ln(2),
      0,
      0,
      0,
      ln(4),
      0,
      // Row B: g0 [9, 1, 2] / 12, g1 [5, 3, 1, 1] / 10 -> g1 wins (0.3 > 1/6), class 1.
      ln(9),
      0,
      ln(2),
      ln(5),
      ln(3),
      0,
      0,
      // Row C: g0 [1, 8, 1] / 10, g1 [15, 84, 0.5, 0.5] / 100 -> g1 wins (0.84 > 0.8), class 1,
      // although g0 has the smaller "others" probability (0.1 < 0.15).
      0,
      ln(8),
      0,
      ln(15),
      ln(84),
      ln(0.5),
      ln(0.5),
    ]),
  );
  const pred = groupPredict(L, logits);
  assert.deepEqual([...pred.classes], [3, 1, 1]);
  assert.deepEqual([...pred.group], [1, 1, 1]);
  assertClose(pred.confidence, [4 / 7, 0.3, 0.84], { atol: 1e-6, reason: "float32 logs" });
  const others = othersProbabilities(L, logits);
  assert.equal(others.rows, 3);
  assert.equal(others.cols, 2);
  assertClose(others.data, [1 / 4, 1 / 7, 9 / 12, 5 / 10, 1 / 10, 15 / 100], {
    atol: 1e-6,
    reason: "float32 logs",
  });
  // MOS = -min_k others_k: -min(1/4, 1/7), -min(3/4, 1/2), -min(1/10, 15/100).
  assertClose(mos(L, logits), [-1 / 7, -0.5, -0.1], { atol: 1e-6, reason: "float32 logs" });
});

Deno.test("a linear head whose weights select each class predicts that class and its group", () => {
  const L = groupLayout(GROUPS, 5);
  const D = 5;
  // W (O x D): the output of class c reads feature c with weight 5; "others" rows are zero.
  const W = new Float32Array(L.numOutputs * D);
  for (let c = 0; c < 5; c++) W[(L.starts[L.classGroup[c]] + L.classSlot[c]) * D + c] = 5;
  // Features: row c is the one-hot e_c; logits = x W^T computed directly.
  const logits = matrix(5, L.numOutputs);
  for (let i = 0; i < 5; i++) {
    for (let o = 0; o < L.numOutputs; o++) logits.data[i * L.numOutputs + o] = W[o * D + i];
  }
  const pred = groupPredict(L, logits);
  assert.deepEqual([...pred.classes], [0, 1, 2, 3, 4]);
  assert.deepEqual([...pred.group], [0, 1, 0, 1, 1]);
  // Own group slice: e^5 for the class, 1 for the n_k other entries -> others 1 / (e^5 + n_k);
  // the other group is uniform -> others 1 / (n + 1). The MOS score is -(the smaller).
  const others = othersProbabilities(L, logits);
  const e5 = Math.exp(5);
  const want = [
    [1 / (e5 + 2), 1 / 4],
    [1 / 3, 1 / (e5 + 3)],
    [1 / (e5 + 2), 1 / 4],
    [1 / 3, 1 / (e5 + 3)],
    [1 / 3, 1 / (e5 + 3)],
  ];
  assertClose(others.data, want.flat(), { atol: 1e-7, reason: "float32 output" });
  assertClose(mos(L, logits), want.map((r) => -Math.min(...r)), {
    atol: 1e-7,
    reason: "float32 output",
  });
  assertClose(pred.confidence, [0, 1, 2, 3, 4].map((c) => e5 / (e5 + [2, 3][L.classGroup[c]])), {
    atol: 1e-6,
    reason: "float32 output",
  });
});

Deno.test("groupPredict / othersProbabilities reject logits of the wrong width", () => {
  const L = groupLayout(GROUPS, 5);
  assert.throws(() => groupPredict(L, matrix(1, 5)), DataError);
  assert.throws(() => othersProbabilities(L, matrix(1, 8)), DataError);
});

Deno.test("validateGroups names missing, repeated, out-of-range and malformed classes", () => {
  assert.deepEqual(validateGroups(GROUPS, 5), GROUPS);
  assert.throws(() => validateGroups([[0, 1], [2, 3]], 5, "g.json"), (e: unknown) => {
    assert.ok(e instanceof DataError);
    assert.match(e.message, /^g\.json: class 4 is in no group \(1 classes missing\)/);
    return true;
  });
  assert.throws(() => validateGroups([[0, 1, 2], [2, 3, 4]], 5), (e: unknown) => {
    assert.ok(e instanceof DataError);
    assert.match(e.message, /class 2 appears in group 0 and again in group 1/);
    return true;
  });
  assert.throws(() => validateGroups([[0, 1, 5], [2, 3, 4]], 5), (e: unknown) => {
    assert.ok(e instanceof DataError);
    assert.match(e.message, /group 0 has class id 5 outside \[0, 5\)/);
    return true;
  });
  assert.throws(() => validateGroups([[0, -1], [1, 2, 3, 4]], 5), DataError);
  assert.throws(() => validateGroups([[0, 1.5], [1, 2, 3, 4]], 5), DataError);
  assert.throws(() => validateGroups([[0, "1"], [2, 3, 4]], 5), DataError);
  assert.throws(() => validateGroups([[0, 1, 2, 3, 4], []], 5), /group 1 must be a non-empty/);
  assert.throws(() => validateGroups([], 5), DataError);
  assert.throws(() => validateGroups({ 0: [0] }, 1), DataError);
  assert.throws(() => groupLayout([[0, 0], [1]], 2), DataError);
});

Deno.test("validateGroups: a claimed 500,000,000 classes is refused without allocating for them", () => {
  // This once allocated two Int32Arrays of 5e8 (4 GB resident) and died in V8's OOM abort.
  const t0 = performance.now();
  assert.throws(() => validateGroups([[0, 3], [1, 2]], 500_000_000, "head.json"), (e: unknown) => {
    assert.ok(e instanceof DataError);
    assert.equal(
      e.message,
      "head.json: class 4 is in no group (499999996 classes missing); every class " +
        "0..499999999 must be in exactly one group",
    );
    return true;
  });
  assert.throws(() => validateGroups([[0]], 2 ** 53, "g"), /must be a positive integer/);
  assert.throws(() => validateGroups([[0]], 1.5, "g"), /must be a positive integer/);
  assert.ok(performance.now() - t0 < 1000, "no work proportional to the claimed class count");
  // The first missing class is found among the listed ids too.
  assert.throws(() => validateGroups([[0, 1], [3]], 4), /class 2 is in no group \(1 classes/);
  // Deeply nested or long values stay on one short line.
  let deep: unknown = 0;
  for (let i = 0; i < 100000; i++) deep = [deep];
  assert.throws(() => validateGroups([[0], deep], 2, "g"), (e: unknown) => {
    assert.ok(e instanceof DataError && /group 1 has class id \[\[\[/.test(e.message));
    assert.ok(!e.message.includes("\n") && e.message.length < 300, e.message);
    return true;
  });
});
