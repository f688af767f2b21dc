import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import { groupLayout } from "../groups.ts";
import { matrix } from "../matrix.ts";
import { createRng, shuffle } from "../random.ts";
import { assertClose } from "../../tests/assert_close.ts";
import { mos } from "./mos.ts";

Deno.test("mos equals -min over groups of a directly computed 'others' softmax probability", () => {
  const rng = createRng(21);
  let worst = 0;
  for (let trial = 0; trial < 5; trial++) {
    const C = 5 + rng.int(30);
    const K = 1 + rng.int(5);
    const perm = shuffle(rng, Array.from({ length: C }, (_, i) => i));
    // K non-empty groups: the first K classes seed them, the rest land anywhere.
    const groups: number[][] = Array.from({ length: K }, (_, k) => [perm[k]]);
    for (let i = K; i < C; i++) groups[rng.int(K)].push(perm[i]);
    const layout = groupLayout(groups, C);
    const N = 20;
    const O = C + K;
    const m = matrix(N, O, Float32Array.from({ length: N * O }, () => rng.normal() * 6));
    const got = mos(layout, m);
    const want: number[] = [];
    for (let i = 0; i < N; i++) {
      let pos = 0;
      const others: number[] = [];
      for (const g of groups) {
        const slice = Array.from(m.data.subarray(i * O + pos, i * O + pos + g.length + 1));
        const e = slice.map(Math.exp);
        others.push(e[0] / e.reduce((a, b) => a + b));
        pos += g.length + 1;
      }
      want.push(-Math.min(...others));
    }
    worst = Math.max(worst, assertClose(got, want, { atol: 1e-7, reason: "float32 output" }));
  }
  assert.ok(worst < 1e-7, `worst abs error ${worst}`);
});

Deno.test("mos hand value and column check", () => {
  // Groups [[0], [1, 2]]: slices [others0, c0] and [others1, c1, c2].
  const layout = groupLayout([[0], [1, 2]], 3);
  // Group 0 others p = 1/(1+e^2); group 1 others p = 1/3 (all logits equal).
  const m = matrix(1, 5, new Float32Array([0, 2, 1, 1, 1]));
  const p0 = 1 / (1 + Math.exp(2));
  assertClose(mos(layout, m)[0], -Math.min(p0, 1 / 3), { atol: 1e-7, reason: "float32 output" });
  assert.throws(() => mos(layout, matrix(1, 4)), DataError);
});
