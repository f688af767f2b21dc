/**
 * Scoring benchmark at ImageNet scale on seeded synthetic post-ReLU features: ID 50,000 + OOD
 * 10,000 x 3 + 5,640 rows at D = 2048, C = 1000 (the paper's evaluation sizes), and a Mahalanobis
 * fit on `--train` rows (default 100,000) extrapolated per row to ImageNet's 1,281,167
 * (`--full` streams the real count from a temporary .npy file instead).
 *
 * Prints, per kernel, milliseconds and GFLOP/s, and, when Debian's /usr/bin/python3 has NumPy,
 * the same computation in NumPy (bench/peers/scoring_numpy.py, OPENBLAS_CORETYPE=SkylakeX) with
 * the ratio numpy_ms / our_ms (> 1: we are faster). Also prints the worst relative error of the
 * float32 Mahalanobis kernel against the float64 reference on a subset of rows.
 *
 * Usage: deno run -A bench/scoring.ts [--train N] [--full] [--threads T] [--chunk R] [--seed S]
 *        [--scale F] [--no-peer]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { groupLayout } from "../lib/groups.ts";
import { encodeNpyHeader, openNpy, writeNpy } from "../lib/io/npy.ts";
import { type Matrix, matrix, rowSlice } from "../lib/matrix.ts";
import { evaluate } from "../lib/metrics/evaluate.ts";
import { createRng, type Rng } from "../lib/random.ts";
import { energy } from "../lib/scores/energy.ts";
import { klTemplates } from "../lib/scores/kl_matching.ts";
import { mahalanobis } from "../lib/scores/mahalanobis.ts";
import { mos } from "../lib/scores/mos.ts";
import { msp } from "../lib/scores/msp.ts";
import { odin } from "../lib/scores/odin.ts";
import { softmaxRows } from "../lib/softmax.ts";
import { classStats, withinClassScatter } from "../lib/ort/gram.ts";
import { klMatchingFast, klMatchingFromLogits } from "../lib/ort/kl_kernel.ts";
import { linearLogits, matrixSource, type RowSource } from "../lib/ort/linear.ts";
import { invertCovariance, mahalanobisFast } from "../lib/ort/mahalanobis_kernel.ts";

const IMAGENET_TRAIN = 1_281_167;
const OOD_SIZES = [10_000, 10_000, 10_000, 5_640];

const { values: args } = parseArgs({
  options: {
    train: { type: "string", default: "100000" },
    full: { type: "boolean", default: false },
    threads: { type: "string", default: String(navigator.hardwareConcurrency ?? 2) },
    chunk: { type: "string", default: "8192" },
    seed: { type: "string", default: "0" },
    scale: { type: "string", default: "1" },
    "no-peer": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
  strict: true,
});
if (args.help) {
  console.log(
    "deno run -A bench/scoring.ts [--train N] [--full] [--threads T] [--chunk R] [--seed S] " +
      "[--scale F (shrinks every row count, for a quick look)] [--no-peer]",
  );
  Deno.exit(0);
}
function posInt(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`--${name} must be a positive integer, got "${v}"`);
    Deno.exit(2);
  }
  return n;
}
const threads = posInt("threads", args.threads!);
const chunkRows = posInt("chunk", args.chunk!);
const seed = Number(args.seed);
const scale = Number(args.scale);
if (!(scale > 0 && scale <= 1)) {
  console.error(`--scale must be in (0, 1], got "${args.scale}"`);
  Deno.exit(2);
}
const D = 2048;
const C = 1000;
const nId = Math.round(50_000 * scale);
const oodSizes = OOD_SIZES.map((n) => Math.max(1, Math.round(n * scale)));
const nEval = nId + oodSizes.reduce((a, b) => a + b, 0);
const nTrain = args.full ? IMAGENET_TRAIN : Math.round(posInt("train", args.train!) * scale);
const opts = { threads, chunkRows };

// ------------------------------------------------------------------------------------------
// Synthetic data: x = relu(mu_y + s * (u1 + u2 - 1)), class means |N(0, 0.5)| - 0.15 so about a
// quarter of the entries are zero and row norms land around 15-25, like BiT penultimate features.

function classMeans(rng: Rng): Float32Array {
  const mu = new Float32Array(C * D);
  for (let i = 0; i < mu.length; i++) mu[i] = Math.abs(rng.normal()) * 0.5 - 0.15;
  return mu;
}

function fillRows(
  rng: Rng,
  mu: Float32Array,
  out: Float32Array,
  labels: Int32Array,
  start: number,
  ood: boolean,
): void {
  const n = out.length / D;
  for (let i = 0; i < n; i++) {
    const y = ood ? rng.int(C) : labels[start + i];
    const base = y * D;
    // OOD rows: a mixture of two classes' means, broader noise.
    const y2 = ood ? rng.int(C) * D : base;
    const s = ood ? 0.6 : 0.4;
    for (let j = 0; j < D; j++) {
      const m = ood ? 0.5 * (mu[base + j] + mu[y2 + j]) : mu[base + j];
      const v = m + s * (rng.float() + rng.float() - 1);
      out[i * D + j] = v > 0 ? v : 0;
    }
  }
}

function labelsFor(rng: Rng, n: number): Int32Array {
  const l = new Int32Array(n);
  for (let i = 0; i < n; i++) l[i] = i < C ? i : rng.int(C);
  return l;
}

function randomHead(rng: Rng, o: number): { weight: Matrix; bias: Float32Array } {
  const weight = matrix(o, D);
  for (let i = 0; i < weight.data.length; i++) weight.data[i] = rng.normal() * 0.05;
  const bias = new Float32Array(o);
  for (let i = 0; i < o; i++) bias[i] = rng.normal() * 0.1;
  return { weight, bias };
}

// ------------------------------------------------------------------------------------------

const rows: { name: string; ms: number; gflop: number; peer?: number; note?: string }[] = [];
async function time<T>(
  name: string,
  gflop: number,
  fn: () => T | Promise<T>,
  note?: string,
): Promise<T> {
  const t = performance.now();
  const out = await fn();
  rows.push({ name, ms: performance.now() - t, gflop, note });
  return out;
}

console.log(
  `scoring bench: eval ${nEval} rows (ID ${nId} + OOD ${oodSizes.join(" + ")}), D ${D}, C ${C}, ` +
    `train ${nTrain}${args.full ? " (full, streamed from disk)" : ""}, threads ${threads}, ` +
    `chunk ${chunkRows}`,
);
const genStart = performance.now();
const rng = createRng(seed);
const mu = classMeans(rng);
const idLabels = labelsFor(rng, nId);
const evalX = matrix(nEval, D);
fillRows(rng, mu, evalX.data.subarray(0, nId * D), idLabels, 0, false);
fillRows(rng, mu, evalX.data.subarray(nId * D), idLabels, 0, true);
const flat = randomHead(rng, C);
// Group head for MOS: the paper's 8 taxonomy group sizes over classes 0..999 in order.
const groupSizes = [398, 521, 9, 7, 52, 8, 3, 2];
const groups: number[][] = [];
{
  let c0 = 0;
  for (const s of groupSizes) {
    groups.push(Array.from({ length: s }, (_, i) => c0 + i));
    c0 += s;
  }
}
const layout = groupLayout(groups, C);
const grouped = randomHead(rng, layout.numOutputs);
const trainLabels = labelsFor(rng, nTrain);
let trainSource: RowSource;
let tempDir: string | undefined;
let trainMatrix: Matrix | undefined;
if (args.full) {
  tempDir = await Deno.makeTempDir({ prefix: "mos_bench_" });
  const path = `${tempDir}/train.npy`;
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  await f.write(encodeNpyHeader("<f4", [nTrain, D]));
  const buf = new Float32Array(8192 * D);
  for (let s = 0; s < nTrain; s += 8192) {
    const n = Math.min(8192, nTrain - s);
    const b = buf.subarray(0, n * D);
    fillRows(rng, mu, b, trainLabels, s, false);
    const bytes = new Uint8Array(b.buffer, 0, b.byteLength);
    for (let off = 0; off < bytes.length;) off += await f.write(bytes.subarray(off));
  }
  f.close();
  trainSource = await openNpy(path);
} else {
  trainMatrix = matrix(nTrain, D);
  fillRows(rng, mu, trainMatrix.data, trainLabels, 0, false);
  trainSource = matrixSource(trainMatrix);
}
console.log(`data generated in ${((performance.now() - genStart) / 1000).toFixed(1)} s`);

// ------------------------------------------------------------------------------------------
// Our kernels. The "six scores + metrics" wall time covers everything after the fit.

const wallStart = performance.now();
const logits = await time(
  "linear logits (flat head)",
  (2 * nEval * D * C) / 1e9,
  () => linearLogits(evalX, flat.weight, flat.bias, opts),
);
const groupLogits = await time(
  "linear logits (group head)",
  (2 * nEval * D * layout.numOutputs) / 1e9,
  () => linearLogits(evalX, grouped.weight, grouped.bias, opts),
);
const sMsp = await time("msp (TS)", 0, () => msp(logits));
const sOdin = await time("odin (TS)", 0, () => odin(logits));
const sEnergy = await time("energy (TS)", 0, () => energy(logits));
const sMos = await time("mos (TS)", 0, () => mos(layout, groupLogits));
const idLogits = rowSlice(logits, 0, nId);
const idProbs = await time("softmax of ID logits (TS)", 0, () => softmaxRows(idLogits));
const templates = await time("kl templates (TS)", 0, () => klTemplates(idProbs, idLabels, C));
const sKl = await time(
  "kl matching from logits (fused)",
  (2 * nEval * C * C) / 1e9,
  () => klMatchingFromLogits(logits, templates, opts),
);
const wallBeforeMaha = performance.now() - wallStart;

// Fit (reported separately: it runs once per backbone, not per evaluation).
const t0 = performance.now();
const stats = await time(
  "fit: class means (TS)",
  0,
  () => classStats(trainSource, trainLabels, C, opts),
);
const scatter = await time(
  "fit: within-class scatter",
  (2 * nTrain * D * D) / 1e9,
  () => withinClassScatter(trainSource, trainLabels, stats, opts),
  "GFLOP/s counts the full D x D product",
);
for (let i = 0; i < scatter.length; i++) scatter[i] /= nTrain;
const inv = await time(
  "fit: inverse (float64 Cholesky)",
  D ** 3 / 1e9,
  () => invertCovariance(scatter, D),
);
const fitMs = performance.now() - t0;
const model = {
  means: { data: Float32Array.from(stats.means), rows: C, cols: D },
  precision: { data: Float32Array.from(inv.inverse), rows: D, cols: D },
};

const wallMaha = performance.now();
const sMaha = await time(
  "mahalanobis score",
  (2 * nEval * D * D + 2 * nEval * D * C) / 1e9,
  () => mahalanobisFast(model, evalX, opts),
);
const methods: Record<string, Float32Array> = {
  msp: sMsp,
  odin: sOdin,
  energy: sEnergy,
  mos: sMos,
  kl: sKl,
  mahalanobis: sMaha,
};
await time("metrics (6 methods x 4 OOD sets)", 0, () => {
  for (const s of Object.values(methods)) {
    let off = nId;
    for (const n of oodSizes) {
      evaluate(s.subarray(0, nId), s.subarray(off, off + n));
      off += n;
    }
  }
});
const wallMs = wallBeforeMaha + (performance.now() - wallMaha);

// Unfused KL and its agreement, outside the wall total.
const allProbs = softmaxRows(logits);
const sKl2 = await time(
  "kl matching from probs",
  (2 * nEval * C * C) / 1e9,
  () => klMatchingFast(allProbs, templates, opts),
);
let klDiff = 0;
for (let i = 0; i < nEval; i++) klDiff = Math.max(klDiff, Math.abs(sKl2[i] - sKl[i]));

// Mahalanobis float32 kernel vs the float64 reference on a subset.
const sub = Math.min(64, nEval);
const refIdx = [...Array(sub).keys()].map((i) => Math.floor((i * nEval) / sub));
const subX = matrix(sub, D);
refIdx.forEach((r, i) => subX.data.set(evalX.data.subarray(r * D, (r + 1) * D), i * D));
const ref = mahalanobis(model, subX);
let mahaRel = 0;
refIdx.forEach((r, i) => {
  mahaRel = Math.max(mahaRel, Math.abs(sMaha[r] - ref[i]) / Math.max(Math.abs(ref[i]), 1));
});

// ------------------------------------------------------------------------------------------
// NumPy peer.

const py = "/usr/bin/python3";
let peer: Record<string, number> & { checksum?: Record<string, number> } | undefined;
let peerNote = "";
if (args["no-peer"]) {
  peerNote = "numpy peer skipped (--no-peer)";
} else {
  let hasNumpy = false;
  try {
    const r = await new Deno.Command(py, { args: ["-c", "import numpy"], stderr: "null" }).output();
    hasNumpy = r.success;
  } catch {
    hasNumpy = false;
  }
  if (!hasNumpy) {
    peerNote = `numpy peer not run: ${py} is missing or has no numpy (apt install python3-numpy)`;
  } else {
    const dir = tempDir ?? await Deno.makeTempDir({ prefix: "mos_bench_" });
    tempDir = dir;
    const f4 = (name: string, m: Matrix) =>
      writeNpy(`${dir}/${name}.npy`, { dtype: "<f4", shape: [m.rows, m.cols], data: m.data });
    await f4("features", evalX);
    await f4("weight", flat.weight);
    await writeNpy(`${dir}/bias.npy`, { dtype: "<f4", shape: [C], data: flat.bias });
    await f4("templates", templates);
    await f4("means", model.means);
    await f4("precision", model.precision);
    if (trainMatrix) await f4("train", trainMatrix);
    await writeNpy(`${dir}/train_labels.npy`, { dtype: "<i4", shape: [nTrain], data: trainLabels });
    const script = new URL("./peers/scoring_numpy.py", import.meta.url).pathname;
    const r = await new Deno.Command(py, {
      args: [script, dir],
      env: { OPENBLAS_CORETYPE: "SkylakeX", OMP_NUM_THREADS: String(threads) },
    }).output();
    if (r.success) {
      peer = JSON.parse(new TextDecoder().decode(r.stdout));
    } else {
      peerNote = `numpy peer failed: ${
        new TextDecoder().decode(r.stderr).trim().split("\n").pop()
      }`;
    }
  }
}
if (tempDir) await Deno.remove(tempDir, { recursive: true });
const peerKey: Record<string, string> = {
  "linear logits (flat head)": "linear",
  "kl matching from probs": "kl",
  "mahalanobis score": "mahalanobis",
  "fit: class means (TS)": "class_means",
  "fit: within-class scatter": "scatter",
  "fit: inverse (float64 Cholesky)": "inverse",
};

// ------------------------------------------------------------------------------------------
// Report.

const pad = (s: string, n: number) => s.padEnd(n);
const num = (v: number, d = 0) => v.toFixed(d).padStart(9);
console.log();
console.log(
  `${pad("kernel", 36)}${"ms".padStart(9)}${"GFLOP/s".padStart(9)}${"numpy ms".padStart(10)}${
    "ratio".padStart(8)
  }`,
);
for (const r of rows) {
  const key = peerKey[r.name];
  const p = peer && key ? peer[key] : undefined;
  console.log(
    pad(r.name, 36) + num(r.ms) + (r.gflop > 0 ? num(r.gflop / (r.ms / 1000)) : "        -") +
      (p !== undefined ? num(p).padStart(10) + (p / r.ms).toFixed(2).padStart(8) : "") +
      (r.note ? `  (${r.note})` : ""),
  );
}
if (peerNote) console.log(peerNote);
const perRow = (name: string) => rows.find((r) => r.name === name)!.ms / nTrain;
const extrap = (perRow("fit: class means (TS)") + perRow("fit: within-class scatter")) *
    IMAGENET_TRAIN + rows.find((r) => r.name === "fit: inverse (float64 Cholesky)")!.ms;
console.log();
console.log(`six scores + metrics (eval set, excluding the fit): ${(wallMs / 1000).toFixed(2)} s`);
console.log(
  `mahalanobis fit on ${nTrain} rows: ${(fitMs / 1000).toFixed(2)} s (inverse: ${inv.method})`,
);
if (!args.full) {
  console.log(`  extrapolated to ${IMAGENET_TRAIN} rows: ${(extrap / 1000).toFixed(1)} s`);
}
if (peer?.checksum) {
  const first4 = (a: ArrayLike<number>) => Array.from(a).slice(0, 4).reduce((x, y) => x + y, 0);
  const ours: Record<string, number> = {
    linear: 0,
    kl: first4(sKl2),
    mahalanobis: first4(sMaha),
  };
  ours.linear = Array.from(logits.data.subarray(0, 4 * C)).reduce((x, y) => x + y, 0);
  console.log(
    "numpy peer agreement (sum of the first 4 rows' outputs): " +
      Object.keys(ours).map((k) =>
        `${k} ${ours[k].toPrecision(7)} vs ${peer!.checksum![k].toPrecision(7)}`
      ).join("; "),
  );
}
console.log(`kl fused vs from-probs: worst |diff| ${klDiff.toExponential(2)}`);
console.log(
  `mahalanobis float32 kernel vs float64 reference (${sub} rows): worst rel error ` +
    mahaRel.toExponential(2),
);
