import assert from "node:assert/strict";
import { assertClose } from "../../tests/assert_close.ts";
import { DataError } from "../errors.ts";
import { type Matrix, matrix } from "../matrix.ts";
import { createRng } from "../random.ts";
import {
  forEachLogitsChunk,
  forEachRowChunk,
  linearLogits,
  linearLogitsStream,
  matrixSource,
  type RowSource,
} from "./linear.ts";

function randomMatrix(seed: number, rows: number, cols: number, scale = 1): Matrix {
  const rng = createRng(seed);
  const m = matrix(rows, cols);
  for (let i = 0; i < m.data.length; i++) m.data[i] = rng.normal() * scale;
  return m;
}

/** x W^T + b in float64, the obviously-correct reference. */
function naiveLogits(x: Matrix, w: Matrix, b: Float32Array): Float64Array {
  const out = new Float64Array(x.rows * w.rows);
  for (let i = 0; i < x.rows; i++) {
    for (let o = 0; o < w.rows; o++) {
      let s = b[o];
      for (let j = 0; j < x.cols; j++) s += x.data[i * x.cols + j] * w.data[o * w.cols + j];
      out[i * w.rows + o] = s;
    }
  }
  return out;
}

/** A source that copies asynchronously, like a file handle. */
function asyncSource(m: Matrix): RowSource & { reads: number } {
  const s = {
    rows: m.rows,
    cols: m.cols,
    reads: 0,
    async readRows(start: number, count: number, out: Float32Array) {
      await Promise.resolve();
      s.reads++;
      out.set(m.data.subarray(start * m.cols, (start + count) * m.cols));
    },
  };
  return s;
}

const N = 300, D = 64, O = 50;
const x = randomMatrix(1, N, D);
const w = randomMatrix(2, O, D, 0.2);
const b = Float32Array.from(randomMatrix(3, 1, O).data);

Deno.test("linearLogits matches a float64 reference with odd chunks", async () => {
  const got = await linearLogits(x, w, b, { chunkRows: 97, threads: 2 });
  assert.equal(got.rows, N);
  assert.equal(got.cols, O);
  const worst = assertClose(got.data, naiveLogits(x, w, b), {
    atol: 1e-5,
    rtol: 1e-5,
    reason: "float32 GEMM over D = 64 terms of size ~0.2",
  });
  assert.ok(worst < 1e-5, `worst abs error ${worst}`);
});

Deno.test("linearLogits: chunked equals unchunked", async () => {
  const a = await linearLogits(x, w, b, { chunkRows: 41 });
  const c = await linearLogits(x, w, b, { chunkRows: 10_000 });
  assertClose(a.data, c.data, {
    atol: 1e-6,
    rtol: 1e-6,
    reason: "same GEMM, only the row blocking differs",
  });
});

Deno.test("linearLogitsStream reads an async source chunk by chunk", async () => {
  const src = asyncSource(x);
  const got = await linearLogitsStream(src, w, b, { chunkRows: 64 });
  assert.equal(src.reads, Math.ceil(N / 64));
  const ref = await linearLogits(x, w, b, { chunkRows: 64 });
  assertClose(got.data, ref.data, { atol: 0, rtol: 0, reason: "same chunks, same kernel" });
});

Deno.test("forEachLogitsChunk visits every row once, in order", async () => {
  const ref = naiveLogits(x, w, b);
  const starts: number[] = [];
  let seen = 0;
  await forEachLogitsChunk(asyncSource(x), w, b, (start, logits) => {
    starts.push(start);
    assert.equal(start, seen);
    assertClose(logits.data, ref.subarray(start * O, (start + logits.rows) * O), {
      atol: 1e-5,
      rtol: 1e-5,
      reason: "float32 GEMM over D = 64 terms",
    });
    seen += logits.rows;
  }, { chunkRows: 128 });
  assert.deepEqual(starts, [0, 128, 256]);
  assert.equal(seen, N);
});

Deno.test("forEachRowChunk hands out exact rows for view and copy sources", async () => {
  for (const src of [matrixSource(x), asyncSource(x)]) {
    const got = new Float32Array(N * D);
    await forEachRowChunk(src, 77, (start, n, rows) => {
      assert.equal(rows.length, n * D);
      got.set(rows, start * D);
    });
    assert.deepEqual(got, x.data);
  }
});

Deno.test("linearLogits rejects a head of the wrong dimension", async () => {
  await assert.rejects(() => linearLogits(x, randomMatrix(4, O, D + 1), b), DataError);
  await assert.rejects(() => linearLogits(x, w, new Float32Array(O - 1)), DataError);
});

Deno.test("linearLogits on zero rows returns an empty matrix", async () => {
  const got = await linearLogits(matrix(0, D), w, b);
  assert.equal(got.rows, 0);
  assert.equal(got.cols, O);
});
