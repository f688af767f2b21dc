import assert from "node:assert/strict";
import { readClassTable, taxonomyGroups } from "../io/classes.ts";
import { DataError, UsageError } from "../errors.ts";
import type { Matrix } from "../matrix.ts";
import {
  BENCHMARK_VERSION,
  type BenchmarkStrengths,
  DEFAULT_STRENGTHS,
  generateBenchmark,
  OOD_SET_NAMES,
  type SyntheticBenchmark,
} from "./benchmark.ts";
import { OOD_MECHANISMS } from "./mechanisms.ts";

const table = await readClassTable();
let cached: SyntheticBenchmark | undefined;
/** The default benchmark on the real label space, generated once for the whole file. */
function defaultBench(): SyntheticBenchmark {
  cached ??= generateBenchmark({ seed: 7, classes: table, oodVal: true });
  return cached;
}

async function sha256(...arrays: ArrayBufferView[]): Promise<string> {
  const total = arrays.reduce((a, x) => a + x.byteLength, 0);
  const buf = new Uint8Array(total);
  let off = 0;
  for (const x of arrays) {
    buf.set(new Uint8Array(x.buffer, x.byteOffset, x.byteLength), off);
    off += x.byteLength;
  }
  const digest = await crypto.subtle.digest("SHA-256", buf);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function benchHash(b: SyntheticBenchmark): Promise<string> {
  const parts: ArrayBufferView[] = [b.train.features.data, b.train.labels, b.val.features.data];
  for (const o of b.ood) parts.push(o.features.data);
  if (b.oodVal) parts.push(b.oodVal.features.data);
  return sha256(...parts);
}

/** Exact AUROC by pairwise counting (ties half): the plain definition, fine for small sets. */
function aurocPairs(pos: number[], neg: number[]): number {
  let s = 0;
  for (const p of pos) for (const n of neg) s += p > n ? 1 : p === n ? 0.5 : 0;
  return s / (pos.length * neg.length);
}

function rowNorms(m: Matrix): number[] {
  const out: number[] = [];
  for (let i = 0; i < m.rows; i++) {
    let q = 0;
    for (let d = 0; d < m.cols; d++) q += m.data[i * m.cols + d] ** 2;
    out.push(Math.sqrt(q));
  }
  return out;
}

Deno.test("generateBenchmark: default sizes, labels and rectified features on ImageNet-1k", () => {
  const b = defaultBench();
  assert.equal(b.version, BENCHMARK_VERSION);
  assert.equal(b.dim, 256);
  assert.deepEqual(b.groups.map((g) => g.length), [398, 521, 9, 7, 52, 8, 3, 2]);
  assert.equal(b.train.features.rows, 30000);
  assert.equal(b.train.features.cols, 256);
  assert.equal(b.val.features.rows, 10000);
  assert.equal(b.val.name, "id");
  assert.deepEqual(b.ood.map((o) => o.name), [...OOD_SET_NAMES]);
  for (const o of b.ood) {
    assert.equal(o.features.rows, 3000);
    assert.ok(o.labels.every((l) => l === -1), `${o.name} labels must all be -1`);
    assert.ok(o.description.length > 20);
  }
  assert.equal(b.oodVal?.features.rows, 3000);
  assert.ok(b.oodVal?.labels.every((l) => l === -1));
  // Class-major: sample i of the train split has class floor(i / 30).
  for (const i of [0, 29, 30, 12345, 29999]) assert.equal(b.train.labels[i], Math.floor(i / 30));
  for (const i of [0, 9, 10, 9999]) assert.equal(b.val.labels[i], Math.floor(i / 10));
  for (const m of [b.train.features, b.val.features, ...b.ood.map((o) => o.features)]) {
    let zeros = 0;
    for (const v of m.data) {
      assert.ok(v >= 0 && Number.isFinite(v), `feature ${v} must be finite and >= 0`);
      if (v === 0) zeros++;
    }
    const frac = zeros / m.data.length;
    assert.ok(frac > 0.4 && frac < 0.8, `zero fraction ${frac} should be sparse-ish (0.4..0.8)`);
  }
  for (const name of ["animal", "artifact", "plant", "novel-groups", "diffuse-texture"]) {
    assert.ok(b.description.includes(name), `description mentions ${name}`);
  }
  // README.txt (the description) says what each set models and where the effect is documented.
  for (const m of OOD_MECHANISMS) {
    assert.ok(b.description.includes(`Models ${m.like}: ${m.effect}. Source: ${m.source}.`));
  }
});

Deno.test("generateBenchmark: same seed gives the same bytes, another seed different bytes", async () => {
  const groups = taxonomyGroups(table);
  const opts = { groups, dim: 32, trainPerClass: 3, valPerClass: 2, oodCount: 200, oodVal: true };
  const a = await benchHash(generateBenchmark({ seed: 11, ...opts }));
  const b = await benchHash(generateBenchmark({ seed: 11, ...opts }));
  const c = await benchHash(generateBenchmark({ seed: 12, ...opts }));
  assert.equal(a, b);
  assert.notEqual(a, c);
  // The full-size default run hashes identically on a second generation as well.
  const full = defaultBench();
  const again = generateBenchmark({ seed: 7, classes: table, oodVal: true });
  assert.equal(await benchHash(again), await benchHash(full));
});

Deno.test("generateBenchmark: pinned bytes for BENCHMARK_VERSION (bump the version if this changes)", async () => {
  // All strengths are given explicitly, so retuning DEFAULT_STRENGTHS does not move this hash;
  // only a change of the generator itself does, and that must bump BENCHMARK_VERSION.
  const strengths: BenchmarkStrengths = {
    offsetMean: -0.5,
    offsetStd: 0.5,
    groupSpread: 1,
    classSpread: 0.6,
    sampleNoise: 1.6,
    classNoiseLogStd: 0.15,
    amplitudeStd: 0.15,
    novelGroupOverlap: 0.6,
    novelGroupAmplitude: 0.7,
    novelClassSpread: 1,
    mixtureMinWeight: 0.3,
    textureAmplitude: 0.9,
    textureBlend: 8,
    textureNoise: 1,
    textureChannels: 4,
    textureBoost: 8,
  };
  const b = generateBenchmark({
    seed: 3,
    groups: [[0, 2, 4], [1, 3], [5]],
    dim: 8,
    trainPerClass: 2,
    valPerClass: 1,
    oodCount: 5,
    oodVal: true,
    oodValCount: 6,
    strengths,
  });
  assert.equal(BENCHMARK_VERSION, "2");
  assert.equal(
    await benchHash(b),
    "29c498df544424ab046d783a5cafefd3fe7bcf0afae8db9420ab0af42ff755aa",
  );
  // v2 changed the default strengths and added novelGroupAmplitude (a factor on the amplitude):
  // with v1's strengths and that factor at 1, the bytes are still v1's pinned bytes.
  const v1 = generateBenchmark({
    seed: 3,
    groups: [[0, 2, 4], [1, 3], [5]],
    dim: 8,
    trainPerClass: 2,
    valPerClass: 1,
    oodCount: 5,
    oodVal: true,
    oodValCount: 6,
    strengths: {
      ...strengths,
      novelGroupAmplitude: 1,
      novelClassSpread: 1.5,
      textureAmplitude: 0.7,
      textureChannels: 16,
      textureBoost: 2.5,
    },
  });
  assert.equal(
    await benchHash(v1),
    "7fbaab2e17bac397d7fa6d9ac5fb38c8a5fb685ea7411706a5f7e71b67c0cc10",
  );
});

Deno.test("generateBenchmark: splits use separate streams (sizes do not move other splits)", async () => {
  const groups = taxonomyGroups(table);
  const base = { seed: 5, groups, dim: 16, oodCount: 50 };
  const a = generateBenchmark({ ...base, trainPerClass: 2, valPerClass: 1 });
  const b = generateBenchmark({ ...base, trainPerClass: 4, valPerClass: 1, oodVal: true });
  assert.equal(await sha256(a.val.features.data), await sha256(b.val.features.data));
  for (let j = 0; j < 4; j++) {
    assert.equal(await sha256(a.ood[j].features.data), await sha256(b.ood[j].features.data));
  }
  // The first 2 samples of each class come from the same stream positions only for class 0.
  assert.deepEqual(
    Array.from(a.train.features.data.subarray(0, 32)),
    Array.from(b.train.features.data.subarray(0, 32)),
  );
  // The held-out OOD set shares no rows with the test sets.
  const rows = new Set<string>();
  for (const o of b.ood) {
    for (let i = 0; i < o.features.rows; i++) {
      rows.add(o.features.data.subarray(i * 16, i * 16 + 16).join(","));
    }
  }
  const v = b.oodVal!;
  for (let i = 0; i < v.features.rows; i++) {
    assert.ok(!rows.has(v.features.data.subarray(i * 16, i * 16 + 16).join(",")));
  }
});

Deno.test("generateBenchmark: hierarchical structure and OOD sets neither trivial nor hopeless", () => {
  const b = defaultBench();
  const D = b.dim;
  const C = 1000;
  const K = b.groups.length;
  // Class and group means from train.
  const mu = new Float64Array(C * D);
  const X = b.train.features;
  for (let i = 0; i < X.rows; i++) {
    const c = b.train.labels[i];
    for (let d = 0; d < D; d++) mu[c * D + d] += X.data[i * D + d] / 30;
  }
  const classGroup = new Int32Array(C);
  b.groups.forEach((g, k) => g.forEach((c) => classGroup[c] = k));
  const gmu = new Float64Array(K * D);
  for (let c = 0; c < C; c++) {
    const k = classGroup[c];
    for (let d = 0; d < D; d++) gmu[k * D + d] += mu[c * D + d] / b.groups[k].length;
  }
  const dist2 = (x: Float32Array, at: number, m: Float64Array, j: number) => {
    let s = 0;
    for (let d = 0; d < D; d++) s += (x[at + d] - m[j * D + d]) ** 2;
    return s;
  };
  // Nearest-group-mean classification of ID val: group structure is strong.
  const V = b.val.features;
  let groupHits = 0;
  const nearestGroup = (m: Matrix, i: number) => {
    let best = Infinity;
    let arg = -1;
    for (let k = 0; k < K; k++) {
      const dd = dist2(m.data, i * D, gmu, k);
      if (dd < best) [best, arg] = [dd, k];
    }
    return [arg, best];
  };
  const step = 7;
  const idScore: number[] = [];
  for (let i = 0; i < V.rows; i += step) {
    const [g, dd] = nearestGroup(V, i);
    if (g === classGroup[b.val.labels[i]]) groupHits++;
    idScore.push(-dd);
  }
  const groupAcc = groupHits / idScore.length;
  assert.ok(groupAcc > 0.9, `nearest-group-mean accuracy ${groupAcc} should exceed 0.9`);
  // Nearest-class-mean accuracy: well above chance (0.1%) yet far from perfect.
  let classHits = 0;
  let n = 0;
  for (let i = 0; i < V.rows; i += 20) {
    let best = Infinity;
    let arg = -1;
    for (let c = 0; c < C; c++) {
      const dd = dist2(V.data, i * D, mu, c);
      if (dd < best) [best, arg] = [dd, c];
    }
    if (arg === b.val.labels[i]) classHits++;
    n++;
  }
  const classAcc = classHits / n;
  assert.ok(classAcc > 0.3 && classAcc < 0.95, `nearest-class-mean accuracy ${classAcc}`);
  // A crude detector (distance to the nearest group mean) separates the group-level OOD sets
  // from ID somewhat, but no set is perfectly separated by it.
  for (const o of b.ood) {
    const oodScore: number[] = [];
    for (let i = 0; i < o.features.rows; i += 3) oodScore.push(-nearestGroup(o.features, i)[1]);
    const a = aurocPairs(idScore, oodScore);
    assert.ok(a > 0.3 && a < 0.995, `${o.name}: proxy AUROC ${a} should be in (0.3, 0.995)`);
  }
  // Each mechanism's documented effect at the group level (lib/synthetic/mechanisms.ts): the
  // relative gap between the nearest and second-nearest group mean. ID images and new classes
  // of known groups sit clearly in one group; two-group mixtures are split between two, and
  // unseen super-classes belong to none.
  const relGap = (m: Matrix) => {
    let sum = 0;
    let n = 0;
    for (let i = 0; i < m.rows; i += 5) {
      const ds: number[] = [];
      for (let k = 0; k < K; k++) ds.push(Math.sqrt(dist2(m.data, i * D, gmu, k)));
      ds.sort((x, y) => x - y);
      sum += (ds[1] - ds[0]) / ds[0];
      n++;
    }
    return sum / n;
  };
  const gapOf = (name: string) => relGap(b.ood.find((o) => o.name === name)!.features);
  const idGap = relGap(V);
  assert.ok(gapOf("novel-classes") > 0.8 * idGap, "novel classes sit in one known group");
  assert.ok(gapOf("group-mixtures") < 0.5 * idGap, "mixtures are split between two groups");
  assert.ok(gapOf("novel-groups") < 0.5 * idGap, "unseen super-classes sit in no known group");
});

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

/** Per-channel shift of `m`'s mean from `ref`'s, in units of `ref`'s per-channel std. */
function channelShifts(m: Matrix, ref: Matrix): number[] {
  const stats = (x: Matrix) => {
    const mu = new Float64Array(x.cols);
    const sd = new Float64Array(x.cols);
    for (let i = 0; i < x.rows; i++) {
      for (let d = 0; d < x.cols; d++) mu[d] += x.data[i * x.cols + d] / x.rows;
    }
    for (let i = 0; i < x.rows; i++) {
      for (let d = 0; d < x.cols; d++) sd[d] += (x.data[i * x.cols + d] - mu[d]) ** 2 / x.rows;
    }
    return { mu, sd: sd.map(Math.sqrt) };
  };
  const a = stats(m);
  const r = stats(ref);
  return Array.from(a.mu, (v, d) => (v - r.mu[d]) / r.sd[d]);
}

Deno.test("generateBenchmark: each OOD mechanism shows its documented effect", () => {
  const b = defaultBench();
  const set = (name: string) => b.ood.find((o) => o.name === name)!.features;
  const idNorm = mean(rowNorms(b.val.features));
  // novel-groups: the feature-norm gap of unknown inputs, and it comes from novelGroupAmplitude:
  // at amplitude 1 the norms match ID's.
  assert.ok(mean(rowNorms(set("novel-groups"))) < 0.93 * idNorm, "far OOD has a lower norm");
  const small = { seed: 7, classes: table, trainPerClass: 1, valPerClass: 2, oodCount: 1000 };
  const flat = generateBenchmark({ ...small, strengths: { novelGroupAmplitude: 1 } });
  const ratio = mean(rowNorms(flat.ood[0].features)) / mean(rowNorms(flat.val.features));
  assert.ok(Math.abs(ratio - 1) < 0.03, `norm ratio at amplitude 1: ${ratio}`);
  // diffuse-texture: exactly textureChannels channels far above their ID range, no other shifted.
  const shifts = channelShifts(set("diffuse-texture"), b.val.features).sort((x, y) => y - x);
  const T = DEFAULT_STRENGTHS.textureChannels;
  assert.ok(shifts[T - 1] > 1.5, `${T} texture channels shifted by > 1.5 sd: ${shifts[T - 1]}`);
  assert.ok(Math.abs(shifts[T]) < 0.5 && shifts[b.dim - 1] > -0.5, "no other channel moves");
  // novel-classes: drawn exactly like known classes, so no channel's mean moves.
  const near = channelShifts(set("novel-classes"), b.val.features);
  assert.ok(near.every((z) => Math.abs(z) < 0.5), "near OOD: per-channel means are ID-like");
});

Deno.test("generateBenchmark: rejects bad options with clear errors", () => {
  const groups = [[0, 1], [2]];
  assert.throws(() => generateBenchmark({ seed: -1, groups }), UsageError);
  assert.throws(() => generateBenchmark({ seed: 0 }), /label space/);
  assert.throws(() => generateBenchmark({ seed: 0, groups, dim: 0 }), /dim/);
  assert.throws(() => generateBenchmark({ seed: 0, groups, trainPerClass: 1.5 }), UsageError);
  assert.throws(() => generateBenchmark({ seed: 0, groups: [[0, 1, 2]] }), /at least 2 groups/);
  assert.throws(() => generateBenchmark({ seed: 0, groups: [[0, 1], [1]] }), DataError);
  assert.throws(
    () => generateBenchmark({ seed: 0, groups, strengths: { novelGroupOverlap: 1 } }),
    /novelGroupOverlap/,
  );
  assert.throws(
    () => generateBenchmark({ seed: 0, groups, strengths: { novelGroupAmplitude: 0 } }),
    /novelGroupAmplitude must be > 0/,
  );
  assert.throws(
    () => generateBenchmark({ seed: 0, groups, strengths: { sampleNoise: NaN } }),
    /sampleNoise/,
  );
  assert.equal(DEFAULT_STRENGTHS.sampleNoise, 1.6);
});

Deno.test("generateBenchmark: valClasses draws the ID test from those classes only", () => {
  const groups = [[0, 2, 4], [1, 3], [5]];
  const base = { seed: 3, groups, dim: 8, trainPerClass: 2, valPerClass: 3, oodCount: 4 };
  const sub = generateBenchmark({ ...base, valClasses: [4, 1] });
  // Ascending class-major order, valPerClass rows each.
  assert.deepEqual(Array.from(sub.val.labels), [1, 1, 1, 4, 4, 4]);
  assert.equal(sub.val.features.rows, 6);
  const full = generateBenchmark(base);
  // Every class listed is the default, byte for byte; the other splits never depend on it.
  const all = generateBenchmark({ ...base, valClasses: [5, 4, 3, 2, 1, 0] });
  assert.deepEqual(all.val.features.data, full.val.features.data);
  assert.deepEqual(sub.train.features.data, full.train.features.data);
  assert.deepEqual(sub.ood[0].features.data, full.ood[0].features.data);
  assert.throws(() => generateBenchmark({ ...base, valClasses: [1, 1] }), UsageError);
  assert.throws(() => generateBenchmark({ ...base, valClasses: [6] }), UsageError);
  assert.throws(() => generateBenchmark({ ...base, valClasses: [] }), UsageError);
});
