import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import { matrix } from "../matrix.ts";
import { matrixSource } from "../ort/linear.ts";
import { assertClose } from "../../tests/assert_close.ts";
import type { DetectorHead } from "./common.ts";
import { headOrigin } from "./principal_space.ts";
import { fitResidual, residual } from "./residual.ts";
import { fitVim, vim } from "./vim.ts";
import { naiveInverse, naiveLogits, naiveLse, randomHead, randomMatrix, row } from "./test_util.ts";

/** Cyclic Jacobi eigendecomposition (plain, float64): columns of V are eigenvectors. */
function jacobi(a: number[][]): { values: number[]; vectors: number[][] } {
  const n = a.length;
  const m = a.map((r) => [...r]);
  const v: number[][] = Array.from(
    { length: n },
    (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)),
  );
  for (let sweep = 0; sweep < 100; sweep++) {
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(m[p][q]) < 1e-300) continue;
        const th = (m[q][q] - m[p][p]) / (2 * m[p][q]);
        const t = Math.sign(th || 1) / (Math.abs(th) + Math.sqrt(th * th + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k][p], mkq = m[k][q];
          m[k][p] = c * mkp - s * mkq;
          m[k][q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p][k], mqk = m[q][k];
          m[p][k] = c * mpk - s * mqk;
          m[q][k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k][p], vkq = v[k][q];
          v[k][p] = c * vkp - s * vkq;
          v[k][q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: m.map((r, i) => r[i]), vectors: v };
}

/** Residual norms and ViM alpha by the OpenOOD recipe, in plain float64. */
function naiveVim(train: ReturnType<typeof randomMatrix>, head: DetectorHead, dim: number) {
  const d = train.cols;
  const o = head.weight.rows;
  const W = Array.from({ length: o }, (_, c) => row(head.weight, c));
  // pinv(W) = W^T (W W^T)^-1 for a full-row-rank W.
  const g = naiveInverse(W.map((a) => W.map((b) => a.reduce((s, v, k) => s + v * b[k], 0))));
  const y = g.map((r) => r.reduce((s, v, j) => s + v * head.bias[j], 0));
  const u = Array.from({ length: d }, (_, k) => -W.reduce((s, r, a) => s + r[k] * y[a], 0));
  const cov = Array.from({ length: d }, () => new Array(d).fill(0));
  for (let i = 0; i < train.rows; i++) {
    const z = row(train, i).map((v, k) => v - u[k]);
    for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) cov[a][b] += (z[a] * z[b]) / train.rows;
  }
  const { values, vectors } = jacobi(cov);
  const order = values.map((_, i) => i).sort((a, b) => values[b] - values[a]);
  const top = order.slice(0, dim).map((j) => vectors.map((r) => r[j]));
  const resNorm = (x: number[]) => {
    const z = x.map((v, k) => v - u[k]);
    // |z|^2 - |projection on the principal space|^2, in float64: fine at this size.
    const proj = top.map((e) => e.reduce((s, v, k) => s + v * z[k], 0));
    const r = z.map((v, k) => v - top.reduce((s, e, t) => s + proj[t] * e[k], 0));
    return Math.sqrt(r.reduce((s, v) => s + v * v, 0));
  };
  const z = naiveLogits(train, head);
  let sumMax = 0;
  let sumRes = 0;
  for (let i = 0; i < train.rows; i++) {
    sumMax += Math.max(...row(z, i));
    sumRes += resNorm(row(train, i));
  }
  return { u, resNorm, alpha: sumMax / sumRes };
}

Deno.test("vim and residual equal the OpenOOD recipe in float64 (Jacobi eigenvectors)", async () => {
  const train = randomMatrix(21, 120, 10, { relu: true, scale: 2 });
  const x = randomMatrix(22, 20, 10, { relu: true, scale: 2 });
  const head = randomHead(23, 4, 10);
  const dim = 3;
  const ref = naiveVim(train, head, dim);
  assertClose(headOrigin(head.weight, head.bias), ref.u, {
    atol: 1e-9,
    rtol: 1e-9,
    reason: "float64 pinv both sides",
  });
  const vm = await fitVim(matrixSource(train), head, dim, { chunkRows: 33 });
  assertClose(vm.alpha, ref.alpha, { rtol: 1e-5, reason: "float32 residual norms averaged" });
  const z = naiveLogits(x, head);
  const wantVim = Array.from(
    { length: x.rows },
    (_, i) => naiveLse(row(z, i)) - ref.alpha * ref.resNorm(row(x, i)),
  );
  const w1 = assertClose(await vim(vm, x, z), wantVim, {
    atol: 1e-4,
    rtol: 1e-5,
    reason: "float32 kernels",
  });
  const rm = await fitResidual(matrixSource(train), head, dim + 2, { chunkRows: 50 });
  const ref2 = naiveVim(train, head, dim + 2);
  const wantRes = Array.from({ length: x.rows }, (_, i) => -ref2.resNorm(row(x, i)));
  const w2 = assertClose(await residual(rm, x), wantRes, {
    atol: 1e-4,
    rtol: 1e-5,
    reason: "float32 kernels",
  });
  console.log(`vim: worst abs error ${w1}; residual: ${w2}`);
});

Deno.test("residual / vim hand-worked: origin (1, 0), principal axis e1, residual |x_2|", async () => {
  // W = [[1, 0]], b = [-1]: u = -pinv(W) b = (1, 0). Centred train rows (+-2, +-0.5):
  // second moment diag(4, 0.25), so dim = 1 keeps e1 and the residual is the e2 component.
  const head: DetectorHead = {
    weight: matrix(1, 2, new Float32Array([1, 0])),
    bias: new Float32Array([-1]),
    kind: "flat",
  };
  const train = matrixSource(matrix(4, 2, new Float32Array([3, 0.5, -1, -0.5, 3, -0.5, -1, 0.5])));
  const rm = await fitResidual(train, head, 1);
  assertClose(rm.origin, [1, 0], { atol: 1e-12, reason: "float64" });
  assertClose(await residual(rm, matrix(1, 2, new Float32Array([5, 2]))), [-2], {
    atol: 1e-6,
    reason: "float32",
  });
  // ViM: max logits 2, -2, 2, -2 average to 0, so alpha = 0 and the score is the energy (= z).
  const vm = await fitVim(train, head, 1);
  assertClose(vm.alpha, 0, { atol: 1e-7, reason: "float32 logits" });
  assertClose(
    await vim(vm, matrix(1, 2, new Float32Array([5, 2])), matrix(1, 1, new Float32Array([4]))),
    [4],
    { atol: 1e-6, reason: "float32" },
  );
});

Deno.test("ViM: a principal dimension at or above D is a DataError naming both", async () => {
  const d = 6;
  const head = randomHead(41, 3, d);
  const train = randomMatrix(42, 40, d);
  await assert.rejects(
    fitVim(matrixSource(train), head, d),
    (e: unknown) =>
      e instanceof DataError &&
      /principal dimension 6 must be an integer from 0 to 5 \(below the feature dimension 6\)/
        .test(e.message),
  );
});
