import { matrix } from "../matrix.ts";
import { assertClose } from "../../tests/assert_close.ts";
import { fitReact, react } from "./react.ts";
import {
  naiveLogitsRow,
  naiveLse,
  naivePercentile,
  randomHead,
  randomMatrix,
  row,
} from "./test_util.ts";

Deno.test("react equals clip-then-energy in float64 (threshold from a sorted percentile)", async () => {
  const val = randomMatrix(8, 50, 16, { relu: true });
  const x = randomMatrix(9, 37, 16, { relu: true, scale: 1.5 });
  const head = randomHead(10, 7, 16);
  let worst = 0;
  for (const p of [85, 90, 99]) {
    const model = fitReact(val, p);
    const c = naivePercentile(val.data, p);
    assertClose(model.threshold, c, { atol: 1e-12, reason: "same interpolation" });
    const want = Array.from(
      { length: x.rows },
      (_, i) => naiveLse(naiveLogitsRow(row(x, i).map((v) => Math.min(v, c)), head)),
    );
    const got = await react(model, head, x, { chunkRows: 10 });
    worst = Math.max(
      worst,
      assertClose(got, want, { atol: 1e-5, rtol: 1e-6, reason: "float32 GEMM" }),
    );
  }
  console.log(`react: worst abs error ${worst}`);
});

Deno.test("react hand-worked: c = 4.6 from [1..5]; identity head, x = [5, 1] -> lse(4.6, 1)", async () => {
  const model = fitReact(matrix(5, 1, new Float32Array([1, 2, 3, 4, 5])), 90);
  assertClose(model.threshold, 4.6, { atol: 1e-6, reason: "float32 data" });
  const head = {
    weight: matrix(2, 2, new Float32Array([1, 0, 0, 1])),
    bias: new Float32Array(2),
    kind: "flat" as const,
  };
  const got = await react(
    { threshold: 4.6, percentile: 90 },
    head,
    matrix(1, 2, new Float32Array([5, 1])),
  );
  assertClose(got[0], Math.log(Math.exp(4.6) + Math.E), { atol: 1e-5, reason: "float32" });
});
