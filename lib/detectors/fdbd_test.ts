import { matrix } from "../matrix.ts";
import { matrixSource } from "../ort/linear.ts";
import { assertClose } from "../../tests/assert_close.ts";
import type { DetectorHead } from "./common.ts";
import { fdbd, fitFdbd } from "./fdbd.ts";
import { naiveLogits, randomHead, randomMatrix, row } from "./test_util.ts";

Deno.test("fdbd equals the summed boundary distances over the normaliser, float64", async () => {
  const head = randomHead(51, 7, 9);
  const train = randomMatrix(52, 80, 9, { relu: true });
  const x = randomMatrix(53, 30, 9, { relu: true });
  const z = naiveLogits(x, head);
  const mu = row(train, 0).map((_, j) =>
    row(train, 0).length &&
    [...Array(80).keys()].reduce((s, i) => s + train.data[i * 9 + j], 0) / 80
  );
  const w = (c: number) => row(head.weight, c);
  let worst = 0;
  for (const useMean of [true, false]) {
    const model = await fitFdbd(matrixSource(train), head, useMean, { chunkRows: 13 });
    const want = Array.from({ length: x.rows }, (_, i) => {
      const zi = row(z, i);
      const p = zi.indexOf(Math.max(...zi));
      let s = 0;
      for (let c = 0; c < 7; c++) {
        if (c === p) continue;
        s += Math.abs(zi[p] - zi[c]) / Math.hypot(...w(p).map((v, k) => v - w(c)[k]));
      }
      return s / Math.hypot(...row(x, i).map((v, j) => v - (useMean ? mu[j] : 0)));
    });
    worst = Math.max(
      worst,
      assertClose(fdbd(model, x, z), want, { atol: 1e-6, rtol: 1e-6, reason: "float32 output" }),
    );
  }
  console.log(`fdbd: worst abs error ${worst}`);
});

Deno.test("fdbd hand-worked: W = [e1, e2, 0], x = (3, 1), mean (1, 1) -> (3 + sqrt 2) / 2", async () => {
  const head: DetectorHead = {
    weight: matrix(3, 2, new Float32Array([1, 0, 0, 1, 0, 0])),
    bias: new Float32Array(3),
    kind: "flat",
  };
  const train = matrixSource(matrix(2, 2, new Float32Array([0, 0, 2, 2])));
  const x = matrix(1, 2, new Float32Array([3, 1]));
  const z = matrix(1, 3, new Float32Array([3, 1, 0]));
  // |3-1| / sqrt2 + |3-0| / 1 = sqrt2 + 3; ||x - mean|| = 2; ||x|| = sqrt 10.
  assertClose(fdbd(await fitFdbd(train, head, true), x, z), [(3 + Math.SQRT2) / 2], {
    atol: 1e-6,
    reason: "float32",
  });
  assertClose(fdbd(await fitFdbd(train, head, false), x, z), [(3 + Math.SQRT2) / Math.sqrt(10)], {
    atol: 1e-6,
    reason: "float32",
  });
});
