import assert from "node:assert/strict";
import { assertClose } from "../../tests/assert_close.ts";
import { DataError } from "../errors.ts";
import { groupLayout } from "../groups.ts";
import { type Matrix, matrix } from "../matrix.ts";
import { createRng } from "../random.ts";
import { energy } from "../scores/energy.ts";
import { mos } from "../scores/mos.ts";
import { msp } from "../scores/msp.ts";
import { odin } from "../scores/odin.ts";
import { MOS_GRAPH_MAX_GROUPS, mosFast, softmaxScoreFast } from "./logit_scores.ts";

function logits(seed: number, n: number, k: number, scale: number): Matrix {
  const rng = createRng(seed);
  const m = matrix(n, k);
  for (let i = 0; i < m.data.length; i++) m.data[i] = rng.normal() * scale;
  return m;
}

Deno.test("softmaxScoreFast matches msp / odin / energy (float64 references), odd chunks", async () => {
  for (const scale of [1, 8, 1e4]) {
    const z = logits(3, 257, 40, scale);
    const why = `logit scale ${scale}`;
    const opts = { chunkRows: 50 };
    assertClose(await softmaxScoreFast(z, "max-softmax", 1, opts), msp(z), {
      atol: 1e-7,
      rtol: 2e-6,
      reason: `MSP, ${why}`,
    });
    assertClose(await softmaxScoreFast(z, "max-softmax", 1000, opts), odin(z), {
      atol: 1e-7,
      rtol: 2e-6,
      reason: `ODIN T = 1000, ${why}`,
    });
    assertClose(await softmaxScoreFast(z, "energy", 1, opts), energy(z), {
      atol: 1e-5,
      rtol: 2e-6,
      reason: `energy, ${why}`,
    });
    assertClose(
      await softmaxScoreFast(z, "energy", 2.5, opts),
      energy(z, { temperature: 2.5 }),
      { atol: 1e-5, rtol: 2e-6, reason: `energy T = 2.5, ${why}` },
    );
  }
});

Deno.test("softmaxScoreFast hand cases: equal logits, one dominant logit", async () => {
  const z = matrix(2, 4, Float32Array.from([0, 0, 0, 0, 50, 0, 0, 0]));
  assertClose(await softmaxScoreFast(z, "max-softmax"), [0.25, 1], { atol: 1e-7 });
  assertClose(await softmaxScoreFast(z, "energy"), [Math.log(4), 50], { atol: 1e-6 });
  await assert.rejects(() => softmaxScoreFast(z, "energy", 0), RangeError);
  await assert.rejects(() => softmaxScoreFast(z, "energy", 1e-50), RangeError); // 0 in float32
});

Deno.test("softmaxScoreFast: infinite logits as the references, empty inputs", async () => {
  const inf = Infinity;
  // Rows: a +Inf logit, all -Inf, some -Inf next to finite logits, a NaN.
  const z = matrix(4, 3, Float32Array.from([1, inf, 0, -inf, -inf, -inf, -inf, 0, 0, 0, NaN, 1]));
  for (const t of [1, 3]) {
    const e = await softmaxScoreFast(z, "energy", t);
    const ref = energy(z, { temperature: t });
    assert.deepEqual(Array.from(e.subarray(0, 2)), [inf, -inf]);
    assert.deepEqual(Array.from(e.subarray(0, 2)), Array.from(ref.subarray(0, 2)));
    assertClose(e[2], ref[2], { atol: 1e-6, reason: `-Inf beside finite logits, T = ${t}` });
    assert.ok(Number.isNaN(e[3]) && Number.isNaN(ref[3]));
  }
  const m = await softmaxScoreFast(z, "max-softmax");
  const mref = msp(z);
  assertClose(m[2], 0.5, { atol: 1e-7 });
  for (const i of [0, 1, 3]) assert.ok(Number.isNaN(m[i]) && Number.isNaN(mref[i]), `row ${i}`);
  assert.equal((await softmaxScoreFast(matrix(0, 5), "energy")).length, 0);
  await assert.rejects(() => softmaxScoreFast(matrix(2, 0), "max-softmax"), DataError);
});

Deno.test("mosFast matches mos on the paper's 8-group layout and on a 1-group layout", async () => {
  const sizes = [7, 11, 1, 3, 5, 2, 9, 4];
  const groups: number[][] = [];
  let c = 0;
  for (const s of sizes) {
    groups.push(Array.from({ length: s }, (_, i) => c + i));
    c += s;
  }
  const layout = groupLayout(groups, c);
  for (const scale of [1, 6, 1e4]) {
    const z = logits(5, 203, layout.numOutputs, scale);
    assertClose(await mosFast(layout, z, { chunkRows: 64 }), mos(layout, z), {
      atol: 1e-7,
      rtol: 5e-6,
      reason: `logit scale ${scale}`,
    });
  }
  const one = groupLayout([[0, 1, 2]], 3);
  // Hand case: equal logits in the one group give others = 1/4.
  assertClose(await mosFast(one, matrix(1, 4, new Float32Array(4))), [-0.25], { atol: 1e-7 });
  await assert.rejects(() => mosFast(one, matrix(1, 5)), DataError);
});

Deno.test("mosFast: a NaN logit gives a NaN score", async () => {
  const layout = groupLayout([[0, 1], [2]], 3);
  const z = matrix(2, 5, Float32Array.from([1, 2, 3, 0, 1, 1, NaN, 3, 0, 1]));
  const got = await mosFast(layout, z);
  assert.ok(!Number.isNaN(got[0]));
  assert.ok(Number.isNaN(got[1]));
});

/** Groups of sizes `sizes` over classes 0.. in a shuffled order (slices are not sorted). */
function shuffledGroups(seed: number, sizes: number[]): { groups: number[][]; classes: number } {
  const classes = sizes.reduce((a, b) => a + b, 0);
  const rng = createRng(seed);
  const perm = Array.from({ length: classes }, (_, i) => i);
  for (let i = classes - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  let c = 0;
  return { groups: sizes.map((s) => perm.slice(c, c += s)), classes };
}

Deno.test("mosFast beyond 64 groups (bucketed graph) matches mos, odd chunks", async () => {
  for (const [k, seed] of [[MOS_GRAPH_MAX_GROUPS + 1, 1], [300, 2]]) {
    // Sizes 1..40 and a few long slices: several buckets, short slices padded.
    const sizes = Array.from({ length: k }, (_, i) => i % 7 === 0 ? 60 + i : 1 + (i * 13) % 40);
    const { groups, classes } = shuffledGroups(seed, sizes);
    const layout = groupLayout(groups, classes);
    for (const scale of [1, 6, 1e4]) {
      const z = logits(seed + 10, 133, layout.numOutputs, scale);
      assertClose(await mosFast(layout, z, { chunkRows: 50 }), mos(layout, z), {
        atol: 1e-7,
        rtol: 5e-6,
        reason: `${k} groups, logit scale ${scale}`,
      });
    }
  }
});

Deno.test("mosFast beyond 64 groups: hand case, NaN and infinite logits as mos", async () => {
  // 65 singleton groups plus one of 3 classes: equal logits give others = 1/2 for the singletons
  // and 1/4 for the last group, so the score is -1/4.
  const groups = [...Array.from({ length: 65 }, (_, i) => [i]), [65, 66, 67]];
  const layout = groupLayout(groups, 68);
  const O = layout.numOutputs;
  const z = matrix(4, O);
  z.data[O + 5] = NaN; // row 1: a NaN class logit
  z.data.fill(-Infinity, 2 * O, 3 * O); // row 2: every logit -Infinity
  z.data[3 * O + 7] = Infinity; // row 3: a +Infinity logit
  const got = await mosFast(layout, z);
  const ref = mos(layout, z);
  assertClose(got[0], -0.25, { atol: 1e-7 });
  for (let i = 1; i < 4; i++) {
    assert.equal(Number.isNaN(got[i]), Number.isNaN(ref[i]), `row ${i} NaN-ness`);
    if (!Number.isNaN(ref[i])) assertClose(got[i], ref[i], { atol: 1e-7, reason: `row ${i}` });
  }
  assert.ok(Number.isNaN(got[1]));
});
