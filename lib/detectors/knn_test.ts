import assert from "node:assert/strict";
import { type Matrix, matrix } from "../matrix.ts";
import { matrixSource, type RowSource } from "../ort/linear.ts";
import { createRng } from "../random.ts";
import { assertClose } from "../../tests/assert_close.ts";
import { fitKnn, knn, knnScoresForKs, knnSearch } from "./knn.ts";

function randomMatrix(seed: number, rows: number, cols: number, relu = false): Matrix {
  const rng = createRng(seed);
  return matrix(
    rows,
    cols,
    Float32Array.from({ length: rows * cols }, () => {
      const v = rng.normal();
      return relu ? Math.max(0, v) : v;
    }),
  );
}

/** A source with no `view`, so the streamed (double-buffered copy) path runs. */
function copySource(m: Matrix): RowSource {
  return {
    rows: m.rows,
    cols: m.cols,
    readRows(start, count, out) {
      out.set(m.data.subarray(start * m.cols, (start + count) * m.cols));
    },
  };
}

/** Brute force in float64: all distances between normalised rows, stable sort. */
function bruteForce(q: Matrix, t: Matrix, k: number): { idx: number[][]; dist: number[][] } {
  const norm = (m: Matrix, i: number) => {
    const row = Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols));
    const n = Math.sqrt(row.reduce((a, b) => a + b * b, 0));
    return row.map((v) => v / Math.max(n, 1e-12));
  };
  const tn = Array.from({ length: t.rows }, (_, i) => norm(t, i));
  const idx: number[][] = [];
  const dist: number[][] = [];
  for (let i = 0; i < q.rows; i++) {
    const qi = norm(q, i);
    const d = tn.map((r) => Math.sqrt(r.reduce((a, v, j) => a + (v - qi[j]) ** 2, 0)));
    const order = d.map((_, j) => j).sort((a, b) => d[a] - d[b] || a - b).slice(0, k);
    idx.push(order);
    dist.push(order.map((j) => d[j]));
  }
  return { idx, dist };
}

Deno.test("knnSearch streaming equals brute force (chunks that do not divide N)", async () => {
  const train = randomMatrix(1, 437, 24, true);
  const queries = randomMatrix(2, 53, 24, true);
  const k = 7;
  const want = bruteForce(queries, train, k);
  for (const [chunkRows, queryBlockRows] of [[64, 10], [100, 53], [437, 7], [1000, 1000]]) {
    const got = await knnSearch(queries, copySource(train), k, { chunkRows, queryBlockRows });
    let worst = 0;
    for (let i = 0; i < queries.rows; i++) {
      assert.deepEqual(
        Array.from(got.indices.subarray(i * k, (i + 1) * k)),
        want.idx[i],
        `row ${i}, chunk ${chunkRows}`,
      );
      worst = Math.max(
        worst,
        assertClose(got.distances.subarray(i * k, (i + 1) * k), want.dist[i], {
          atol: 1e-5,
          rtol: 0,
          reason: "float32 GEMM similarities; the brief's 1e-5 bound",
        }),
      );
    }
    console.log(`knn chunk ${chunkRows}/${queryBlockRows}: worst distance error ${worst}`);
  }
});

Deno.test("knn score is -d_k; several k in one pass match separate runs", async () => {
  const train = randomMatrix(3, 300, 16);
  const queries = randomMatrix(4, 40, 16);
  const want = bruteForce(queries, train, 50);
  const ks = [1, 5, 50];
  const multi = await knnScoresForKs(matrixSource(train), queries, ks, { chunkRows: 77 });
  for (const [j, k] of ks.entries()) {
    const single = await knn(fitKnn(copySource(train), k), queries, { chunkRows: 123 });
    const ref = want.dist.map((d) => -d[k - 1]);
    assertClose(single, ref, { atol: 1e-5, rtol: 0, reason: "float32 GEMM similarities" });
    assertClose(multi[j], single, { atol: 0, rtol: 0, reason: "same kernel, same keys" });
  }
});

Deno.test("knn hand-worked: 2-d points, ties keep the lower index, zero rows", async () => {
  // Normalised train: (1,0), (0,1), (1,0) again, (-1,0), and an all-zero row (stays 0).
  const train = matrix(5, 2, new Float32Array([2, 0, 0, 3, 5, 0, -1, 0, 0, 0]));
  const q = matrix(2, 2, new Float32Array([1, 1, 0, 0]));
  const r = await knnSearch(q, matrixSource(train), 5, { chunkRows: 2 });
  // q0 = (1,1)/sqrt2: distance to (1,0) and (0,1) is sqrt(2 - sqrt2); to 0 it is 1;
  // to (-1,0) it is sqrt(2 + sqrt2).
  const a = Math.sqrt(2 - Math.SQRT2);
  assert.deepEqual(Array.from(r.indices.subarray(0, 5)), [0, 1, 2, 4, 3]);
  assertClose(r.distances.subarray(0, 5), [a, a, a, 1, Math.sqrt(2 + Math.SQRT2)], {
    atol: 1e-6,
    reason: "float32 rounding of 1/sqrt2",
  });
  // The zero query is at distance 1 from every unit row and 0 from the zero row.
  assert.deepEqual(Array.from(r.indices.subarray(5, 10)), [4, 0, 1, 2, 3]);
  assertClose(r.distances.subarray(5, 10), [0, 1, 1, 1, 1], { atol: 1e-7, reason: "exact" });
  await assert.rejects(() => knnSearch(q, matrixSource(train), 6), RangeError);
});
