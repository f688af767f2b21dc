import { assertClose } from "../../tests/assert_close.ts";
import { matrixSource } from "../ort/linear.ts";
import type { DetectorHead } from "./common.ts";
import { relation, relationReference } from "./relation.ts";
import { naiveLogits, randomHead, randomMatrix } from "./test_util.ts";

/** Identity head on 2-d features: logits = features. */
const I2: DetectorHead = {
  weight: { data: Float32Array.from([1, 0, 0, 1]), rows: 2, cols: 2 },
  bias: new Float32Array(2),
  kind: "flat",
};

Deno.test("relation: the hand-worked two-node graph", async () => {
  // Training nodes e1, e2 with logits e1, e2: p = (a, b) and (b, a), a = e / (1 + e) =
  // 0.7310585786, b = 0.2689414214.
  // Test x = (1, 0): dot (1, 0), sim with node 1 a^2 + b^2 = 0.6067761335, node 2 cut (dot 0).
  // Test x = (2, 2): unit (0.7071, 0.7071), dot 0.7071 with both, p = (0.5, 0.5), sim 0.5:
  //   r = 0.3535534 per node, sum 0.7071068; at pow 2: 2 x 0.125 = 0.25.
  const train = { data: Float32Array.from([1, 0, 0, 1]), rows: 2, cols: 2 };
  const x = { data: Float32Array.from([1, 0, 2, 2]), rows: 2, cols: 2 };
  const z = naiveLogits(x, I2);
  const a = Math.E / (1 + Math.E);
  const sim = a * a + (1 - a) * (1 - a);
  const reason = "float32 products; the 1e-10 in the norm";
  for (const pow of [1, 2]) {
    const want = pow === 1 ? [sim, Math.SQRT2 / 2 * 2 * 0.5] : [sim * sim, 0.25];
    const fast = await relation({ train: matrixSource(train), head: I2, pow }, x, z);
    assertClose(fast, want, { rtol: 1e-6, reason });
    assertClose(relationReference(train, naiveLogits(train, I2), pow, x, z), want, {
      rtol: 1e-6,
      reason,
    });
  }
  assertClose(sim, 0.6067761335, { atol: 1e-10, reason: "the hand value above" });
});

Deno.test("relation: edges at or below 0.03 are cut", async () => {
  // Nearly orthogonal: dot 0.02 < 0.03 with node 1, so only node 2's edge counts.
  const train = { data: Float32Array.from([1, 0, 0, 1]), rows: 2, cols: 2 };
  const x = { data: Float32Array.from([0.02, Math.sqrt(1 - 0.0004)]), rows: 1, cols: 2 };
  const z = naiveLogits(x, I2);
  const fast = await relation({ train: matrixSource(train), head: I2, pow: 1 }, x, z);
  const ref = relationReference(train, naiveLogits(train, I2), 1, x, z);
  assertClose(fast, ref, { rtol: 1e-6, reason: "float32 products" });
  const e = Math.exp(z.data[0]);
  const f = Math.exp(z.data[1]);
  const p = [e / (e + f), f / (e + f)];
  const q = [1 / (1 + Math.E), Math.E / (1 + Math.E)];
  assertClose(fast[0], x.data[1] * (p[0] * q[0] + p[1] * q[1]), { rtol: 1e-6, reason: "float32" });
});

Deno.test("relation: streamed onnxruntime path matches the float64 reference", async () => {
  const D = 16;
  const head = randomHead(401, 7, D, 1);
  const train = randomMatrix(402, 230, D, { relu: true, scale: 2 });
  const x = randomMatrix(403, 25, D, { relu: true, scale: 2 });
  const z = naiveLogits(x, head);
  for (const pow of [1, 4]) {
    const fast = await relation(
      { train: matrixSource(train), head, pow, chunk: { chunkRows: 64 } },
      x,
      z,
    );
    const ref = relationReference(train, naiveLogits(train, head), pow, x, z);
    assertClose(fast, ref, {
      atol: 1e-4,
      rtol: 1e-5,
      reason: "float32 GEMMs over 230 nodes; an edge within 1e-7 of the 0.03 cut may flip",
    });
  }
});
