import { matrix } from "../matrix.ts";
import { matrixSource } from "../ort/linear.ts";
import { assertClose } from "../../tests/assert_close.ts";
import { dice, fitDice } from "./dice.ts";
import { naiveLse, naivePercentile, randomHead, randomMatrix, row } from "./test_util.ts";

Deno.test("dice equals mean-activation masking + energy in float64", async () => {
  const train = randomMatrix(15, 90, 14, { relu: true });
  const x = randomMatrix(16, 25, 14, { relu: true });
  const head = randomHead(17, 5, 14);
  let worst = 0;
  for (const p of [50, 90]) {
    const mean = Array.from({ length: 14 }, (_, j) => {
      let s = 0;
      for (let i = 0; i < train.rows; i++) s += train.data[i * 14 + j];
      return s / train.rows;
    });
    const contrib = Array.from(head.weight.data, (w, idx) => w * mean[idx % 14]);
    const t = naivePercentile(contrib, p);
    const want = Array.from({ length: x.rows }, (_, i) => {
      const r = row(x, i);
      const z = Array.from({ length: 5 }, (_, c) => {
        let s = head.bias[c];
        for (let j = 0; j < 14; j++) {
          if (contrib[c * 14 + j] > t) s += head.weight.data[c * 14 + j] * r[j];
        }
        return s;
      });
      return naiveLse(z);
    });
    const model = await fitDice(matrixSource(train), head, p, { chunkRows: 17 });
    worst = Math.max(
      worst,
      assertClose(await dice(model, head, x), want, {
        atol: 1e-5,
        rtol: 1e-6,
        reason: "float32 GEMM",
      }),
    );
  }
  console.log(`dice: worst abs error ${worst}`);
});

Deno.test("dice hand-worked: contributions [1, 2, 3, -1], p = 50 -> threshold 1.5", async () => {
  const head = {
    weight: matrix(2, 2, new Float32Array([1, 2, 3, -1])),
    bias: new Float32Array(2),
    kind: "flat" as const,
  };
  const model = await fitDice(matrixSource(matrix(2, 2, new Float32Array([0, 2, 2, 0]))), head, 50);
  assertClose(model.threshold, 1.5, { atol: 0, reason: "exact" });
  // Masked weight [[0, 2], [3, 0]]; x = [1, 1] -> logits [2, 3].
  const got = await dice(model, head, matrix(1, 2, new Float32Array([1, 1])));
  assertClose(got[0], 3 + Math.log(1 + Math.exp(-1)), { atol: 1e-6, reason: "float32" });
});
