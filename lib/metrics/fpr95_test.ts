import assert from "node:assert/strict";
import { DataError, UsageError } from "../errors.ts";
import { createRng } from "../random.ts";
import { assertClose } from "../../tests/assert_close.ts";
import { fpr95 } from "./fpr95.ts";

/** Samples sorted by descending score; ties keep any order (only tie-group ends are used). */
function sortedSamples(id: Float32Array, ood: Float32Array): { s: number[]; y: number[] } {
  const pairs: [number, number][] = [];
  for (const v of id) pairs.push([v, 1]);
  for (const v of ood) pairs.push([v, 0]);
  pairs.sort((a, b) => b[0] - a[0]);
  return { s: pairs.map((p) => p[0]), y: pairs.map((p) => p[1]) };
}

/**
 * Literal, step-by-step reading of Outlier-Exposure's fpr_and_fdr_at_recall on per-sample arrays
 * (written from its description, array by array, not from lib/metrics/fpr95.ts).
 */
function naivePaper(id: Float32Array, ood: Float32Array, level = 0.95): number {
  const { s, y } = sortedSamples(id, ood);
  const n = s.length;
  const thresholdIdxs: number[] = [];
  for (let i = 0; i < n - 1; i++) if (s[i + 1] - s[i] !== 0) thresholdIdxs.push(i);
  thresholdIdxs.push(n - 1);
  const cum: number[] = [];
  let c = 0;
  for (let i = 0; i < n; i++) {
    c += y[i];
    cum.push(c);
  }
  const tps = thresholdIdxs.map((i) => cum[i]);
  const fps = thresholdIdxs.map((i, k) => 1 + i - tps[k]);
  const last = tps[tps.length - 1];
  const recall = tps.map((t) => t / last);
  let lastInd = 0;
  while (lastInd < tps.length && tps[lastInd] < last) lastInd++;
  const rRev: number[] = [];
  const fRev: number[] = [];
  for (let k = lastInd; k >= 0; k--) {
    rRev.push(recall[k]);
    fRev.push(fps[k]);
  }
  rRev.push(1);
  fRev.push(0);
  const dist = rRev.map((r) => Math.abs(r - level));
  let cutoff = 0;
  for (let k = 1; k < dist.length; k++) if (dist[k] < dist[cutoff]) cutoff = k;
  const negatives = y.filter((v) => v === 0).length;
  return fRev[cutoff] / negatives;
}

/**
 * OpenOOD v1.5: roc_curve(ood_indicator, -conf) with drop_intermediate, then fpr at the first
 * tpr >= 0.95; written on per-sample arrays with explicit second differences.
 */
function naiveOpenOod(id: Float32Array, ood: Float32Array, level = 0.95): number {
  const pairs: [number, number][] = [];
  for (const v of id) pairs.push([-v, 0]);
  for (const v of ood) pairs.push([-v, 1]);
  pairs.sort((a, b) => b[0] - a[0]);
  const n = pairs.length;
  let tps: number[] = [];
  let fps: number[] = [];
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < n; i++) {
    if (pairs[i][1] === 1) tp++;
    else fp++;
    if (i === n - 1 || pairs[i + 1][0] !== pairs[i][0]) {
      tps.push(tp);
      fps.push(fp);
    }
  }
  if (tps.length > 2) {
    const keep: number[] = [0];
    for (let k = 1; k < tps.length - 1; k++) {
      const d2f = fps[k + 1] - fps[k] - (fps[k] - fps[k - 1]);
      const d2t = tps[k + 1] - tps[k] - (tps[k] - tps[k - 1]);
      if (d2f !== 0 || d2t !== 0) keep.push(k);
    }
    keep.push(tps.length - 1);
    tps = keep.map((k) => tps[k]);
    fps = keep.map((k) => fps[k]);
  }
  tps.unshift(0);
  fps.unshift(0);
  const tpr = tps.map((t) => t / tps[tps.length - 1]);
  const fpr = fps.map((f) => f / fps[fps.length - 1]);
  const first = tpr.findIndex((t) => t >= level);
  return fpr[first];
}

function randomScores(seed: number, n: number, shift: number, quant: number): Float32Array {
  const rng = createRng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = rng.normal() + shift;
    out[i] = quant > 0 ? Math.round(v * quant) / quant : v;
  }
  return out;
}

Deno.test("fpr95 paper rule equals a step-by-step OE transcription on seeded sets with ties", () => {
  let worst = 0;
  let cases = 0;
  for (let seed = 0; seed < 60; seed++) {
    const rng = createRng(1000 + seed);
    const nId = 1 + rng.int(300);
    const nOod = 1 + rng.int(300);
    const quant = [0, 1, 2, 4, 20][seed % 5];
    const id = randomScores(seed * 2, nId, rng.float() * 2, quant);
    const ood = randomScores(seed * 2 + 1, nOod, 0, quant);
    const got = fpr95(id, ood, "paper");
    const want = naivePaper(id, ood);
    worst = Math.max(worst, assertClose(got, want, { atol: 0, rtol: 0, reason: "exact counts" }));
    cases++;
  }
  assert.equal(worst, 0, `worst abs error ${worst} over ${cases} cases`);
});

Deno.test("fpr95 openood rule equals a roc_curve(drop_intermediate) transcription with ties", () => {
  let worst = 0;
  for (let seed = 0; seed < 60; seed++) {
    const rng = createRng(2000 + seed);
    const nId = 1 + rng.int(300);
    const nOod = 1 + rng.int(300);
    const quant = [0, 1, 2, 4, 20][seed % 5];
    const id = randomScores(seed * 2 + 7, nId, rng.float() * 2, quant);
    const ood = randomScores(seed * 2 + 8, nOod, 0, quant);
    const got = fpr95(id, ood, "openood");
    const want = naiveOpenOod(id, ood);
    worst = Math.max(worst, assertClose(got, want, { atol: 0, rtol: 0, reason: "exact counts" }));
  }
  assert.equal(worst, 0, `worst abs error ${worst}`);
});

Deno.test("fpr95 all-equal scores: paper 1.0 (only threshold accepts everything), openood 1.0", () => {
  const id = new Float32Array([0.5, 0.5, 0.5]);
  const ood = new Float32Array([0.5, 0.5]);
  assert.equal(fpr95(id, ood, "paper"), 1);
  assert.equal(fpr95(id, ood, "openood"), 1);
});

Deno.test("fpr95 with one ID and one OOD sample", () => {
  assert.equal(fpr95(new Float32Array([1]), new Float32Array([0])), 0);
  // Reversed: the only group reaching recall 1 also accepts the OOD sample.
  assert.equal(fpr95(new Float32Array([0]), new Float32Array([1])), 1);
  assert.equal(fpr95(new Float32Array([1]), new Float32Array([0]), "openood"), 0);
  assert.equal(fpr95(new Float32Array([0]), new Float32Array([1]), "openood"), 1);
});

Deno.test("fpr95 perfect and reversed separation", () => {
  const id = Float32Array.from({ length: 20 }, (_, i) => i + 1);
  const ood = Float32Array.from({ length: 10 }, (_, i) => -(i + 1));
  assert.equal(fpr95(id, ood), 0);
  assert.equal(fpr95(id, ood, "openood"), 0);
  const idRev = Float32Array.from(id, (v) => -v);
  const oodRev = Float32Array.from(ood, (v) => -v);
  assert.equal(fpr95(idRev, oodRev), 1);
  assert.equal(fpr95(idRev, oodRev, "openood"), 1);
});

Deno.test("fpr95 paper: 10 ID scores, no threshold at 95%, plateau resolved to the lowest threshold", () => {
  // Descending: 10(id) 9.5(ood) 9 8 7 6 5 4 3 2 (id) 1.5(ood) 1.2(ood) 1(id + ood) 0.5(ood).
  // Groups with 9 ID accepted (recall 0.9): score 2 (1 OOD), 1.5 (2 OOD), 1.2 (3 OOD); score 1
  // has recall 1.0 and 4 OOD. In float64 |0.9 - 0.95| = 0.04999999999999993 is below
  // |1.0 - 0.95| = 0.050000000000000044, so recall 0.9 is "closest"; scanning the reversed curve,
  // the first group with recall 0.9 is the LOWEST threshold (1.2), which accepts 3 of 5 OOD.
  const id = new Float32Array([10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
  const ood = new Float32Array([9.5, 1.5, 1.2, 1.0, 0.5]);
  assert.ok(Math.abs(0.9 - 0.95) < Math.abs(1.0 - 0.95));
  assert.equal(fpr95(id, ood, "paper"), 3 / 5);
  // OpenOOD: OOD positive; all 5 OOD flagged first at threshold 9.5 on the ascending sweep, where
  // 9 of 10 ID samples (scores <= 9.5) are flagged too.
  assert.equal(fpr95(id, ood, "openood"), 9 / 10);
});

Deno.test("fpr95 recall exactly 0.95 picks that group (paper) and the plateau's lowest threshold", () => {
  // 20 ID at 20..1; OOD at 1.5 and 1.4 sit between the 19th and 20th ID sample. Recall 19/20 is
  // exactly 0.95 at thresholds 2, 1.5 and 1.4; the reversed argmin takes 1.4: both OOD accepted.
  const id = Float32Array.from({ length: 20 }, (_, i) => 20 - i);
  const ood = new Float32Array([1.5, 1.4, 0, -1]);
  assert.equal(fpr95(id, ood, "paper"), 2 / 4);
});

Deno.test("fpr95 openood: drop_intermediate changes the answer on collinear tied points", () => {
  // One ID and one OOD sample tied at each of 20 values: every ROC step is (+1, +1), so
  // roc_curve keeps only the end points and the first tpr >= 0.95 is tpr = 1, fpr = 1 (not 0.95).
  const v = Float32Array.from({ length: 20 }, (_, i) => i + 1);
  assert.equal(fpr95(v, v.slice(), "openood"), 1);
  // The paper rule has recall exactly 0.95 at the 19th group: 19 of 20 OOD accepted.
  assert.equal(fpr95(v, v.slice(), "paper"), 19 / 20);
});

Deno.test("fpr95 rejects empty, NaN and infinite scores, and unknown conventions", () => {
  const ok = new Float32Array([1, 2]);
  assert.throws(() => fpr95(new Float32Array(0), ok), DataError);
  assert.throws(() => fpr95(ok, new Float32Array(0)), DataError);
  assert.throws(() => fpr95(new Float32Array([1, NaN]), ok), DataError);
  assert.throws(() => fpr95(ok, new Float32Array([Infinity])), DataError);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => fpr95(ok, ok, "oe" as any), UsageError);
});

async function hasNumpy(): Promise<boolean> {
  try {
    const out = await new Deno.Command("/usr/bin/python3", {
      args: ["-c", "import numpy"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "fpr95 paper rule matches a numpy run of the OE steps (argsort/diff/searchsorted/argmin)",
  ignore: !(await hasNumpy()),
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const ids: Float32Array[] = [];
      const oods: Float32Array[] = [];
      for (let seed = 0; seed < 20; seed++) {
        const quant = [0, 1, 2, 4, 10][seed % 5];
        ids.push(randomScores(500 + seed, 50 + seed * 7, 1, quant));
        oods.push(randomScores(600 + seed, 40 + seed * 5, 0, quant));
      }
      await Deno.writeTextFile(
        `${dir}/in.json`,
        JSON.stringify({ id: ids.map((a) => [...a]), ood: oods.map((a) => [...a]) }),
      );
      // The numpy calls below are the ones the OE rule is defined by; float32 input as in MOS.
      const script = `
import json, sys
import numpy as np
d = json.load(open(sys.argv[1]))
res = []
for a, b in zip(d["id"], d["ood"]):
    score = np.concatenate([np.array(a, np.float32), np.array(b, np.float32)])
    pos = np.concatenate([np.ones(len(a), bool), np.zeros(len(b), bool)])
    order = np.argsort(score, kind="mergesort")[::-1]
    score, pos = score[order], pos[order]
    idx = np.r_[np.where(np.diff(score))[0], pos.size - 1]
    tps = np.cumsum(pos, dtype=np.float64)[idx]
    fps = 1 + idx - tps
    recall = tps / tps[-1]
    last = tps.searchsorted(tps[-1])
    rec = np.r_[recall[last::-1], 1]
    fp = np.r_[fps[last::-1], 0]
    res.append(float(fp[np.argmin(np.abs(rec - 0.95))] / np.sum(~pos)))
print(json.dumps(res))
`;
      await Deno.writeTextFile(`${dir}/oe.py`, script);
      const out = await new Deno.Command("/usr/bin/python3", {
        args: [`${dir}/oe.py`, `${dir}/in.json`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
      const want: number[] = JSON.parse(new TextDecoder().decode(out.stdout));
      const got = ids.map((a, i) => fpr95(a, oods[i], "paper"));
      const worst = assertClose(got, want, { atol: 0, rtol: 0, reason: "exact counts" });
      assert.equal(worst, 0, `worst abs error vs numpy ${worst}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
