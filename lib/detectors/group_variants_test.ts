import { groupLayout } from "../groups.ts";
import { matrix } from "../matrix.ts";
import { mos } from "../scores/mos.ts";
import { assertClose } from "../../tests/assert_close.ts";
import type { DetectorHead } from "./common.ts";
import { mosReact, mosTemperature } from "./group_variants.ts";
import { fitReact } from "./react.ts";
import { naiveLogitsRow, naiveSoftmax, randomHead, randomMatrix, row } from "./test_util.ts";

const groups = [[0, 3], [1, 4, 5], [2]];
const layout = groupLayout(groups, 6);

/** MOS by hand: per group slice, softmax(z / T), "others" is slot 0; -min over groups. */
function naiveMos(z: number[], t: number): number {
  let best = Infinity;
  for (let k = 0; k < layout.numGroups; k++) {
    const s = layout.starts[k];
    const p = naiveSoftmax(z.slice(s, s + layout.sizes[k]).map((v) => v / t));
    best = Math.min(best, p[0]);
  }
  return -best;
}

Deno.test("mosTemperature (extension) equals a per-group tempered softmax; T = 1 is MOS", () => {
  const z = randomMatrix(71, 40, layout.numOutputs, { scale: 3 });
  let worst = 0;
  for (const t of [0.5, 1, 7]) {
    const want = Array.from({ length: z.rows }, (_, i) => naiveMos(row(z, i), t));
    worst = Math.max(
      worst,
      assertClose(mosTemperature(layout, z, t), want, { atol: 1e-7, reason: "float32 output" }),
    );
  }
  assertClose(mosTemperature(layout, z, 1), mos(layout, z), { atol: 0, reason: "same code path" });
  console.log(`mos-temperature: worst abs error ${worst}`);
});

Deno.test("mosReact (extension) equals MOS of the clipped features' group logits", async () => {
  const d = 12;
  const head: DetectorHead = { ...randomHead(72, layout.numOutputs, d), kind: "group", layout };
  const val = randomMatrix(73, 60, d, { relu: true });
  const x = randomMatrix(74, 30, d, { relu: true, scale: 2 });
  const model = fitReact(val, 90);
  const want = Array.from(
    { length: x.rows },
    (_, i) => naiveMos(naiveLogitsRow(row(x, i).map((v) => Math.min(v, model.threshold)), head), 1),
  );
  const worst = assertClose(await mosReact(model, head, x, { chunkRows: 9 }), want, {
    atol: 1e-6,
    reason: "float32 GEMM",
  });
  console.log(`mos-react: worst abs error ${worst}`);
});

Deno.test("group variants hand-worked: one group [others 0, 0, ln 2] -> -1/4; T = 2 -> -1/(2 + sqrt 2)", () => {
  const l = groupLayout([[0, 1]], 2);
  const z = matrix(1, 3, new Float32Array([0, 0, Math.log(2)]));
  assertClose(mosTemperature(l, z, 1), [-0.25], { atol: 1e-7, reason: "float32 ln 2" });
  assertClose(mosTemperature(l, z, 2), [-1 / (2 + Math.SQRT2)], { atol: 1e-7, reason: "float32" });
});
