import assert from "node:assert/strict";
import { assertClose } from "../../tests/assert_close.ts";
import { buildModel } from "./graph.ts";
import { packQuadForm, quadFormInputs, quadFormNodes, quadFormPlan } from "./quad_form.ts";
import { createRng } from "../random.ts";
import { createSession, f32Tensor } from "./session.ts";

/** x^T P x for each row, in float64, straight from the definition. */
function plainQuad(x: Float32Array, p: Float32Array, n: number, d: number): Float64Array {
  const out = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    let s = 0;
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) s += x[r * d + i] * p[i * d + j] * x[r * d + j];
    }
    out[r] = s;
  }
  return out;
}

async function ortQuad(x: Float32Array, p: Float32Array, n: number, d: number, blocks: number) {
  const plan = quadFormPlan(d, blocks, 1);
  const q = quadFormNodes("p", plan, "x", "quad");
  const model = buildModel({
    name: "quad",
    inputs: [{ name: "x", type: "float32", shape: ["n", d] }, ...quadFormInputs("p", plan)],
    outputs: [{ name: "quad", type: "float32", shape: ["n", 1] }],
    nodes: q.nodes,
    initializers: q.initializers,
  });
  const session = await createSession(model, { threads: 1 });
  const packed = packQuadForm(p, plan);
  const feeds: Record<string, ReturnType<typeof f32Tensor>> = { x: f32Tensor(x, [n, d]) };
  quadFormInputs("p", plan).forEach((v, i) => {
    feeds[v.name] = f32Tensor(packed[i], v.shape as number[]);
  });
  const out = new Float32Array(n);
  await session.run(feeds, { quad: f32Tensor(out, [n, 1]) });
  await session.release();
  return { out, plan };
}

Deno.test("quadFormPlan: near-equal blocks, fewer when blocks would be narrow", () => {
  assert.deepEqual(quadFormPlan(2048).starts, [0, 512, 1024, 1536, 2048]);
  assert.deepEqual(quadFormPlan(10, 3, 1).starts, [0, 3, 7, 10]);
  // 600 columns with at least 256 per block: 2 blocks.
  assert.deepEqual(quadFormPlan(600).starts, [0, 300, 600]);
  assert.deepEqual(quadFormPlan(1).starts, [0, 1]);
  assert.throws(() => quadFormPlan(0), RangeError);
  assert.throws(() => quadFormPlan(8, 0), RangeError);
  assert.throws(() => quadFormPlan(8, 2, 0), RangeError);
});

Deno.test("packQuadForm: block rows [P_ii, 2 P_ij] of a hand-written 3 x 3 matrix", () => {
  const p = Float32Array.from([1, 2, 3, 2, 4, 5, 3, 5, 6]);
  const [b0, b1] = packQuadForm(p, { dim: 3, starts: [0, 1, 3] });
  assert.deepEqual(Array.from(b0), [1, 4, 6]); // row 0: P_00, then 2 P_01, 2 P_02
  assert.deepEqual(Array.from(b1), [4, 5, 5, 6]); // rows 1-2, columns 1-2: P_11 as is
});

Deno.test("quadFormNodes equals x^T P x for 1 to 5 blocks, uneven widths included", async () => {
  const rng = createRng(7);
  const n = 9, d = 13;
  const x = Float32Array.from({ length: n * d }, () => rng.normal());
  const p = new Float32Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      const v = rng.normal() + (i === j ? 3 : 0);
      p[i * d + j] = v;
      p[j * d + i] = v;
    }
  }
  const ref = plainQuad(x, p, n, d);
  for (const blocks of [1, 2, 3, 4, 5]) {
    const { out, plan } = await ortQuad(x, p, n, d, blocks);
    assert.equal(plan.starts.length - 1, blocks);
    assertClose(out, ref, { atol: 1e-4, rtol: 1e-5, reason: `${blocks} blocks vs float64` });
  }
});
