import assert from "node:assert/strict";
import { assertClose } from "../../tests/assert_close.ts";
import { DataError } from "../errors.ts";
import { groupLayout } from "../groups.ts";
import { matrix } from "../matrix.ts";
import { createRng } from "../random.ts";
import { naiveLogits, randomMatrix } from "../detectors/test_util.ts";
import { energy } from "../scores/energy.ts";
import { mos } from "../scores/mos.ts";
import { odin } from "../scores/odin.ts";
import { msp } from "../scores/msp.ts";
import { headScoresStream, withLinearHead } from "./head_scores.ts";
import { linearLogits, matrixSource } from "./linear.ts";
import { MOS_GRAPH_MAX_GROUPS, mosFast, softmaxScoreFast } from "./logit_scores.ts";

const D = 24;
const N = 53;
const opts = { chunkRows: 10, threads: 1 };

Deno.test("headScoresStream: MSP / ODIN / Energy from features equal the two-step path and the references", async () => {
  const x = randomMatrix(1, N, D);
  const w = randomMatrix(2, 37, D, { scale: 0.8 });
  const b = randomMatrix(3, 1, 37, { scale: 0.5 }).data;
  const z = await linearLogits(x, w, b, opts);
  const z64 = naiveLogits(x, { weight: w, bias: b });
  const cases = [
    { kind: "max-softmax" as const, temperature: 1, ref: msp(z64) },
    { kind: "max-softmax" as const, temperature: 1000, ref: odin(z64) },
    { kind: "energy" as const, temperature: 1, ref: energy(z64) },
  ];
  for (const c of cases) {
    const fused = await headScoresStream(matrixSource(x), w, b, c, opts);
    // Same Gemm, same score graph after it: the same float32 numbers.
    assert.deepEqual(fused, await softmaxScoreFast(z, c.kind, c.temperature, opts));
    assertClose(fused, c.ref, {
      atol: 1e-5,
      rtol: 1e-5,
      reason: `${c.kind} T = ${c.temperature}: float32 logits (sums of 24 products) vs float64`,
    });
  }
});

Deno.test("headScoresStream: MOS from features, chained (8 groups) and bucketed (> 64 groups)", async () => {
  for (const k of [8, MOS_GRAPH_MAX_GROUPS + 6]) {
    const rng = createRng(k);
    const groups: number[][] = Array.from({ length: k }, () => []);
    const c = 3 * k;
    for (let cls = 0; cls < c; cls++) groups[cls < k ? cls : rng.int(k)].push(cls);
    const layout = groupLayout(groups, c);
    const x = randomMatrix(10 + k, N, D);
    const w = randomMatrix(20 + k, layout.numOutputs, D, { scale: 0.8 });
    const b = randomMatrix(30 + k, 1, layout.numOutputs, { scale: 0.5 }).data;
    const fused = await headScoresStream(matrixSource(x), w, b, { kind: "mos", layout }, opts);
    assert.deepEqual(fused, await mosFast(layout, await linearLogits(x, w, b, opts), opts));
    assertClose(fused, mos(layout, naiveLogits(x, { weight: w, bias: b })), {
      atol: 1e-6,
      rtol: 1e-5,
      reason: `MOS with ${k} groups: float32 logits and sums vs float64`,
    });
  }
});

Deno.test("headScoresStream: empty input, head mismatch and a layout for another head are errors", async () => {
  const w = randomMatrix(4, 5, D);
  const b = new Float32Array(5);
  const empty = await headScoresStream(matrixSource(matrix(0, D)), w, b, { kind: "energy" });
  assert.equal(empty.length, 0);
  const x = randomMatrix(5, 3, D + 1);
  await assert.rejects(
    () => headScoresStream(matrixSource(x), w, b, { kind: "energy" }),
    (e) => e instanceof DataError && /25 columns but the head weight is 5 x 24/.test(e.message),
  );
  const layout = groupLayout([[0, 1], [2]], 3); // 5 outputs: fits
  const wrong = groupLayout([[0], [1]], 2); // 4 outputs: does not
  const y = randomMatrix(6, 3, D);
  assert.equal(
    (await headScoresStream(matrixSource(y), w, b, { kind: "mos", layout })).length,
    3,
  );
  await assert.rejects(
    () => headScoresStream(matrixSource(y), w, b, { kind: "mos", layout: wrong }),
    (e) => e instanceof DataError && /5 outputs but the grouping needs 4/.test(e.message),
  );
  await assert.rejects(
    () => headScoresStream(matrixSource(y), w, b, { kind: "max-softmax", temperature: 0 }),
    RangeError,
  );
});

Deno.test("withLinearHead: puts f w^T + b in front of input x, and needs an x", () => {
  const spec = withLinearHead(
    {
      name: "id",
      inputs: [{ name: "x", type: "float32", shape: ["n", 3] }],
      outputs: [],
      nodes: [],
    },
    4,
    3,
  );
  assert.deepEqual(spec.inputs.map((v) => v.name), ["f", "w", "b"]);
  assert.deepEqual(spec.nodes[0].inputs, ["f", "w", "b"]);
  assert.deepEqual(spec.nodes[0].outputs, ["x"]);
  assert.throws(
    () => withLinearHead({ name: "y", inputs: [], outputs: [], nodes: [] }, 4, 3),
    /no input "x"/,
  );
});
