import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import { type Matrix, matrix } from "../matrix.ts";
import { createRng } from "../random.ts";
import { assertClose } from "../../tests/assert_close.ts";
import { evaluate } from "../metrics/evaluate.ts";
import { fitMahalanobis, mahalanobis, MAHALANOBIS_SCORE_SCALE } from "./mahalanobis.ts";

/** Gauss-Jordan inverse with partial pivoting, float64, as rows of plain arrays. */
function gaussJordanInverse(a: number[][]): number[][] {
  const n = a.length;
  const m = a.map((r, i) => [...r, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let col = 0; col < n; col++) {
    let piv = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r][col]) > Math.abs(m[piv][col])) piv = r;
    [m[col], m[piv]] = [m[piv], m[col]];
    const d = m[col][col];
    for (let j = 0; j < 2 * n; j++) m[col][j] /= d;
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = m[r][col];
      for (let j = 0; j < 2 * n; j++) m[r][j] -= f * m[col][j];
    }
  }
  return m.map((r) => r.slice(n));
}

function randomFeatures(seed: number, C: number, perClass: number, D: number) {
  const rng = createRng(seed);
  const centers = Array.from(
    { length: C },
    () => Array.from({ length: D }, () => rng.normal() * 3),
  );
  // A random mixing matrix gives correlated features.
  const mix = Array.from({ length: D }, () => Array.from({ length: D }, () => rng.normal()));
  const N = C * perClass;
  const x = new Float32Array(N * D);
  const labels = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    const c = i % C;
    labels[i] = c;
    const z = Array.from({ length: D }, () => rng.normal());
    for (let a = 0; a < D; a++) {
      let s = centers[c][a];
      for (let b = 0; b < D; b++) s += mix[a][b] * z[b] * 0.5;
      x[i * D + a] = s;
    }
  }
  return { features: matrix(N, D, x), labels };
}

/** Means, (1/N) covariance of class-centred rows, in float64 with plain arrays. */
function naiveFit(f: Matrix, labels: Int32Array, C: number) {
  const D = f.cols;
  const rows = (i: number) => Array.from(f.data.subarray(i * D, (i + 1) * D));
  const means = Array.from({ length: C }, (_, c) => {
    const members = [...labels.keys()].filter((i) => labels[i] === c).map(rows);
    return members[0].map((_, j) => members.reduce((s, r) => s + r[j], 0) / members.length);
  });
  const cov = Array.from({ length: D }, () => new Array(D).fill(0));
  for (let i = 0; i < f.rows; i++) {
    const z = rows(i).map((v, j) => v - means[labels[i]][j]);
    for (let a = 0; a < D; a++) for (let b = 0; b < D; b++) cov[a][b] += (z[a] * z[b]) / f.rows;
  }
  return { means, cov };
}

/**
 * The released code's per-sample score: `get_Mahalanobis_score` (utils/mahalanobis_lib.py of
 * deeplearning-wisc/large_scale_ood) keeps max_c of -0.5 (x - mu_c)^T P (x - mu_c).
 */
function naiveScore(x: number[], means: number[][], P: number[][]): number {
  let best = Infinity;
  for (const mu of means) {
    const z = x.map((v, j) => v - mu[j]);
    let d = 0;
    for (let a = 0; a < z.length; a++) {
      for (let b = 0; b < z.length; b++) d += z[a] * P[a][b] * z[b];
    }
    best = Math.min(best, d);
  }
  return -0.5 * best;
}

Deno.test("fitMahalanobis + mahalanobis equal a Gauss-Jordan float64 reference on seeded data", () => {
  const C = 4;
  const D = 6;
  const { features, labels } = randomFeatures(1, C, 25, D);
  const model = fitMahalanobis(features, labels, C);
  const ref = naiveFit(features, labels, C);
  const Pref = gaussJordanInverse(ref.cov);
  const wMeans = assertClose(model.means.data, ref.means.flat(), {
    atol: 1e-5,
    rtol: 1e-6,
    reason: "float32 storage",
  });
  const wPrec = assertClose(model.precision.data, Pref.flat(), {
    atol: 1e-6,
    rtol: 1e-5,
    reason: "float32 storage of a well-conditioned inverse",
  });
  const test = randomFeatures(2, C, 10, D).features;
  const got = mahalanobis(model, test);
  const want = Array.from(
    { length: test.rows },
    (_, i) => naiveScore(Array.from(test.data.subarray(i * D, (i + 1) * D)), ref.means, Pref),
  );
  const wScore = assertClose(got, want, {
    atol: 1e-4,
    rtol: 1e-5,
    reason: "float32 model storage (precision rounded to 24 bits) and float32 output",
  });
  // Same algebra on the model's own float32 means / precision isolates the expanded-form scoring.
  const Pm = Array.from(
    { length: D },
    (_, a) => Array.from(model.precision.data.subarray(a * D, (a + 1) * D)),
  );
  const Mm = Array.from(
    { length: C },
    (_, c) => Array.from(model.means.data.subarray(c * D, (c + 1) * D)),
  );
  const wantOwn = Array.from(
    { length: test.rows },
    (_, i) => naiveScore(Array.from(test.data.subarray(i * D, (i + 1) * D)), Mm, Pm),
  );
  const wOwn = assertClose(got, wantOwn, {
    atol: 1e-6,
    rtol: 1e-6,
    reason: "float32 output of float64 arithmetic; expanded vs direct quadratic form",
  });
  const maxAbs = Math.max(...want.map(Math.abs));
  assert.ok(
    wScore / maxAbs < 1e-5,
    `worst errors: means ${wMeans}, precision ${wPrec}, score ${wScore} (max |score| ${maxAbs}), ` +
      `score vs own-model reference ${wOwn}`,
  );
});

Deno.test("mahalanobis hand case in 1-d: means 2 and 11, variance 1", () => {
  const f = matrix(4, 1, new Float32Array([1, 3, 10, 12]));
  const model = fitMahalanobis(f, new Int32Array([0, 0, 1, 1]), 2);
  assert.deepEqual([...model.means.data], [2, 11]);
  assertClose(model.precision.data[0], 1, { atol: 1e-7, reason: "float32" });
  const s = mahalanobis(model, matrix(3, 1, new Float32Array([2, 5, 11])));
  // -0.5 x the squared distance, the released code's scale: x = 5 is 3 from the mean 2.
  assertClose(s, [0, -4.5, 0], { atol: 1e-5, reason: "float32 rounding of the expanded form" });
});

Deno.test("the -0.5 scale: scores are half the negated distance; no metric changes", () => {
  assert.equal(MAHALANOBIS_SCORE_SCALE, -0.5);
  const C = 3;
  const D = 4;
  const { features, labels } = randomFeatures(5, C, 30, D);
  const model = fitMahalanobis(features, labels, C);
  const ref = naiveFit(features, labels, C);
  const P = gaussJordanInverse(ref.cov);
  const idSet = randomFeatures(6, C, 40, D).features;
  // OOD: the same classes pushed away from their centres.
  const oodSet = randomFeatures(7, C, 30, D).features;
  for (let k = 0; k < oodSet.data.length; k++) oodSet.data[k] *= 1.6;
  const rows = (m: Matrix) =>
    Array.from({ length: m.rows }, (_, i) => Array.from(m.data.subarray(i * D, (i + 1) * D)));
  // The -1 x distance score of this project before, in float64 from the reference fit.
  const minusDistance = (m: Matrix) =>
    Float64Array.from(rows(m), (x) => 2 * naiveScore(x, ref.means, P));
  const id = mahalanobis(model, idSet);
  const ood = mahalanobis(model, oodSet);
  assertClose(id, Array.from(minusDistance(idSet), (v) => 0.5 * v), {
    atol: 1e-4,
    rtol: 1e-5,
    reason: "float32 model storage and output",
  });
  for (const fprConvention of ["paper", "openood"] as const) {
    const now = evaluate(id, ood, { fprConvention });
    const before = evaluate(minusDistance(idSet), minusDistance(oodSet), { fprConvention });
    assert.deepEqual(now, before, fprConvention);
    assert.ok(now.auroc > 0.5 && now.auroc < 1, `a non-trivial ranking, AUROC ${now.auroc}`);
  }
});

Deno.test("singular covariance: a dead feature channel gets zero precision (pinvh), not 1/ridge", () => {
  const C = 3;
  const D = 5;
  const { features, labels } = randomFeatures(3, C, 20, D);
  for (let i = 0; i < features.rows; i++) features.data[i * D + 2] = 0; // always-zero channel
  const model = fitMahalanobis(features, labels, C);
  const ref = naiveFit(features, labels, C);
  // Reference: invert the non-singular 4 x 4 block and embed it with zeros for channel 2.
  const keep = [0, 1, 3, 4];
  const sub = gaussJordanInverse(keep.map((a) => keep.map((b) => ref.cov[a][b])));
  const want = Array.from({ length: D }, () => new Array(D).fill(0));
  keep.forEach((a, i) => keep.forEach((b, j) => (want[a][b] = sub[i][j])));
  const worst = assertClose(model.precision.data, want.flat(), {
    atol: 1e-6,
    rtol: 1e-5,
    reason: "float32 storage",
  });
  assert.ok(worst < 1e-4, `worst abs error ${worst}`);
});

Deno.test("fitMahalanobis errors: empty class, bad label, length mismatch, feature dim mismatch", () => {
  const f = matrix(3, 2, new Float32Array([1, 2, 3, 4, 5, 6]));
  assert.throws(() => fitMahalanobis(f, new Int32Array([0, 0, 2]), 3), DataError);
  assert.throws(() => fitMahalanobis(f, new Int32Array([0, 1, -1]), 2), DataError);
  assert.throws(() => fitMahalanobis(f, new Int32Array([0, 1]), 2), DataError);
  const model = fitMahalanobis(
    matrix(4, 2, new Float32Array([0, 0, 1, 1, 0, 1, 1, 0])),
    new Int32Array([0, 0, 0, 0]),
    1,
  );
  assert.throws(() => mahalanobis(model, matrix(1, 3)), DataError);
});
