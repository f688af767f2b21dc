/**
 * Scoring benchmark at ImageNet scale on seeded synthetic post-ReLU features: ID 50,000 + OOD
 * 10,000 x 3 + 5,640 rows at D = 2048, C = 1000 (the paper's evaluation sizes), and a Mahalanobis
 * fit on `--train` rows (default 100,000) extrapolated per row to ImageNet's 1,281,167
 * (`--full` streams the real count from a temporary .npy file instead).
 *
 * Prints, per kernel, milliseconds and GFLOP/s, and, when Debian's /usr/bin/python3 has NumPy,
 * the same computation in NumPy (bench/peers/scoring_numpy.py, OpenBLAS core type from the CPU
 * flags, bench/peer_env.ts) with
 * the ratio numpy_ms / our_ms (> 1: we are faster). Also prints the worst relative error of the
 * float32 Mahalanobis kernel against the float64 reference on a subset of rows.
 *
 * Usage: deno run -A bench/scoring.ts [--train N] [--full] [--threads T] [--chunk R] [--seed S]
 *        [--scale F] [--no-peer]
 *
 * {@linkcode runScoringBench} runs the same measurement for bench/mod.ts (`deno task bench`) and
 * returns, per paper score, our time and the peer's for "features -> score" (the shared logits
 * matmul counted in each score that needs it).
 *
 * @module
 */
import { parseBenchArgs } from "./bench_args.ts";
import { PYTHON, pythonHas, runPeer } from "./peer_env.ts";
import { groupLayout } from "../lib/groups.ts";
import { encodeNpyHeader, openNpy, readNpy, writeNpy } from "../lib/io/npy.ts";
import { type Matrix, matrix, rowSlice } from "../lib/matrix.ts";
import { DataError } from "../lib/errors.ts";
import { openFeatureStream } from "../lib/io/feature_stream.ts";
import { evaluate } from "../lib/metrics/evaluate.ts";
import { createRng, type Rng } from "../lib/random.ts";
import { klTemplates } from "../lib/scores/kl_matching.ts";
import { mahalanobis } from "../lib/scores/mahalanobis.ts";
import { energy } from "../lib/scores/energy.ts";
import { mos } from "../lib/scores/mos.ts";
import { msp } from "../lib/scores/msp.ts";
import { odin } from "../lib/scores/odin.ts";
import { mosFast, softmaxScoreFast } from "../lib/ort/logit_scores.ts";
import { softmaxRows } from "../lib/softmax.ts";
import { classStats, withinClassScatter } from "../lib/ort/gram.ts";
import { klMatchingFast, klMatchingFromLogits } from "../lib/ort/kl_kernel.ts";
import {
  type ChunkOptions,
  linearLogits,
  matrixSource,
  type RowSource,
} from "../lib/ort/linear.ts";
import { invertCovariance, mahalanobisFast } from "../lib/ort/mahalanobis_kernel.ts";

const IMAGENET_TRAIN = 1_281_167;
const OOD_SIZES = [10_000, 10_000, 10_000, 5_640];

const D = 2048;
const C = 1000;

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

/** Options of {@linkcode runScoringBench}. */
export interface ScoringBenchOptions {
  /** Training rows of the Mahalanobis fit (ignored with `full` or `fitSet`). */
  train: number;
  /** Stream the fit from a temporary 1,281,167-row float32 .npy (10.5 GB of disk). */
  full: boolean;
  /** Stream the fit from this feature set's features.npy and labels.npy instead. */
  fitSet?: string;
  threads: number;
  /** Rows per onnxruntime run for every kernel; default: each kernel's own default. */
  chunkRows?: number;
  seed: number;
  /** Shrinks every row count (for a quick look); 1 = the paper's sizes. */
  scale: number;
  peer: boolean;
  log?: (message: string) => void;
}

/** One timed kernel of {@linkcode runScoringBench}. */
export interface KernelRow {
  name: string;
  ms: number;
  gflop: number;
  note?: string;
}

/** Result of {@linkcode runScoringBench}; all times in milliseconds. */
export interface ScoringBenchResult {
  nEval: number;
  nId: number;
  oodSizes: number[];
  nTrain: number;
  rows: KernelRow[];
  /** NumPy peer's kernel times by key, when it ran. */
  peer?: Record<string, number>;
  peerNote: string;
  /** Per paper score, features -> score: ours and the peer's (undefined without the peer). */
  scores: { name: string; ms: number; peerMs?: number }[];
  /** Six scores + metrics on the evaluation sets, the fit excluded. */
  wallMs: number;
  /**
   * Reading the eval features back from a float32 .npy (page cache warm), excluded from `wallMs`
   * as the issue asks; `peerReadMs` is numpy's `np.load` of the same file.
   */
  readMs: number;
  peerReadMs?: number;
  /** The peer's time for the same six scores (metrics excluded). */
  peerWallMs?: number;
  fitMs: number;
  peerFitMs?: number;
  /** Fit time per row x 1,281,167 + the inverse (equal to fitMs when nTrain is that already). */
  fitFullMs: number;
  peerFitFullMs?: number;
  fitStreamed: boolean;
  inverseMethod: string;
  klDiff: number;
  mahaRel: number;
  /** Worst relative error of the ORT logit scores vs the float64 references, first 8192 rows. */
  logitRel: Record<"msp" | "odin" | "energy" | "mos", number>;
  agreement?: string;
}

/** The evaluation data, heads and training source of one run. */
interface BenchData {
  nId: number;
  oodSizes: number[];
  nEval: number;
  nTrain: number;
  evalX: Matrix;
  idLabels: Int32Array;
  flat: { weight: Matrix; bias: Float32Array };
  grouped: { weight: Matrix; bias: Float32Array };
  groupSizes: number[];
  layout: ReturnType<typeof groupLayout>;
  train: TrainData;
}

/** Where the Mahalanobis fit reads its rows from. */
interface TrainData {
  labels: Int32Array;
  source: RowSource;
  matrix?: Matrix;
  path?: string;
  tempDir?: string;
  close: () => void;
}

/** A temporary 1,281,167-row float32 .npy, written a block at a time. */
async function writeFullTrain(rng: Rng, mu: Float32Array, nTrain: number): Promise<TrainData> {
  const labels = labelsFor(rng, nTrain);
  const tempDir = await Deno.makeTempDir({ prefix: "mos_bench_" });
  const path = `${tempDir}/train.npy`;
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  await f.write(encodeNpyHeader("<f4", [nTrain, D]));
  const buf = new Float32Array(8192 * D);
  for (let s = 0; s < nTrain; s += 8192) {
    const n = Math.min(8192, nTrain - s);
    const b = buf.subarray(0, n * D);
    fillRows(rng, mu, b, labels, s, false);
    const bytes = new Uint8Array(b.buffer, 0, b.byteLength);
    for (let off = 0; off < bytes.length;) off += await f.write(bytes.subarray(off));
  }
  f.close();
  return { labels, source: await openNpy(path), path, tempDir, close: () => {} };
}

/** The fit's training rows: a feature set on disk, a temporary full-size file, or in memory. */
async function trainData(
  o: ScoringBenchOptions,
  rng: Rng,
  mu: Float32Array,
  nTrain: number,
): Promise<TrainData> {
  if (o.fitSet) {
    const stream = await openFeatureStream(o.fitSet, { numClasses: C });
    if (stream.meta.dim !== D) {
      stream.close();
      throw new DataError(`--fit-set ${o.fitSet} has D = ${stream.meta.dim}; the bench needs ${D}`);
    }
    return {
      labels: stream.labels,
      source: stream.features,
      path: stream.features.path,
      close: () => stream.close(),
    };
  }
  if (o.full) return writeFullTrain(rng, mu, nTrain);
  const labels = labelsFor(rng, nTrain);
  const m = matrix(nTrain, D);
  fillRows(rng, mu, m.data, labels, 0, false);
  return { labels, source: matrixSource(m), matrix: m, close: () => {} };
}

/** Seeded synthetic evaluation rows, heads (flat and the paper's 8-group layout) and fit rows. */
async function benchData(o: ScoringBenchOptions): Promise<BenchData> {
  const nId = Math.round(50_000 * o.scale);
  const oodSizes = OOD_SIZES.map((n) => Math.max(1, Math.round(n * o.scale)));
  const nEval = nId + oodSizes.reduce((a, b) => a + b, 0);
  const nTrain = o.full ? IMAGENET_TRAIN : Math.round(o.train * o.scale);
  if (!o.full && !o.fitSet && nTrain < D + C) {
    // Fewer rows leave classes without a mean or the covariance singular (NaN scores, or the
    // slow pseudo-inverse), which is not the case being measured.
    throw new RangeError(
      `the Mahalanobis fit needs at least D + C = ${D + C} training rows (every class present, ` +
        `full-rank covariance); --train x --scale gives ${nTrain}`,
    );
  }
  o.log?.(
    `scoring bench: eval ${nEval} rows (ID ${nId} + OOD ${oodSizes.join(" + ")}), D ${D}, ` +
      `C ${C}, train ${nTrain}${o.full ? " (full, streamed from disk)" : ""}, threads ` +
      `${o.threads}, chunk ${o.chunkRows ?? "per-kernel default"}`,
  );
  const genStart = performance.now();
  const rng = createRng(o.seed);
  const mu = classMeans(rng);
  const idLabels = labelsFor(rng, nId);
  const evalX = matrix(nEval, D);
  fillRows(rng, mu, evalX.data.subarray(0, nId * D), idLabels, 0, false);
  fillRows(rng, mu, evalX.data.subarray(nId * D), idLabels, 0, true);
  const flat = randomHead(rng, C);
  // Group head for MOS: the paper's 8 taxonomy group sizes over classes 0..999 in order.
  const groupSizes = [398, 521, 9, 7, 52, 8, 3, 2];
  const groups: number[][] = [];
  let c0 = 0;
  for (const s of groupSizes) {
    groups.push(Array.from({ length: s }, (_, i) => c0 + i));
    c0 += s;
  }
  const layout = groupLayout(groups, C);
  const grouped = randomHead(rng, layout.numOutputs);
  const train = await trainData(o, rng, mu, nTrain);
  o.log?.(`data generated in ${((performance.now() - genStart) / 1000).toFixed(1)} s`);
  const n = o.fitSet ? train.source.rows : nTrain;
  return {
    nId,
    oodSizes,
    nEval,
    nTrain: n,
    evalX,
    idLabels,
    flat,
    grouped,
    groupSizes,
    layout,
    train,
  };
}

type Timer = <T>(
  name: string,
  gflop: number,
  fn: () => T | Promise<T>,
  note?: string,
) => Promise<T>;

/** Our six scores (and the fit in between, timed apart), as `deno task score` runs them. */
async function ourScores(d: BenchData, time: Timer, opts: ChunkOptions) {
  const { nEval, nId, layout, evalX } = d;
  const wallStart = performance.now();
  const logits = await time(
    "linear logits (flat head)",
    (2 * nEval * D * C) / 1e9,
    () => linearLogits(evalX, d.flat.weight, d.flat.bias, opts),
  );
  const groupLogits = await time(
    "linear logits (group head)",
    (2 * nEval * D * layout.numOutputs) / 1e9,
    () => linearLogits(evalX, d.grouped.weight, d.grouped.bias, opts),
  );
  const sMsp = await time("msp", 0, () => softmaxScoreFast(logits, "max-softmax", 1, opts));
  const sOdin = await time("odin", 0, () => softmaxScoreFast(logits, "max-softmax", 1000, opts));
  const sEnergy = await time("energy", 0, () => softmaxScoreFast(logits, "energy", 1, opts));
  const sMos = await time("mos", 0, () => mosFast(layout, groupLogits, opts));
  const idProbs = await time(
    "softmax of ID logits (TS)",
    0,
    () => softmaxRows(rowSlice(logits, 0, nId)),
  );
  const templates = await time(
    "kl templates (TS)",
    0,
    () => klTemplates(idProbs, d.idLabels, C),
  );
  const sKl = await time(
    "kl matching from logits (fused)",
    (2 * nEval * C * C) / 1e9,
    () => klMatchingFromLogits(logits, templates, opts),
  );
  const wallBeforeMaha = performance.now() - wallStart;
  const fit = await ourFit(d, time, opts);
  const wallMaha = performance.now();
  const sMaha = await time(
    "mahalanobis score",
    (2 * nEval * D * D + 2 * nEval * D * C) / 1e9,
    () => mahalanobisFast(fit.model, evalX, opts),
  );
  const methods = { msp: sMsp, odin: sOdin, energy: sEnergy, mos: sMos, kl: sKl, maha: sMaha };
  await time("metrics (6 methods x 4 OOD sets)", 0, () => {
    for (const s of Object.values(methods)) {
      let off = nId;
      for (const n of d.oodSizes) {
        evaluate(s.subarray(0, nId), s.subarray(off, off + n));
        off += n;
      }
    }
  });
  const wallMs = wallBeforeMaha + (performance.now() - wallMaha);
  return { logits, groupLogits, templates, methods, wallMs, ...fit };
}

/** The Mahalanobis fit (reported apart: it runs once per backbone, not per evaluation). */
async function ourFit(d: BenchData, time: Timer, opts: ChunkOptions) {
  const { source, labels } = d.train;
  const t0 = performance.now();
  const stats = await time("fit: class means (TS)", 0, () => classStats(source, labels, C, opts));
  const scatter = await time(
    "fit: within-class scatter",
    (2 * d.nTrain * D * D) / 1e9,
    () => withinClassScatter(source, labels, stats, opts),
    "GFLOP/s counts the full D x D product",
  );
  for (let i = 0; i < scatter.length; i++) scatter[i] /= d.nTrain;
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
  return { model, fitMs, inverseMethod: inv.method };
}

type Ours = Awaited<ReturnType<typeof ourScores>>;

/** Agreement of the fast kernels: fused vs unfused KL, ORT vs float64 references. */
async function agreementChecks(d: BenchData, ours: Ours, time: Timer, opts: ChunkOptions) {
  const { nEval, evalX, layout } = d;
  const { logits, groupLogits, methods } = ours;
  // Unfused KL and its agreement, outside the wall total.
  const sKl2 = await time(
    "kl matching from probs",
    (2 * nEval * C * C) / 1e9,
    () => klMatchingFast(softmaxRows(logits), ours.templates, opts),
  );
  let klDiff = 0;
  for (let i = 0; i < nEval; i++) klDiff = Math.max(klDiff, Math.abs(sKl2[i] - methods.kl[i]));
  const head = Math.min(8192, nEval);
  const headOf = (m: Matrix) => rowSlice(m, 0, head);
  const rel = (got: Float32Array, ref: Float32Array) => {
    let w = 0;
    for (let i = 0; i < ref.length; i++) {
      w = Math.max(w, Math.abs(got[i] - ref[i]) / Math.max(Math.abs(ref[i]), 1e-30));
    }
    return w;
  };
  const logitRel = {
    msp: rel(methods.msp, msp(headOf(logits))),
    odin: rel(methods.odin, odin(headOf(logits))),
    energy: rel(methods.energy, energy(headOf(logits))),
    mos: rel(methods.mos, mos(layout, headOf(groupLogits))),
  };
  // Mahalanobis float32 kernel vs the float64 reference on a subset.
  const sub = Math.min(64, nEval);
  const refIdx = [...Array(sub).keys()].map((i) => Math.floor((i * nEval) / sub));
  const subX = matrix(sub, D);
  refIdx.forEach((r, i) => subX.data.set(evalX.data.subarray(r * D, (r + 1) * D), i * D));
  const ref = mahalanobis(ours.model, subX);
  let mahaRel = 0;
  refIdx.forEach((r, i) => {
    mahaRel = Math.max(mahaRel, Math.abs(methods.maha[r] - ref[i]) / Math.max(Math.abs(ref[i]), 1));
  });
  return { sKl2, klDiff, logitRel, mahaRel };
}

type PeerTimes = Record<string, number> & { checksum?: Record<string, number> };

/** Runs bench/peers/scoring_numpy.py on the same inputs, written into `dir`. */
async function numpyPeer(
  o: ScoringBenchOptions,
  d: BenchData,
  ours: Ours,
  dir: string,
): Promise<{ peer?: PeerTimes; peerNote: string }> {
  if (!o.peer) return { peerNote: "numpy peer skipped (--no-peer)" };
  if (!(await pythonHas("numpy"))) {
    return {
      peerNote:
        `numpy peer not run: ${PYTHON} is missing or has no numpy (apt-get install python3-numpy)`,
    };
  }
  const f4 = (name: string, m: Matrix) =>
    writeNpy(`${dir}/${name}.npy`, { dtype: "<f4", shape: [m.rows, m.cols], data: m.data });
  const vec = (name: string, dtype: "<f4" | "<i4", data: Float32Array | Int32Array) =>
    writeNpy(`${dir}/${name}.npy`, { dtype, shape: [data.length], data });
  await f4("group_weight", d.grouped.weight);
  await vec("group_bias", "<f4", d.grouped.bias);
  await vec("group_sizes", "<i4", Int32Array.from(d.groupSizes));
  await vec("id_labels", "<i4", d.idLabels);
  await f4("weight", d.flat.weight);
  await vec("bias", "<f4", d.flat.bias);
  await f4("templates", ours.templates);
  await f4("means", ours.model.means);
  await f4("precision", ours.model.precision);
  if (d.train.matrix) await f4("train", d.train.matrix);
  await vec("train_labels", "<i4", d.train.labels);
  const script = new URL("./peers/scoring_numpy.py", import.meta.url).pathname;
  const r = await runPeer("numpy", script, [dir, ...(d.train.path ? [d.train.path] : [])], {
    OMP_NUM_THREADS: String(o.threads),
  });
  return r.ok ? { peer: JSON.parse(r.stdout), peerNote: "" } : { peerNote: r.reason };
}

/** Per paper score, features -> score, ours and the peer's. */
function perScore(rows: KernelRow[], peer: PeerTimes | undefined): ScoringBenchResult["scores"] {
  const ms = (name: string) => rows.find((r) => r.name === name)!.ms;
  const lin = ms("linear logits (flat head)");
  return [
    { name: "msp", ms: lin + ms("msp"), peerMs: peer && peer.linear + peer.msp },
    { name: "odin", ms: lin + ms("odin"), peerMs: peer && peer.linear + peer.odin },
    { name: "energy", ms: lin + ms("energy"), peerMs: peer && peer.linear + peer.energy },
    {
      name: "mos",
      ms: ms("linear logits (group head)") + ms("mos"),
      peerMs: peer && peer.group_linear + peer.mos,
    },
    {
      name: "kl matching",
      ms: lin + ms("softmax of ID logits (TS)") + ms("kl templates (TS)") +
        ms("kl matching from logits (fused)"),
      peerMs: peer && peer.linear + peer.kl_full,
    },
    { name: "mahalanobis", ms: ms("mahalanobis score"), peerMs: peer?.mahalanobis },
  ];
}

/** One line comparing the first rows' outputs with the peer's checksums. */
function agreementLine(
  ours: Ours,
  sKl2: Float32Array,
  checksum: Record<string, number>,
): string {
  const first4 = (a: ArrayLike<number>) => Array.from(a).slice(0, 4).reduce((x, y) => x + y, 0);
  const mine: Record<string, number> = {
    linear: Array.from(ours.logits.data.subarray(0, 4 * C)).reduce((x, y) => x + y, 0),
    kl: first4(sKl2),
    mahalanobis: first4(ours.methods.maha),
    msp: first4(ours.methods.msp),
    energy: first4(ours.methods.energy),
    mos: first4(ours.methods.mos),
  };
  return "numpy peer agreement (sum of the first 4 rows' outputs): " +
    Object.keys(mine).map((k) => `${k} ${mine[k].toPrecision(7)} vs ${checksum[k].toPrecision(7)}`)
      .join("; ");
}

/** Runs the scoring benchmark (see the module doc). */
export async function runScoringBench(o: ScoringBenchOptions): Promise<ScoringBenchResult> {
  const opts = { threads: o.threads, chunkRows: o.chunkRows };
  const rows: KernelRow[] = [];
  const time: Timer = async (name, gflop, fn, note) => {
    const t = performance.now();
    const out = await fn();
    rows.push({ name, ms: performance.now() - t, gflop, note });
    return out;
  };
  const d = await benchData(o);
  const ours = await ourScores(d, time, opts);
  const checks = await agreementChecks(d, ours, time, opts);
  // File reading, reported apart from the scoring: the eval features as the float32 .npy the
  // numpy peer loads (written here, so the page cache holds it, as after an extraction).
  const tempDir = d.train.tempDir ?? await Deno.makeTempDir({ prefix: "mos_bench_" });
  let readMs = 0;
  let peerRun: { peer?: PeerTimes; peerNote: string };
  try {
    const { evalX } = d;
    const path = `${tempDir}/features.npy`;
    await writeNpy(path, { dtype: "<f4", shape: [evalX.rows, evalX.cols], data: evalX.data });
    const readStart = performance.now();
    const reread = await readNpy(path);
    readMs = performance.now() - readStart;
    if (reread.data.length !== evalX.data.length) throw new Error("bench: features.npy re-read");
    peerRun = await numpyPeer(o, d, ours, tempDir);
  } finally {
    d.train.close();
    await Deno.remove(tempDir, { recursive: true });
  }
  const { peer, peerNote } = peerRun;
  const ms = (name: string) => rows.find((r) => r.name === name)!.ms;
  const perRow = (v: number) => (v / d.nTrain) * IMAGENET_TRAIN;
  return {
    nEval: d.nEval,
    nId: d.nId,
    oodSizes: d.oodSizes,
    nTrain: d.nTrain,
    rows,
    peer: peer
      ? Object.fromEntries(
        Object.entries(peer).filter((e): e is [string, number] => typeof e[1] === "number"),
      )
      : undefined,
    peerNote,
    scores: perScore(rows, peer),
    wallMs: ours.wallMs,
    peerWallMs: peer
      ? peer.linear + peer.group_linear + peer.msp + peer.odin + peer.energy + peer.mos +
        peer.kl_full + peer.mahalanobis
      : undefined,
    readMs,
    peerReadMs: peer?.load,
    fitMs: ours.fitMs,
    peerFitMs: peer && peer.class_means + peer.scatter + peer.inverse,
    fitFullMs: perRow(ms("fit: class means (TS)") + ms("fit: within-class scatter")) +
      ms("fit: inverse (float64 Cholesky)"),
    peerFitFullMs: peer && perRow(peer.class_means + peer.scatter) + peer.inverse,
    fitStreamed: Boolean(d.train.path),
    inverseMethod: ours.inverseMethod,
    klDiff: checks.klDiff,
    mahaRel: checks.mahaRel,
    logitRel: checks.logitRel,
    agreement: peer?.checksum ? agreementLine(ours, checks.sKl2, peer.checksum) : undefined,
  };
}

if (import.meta.main) {
  const { values: args } = parseBenchArgs("bench/scoring.ts", {
    options: {
      train: { type: "string", default: "100000" },
      full: { type: "boolean", default: false },
      "fit-set": { type: "string" },
      threads: { type: "string", default: String(navigator.hardwareConcurrency ?? 2) },
      chunk: { type: "string" },
      seed: { type: "string", default: "0" },
      scale: { type: "string", default: "1" },
      "no-peer": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (args.help) {
    console.log(
      "deno run -A bench/scoring.ts [--train N] [--full | --fit-set DIR] [--threads T] " +
        "[--chunk R] [--seed S] [--scale F (shrinks every row count, for a quick look)] [--no-peer]",
    );
    Deno.exit(0);
  }
  const posInt = (name: string, v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) {
      console.error(`--${name} must be a positive integer, got "${v}"`);
      Deno.exit(2);
    }
    return n;
  };
  const scale = Number(args.scale);
  if (!(scale > 0 && scale <= 1)) {
    console.error(`--scale must be in (0, 1], got "${args.scale}"`);
    Deno.exit(2);
  }
  const fitRows = Math.round(posInt("train", args.train!) * scale);
  if (!args.full && !args["fit-set"] && fitRows < D + C) {
    console.error(
      `error: the Mahalanobis fit needs at least D + C = ${D + C} training rows (every class ` +
        `present, full-rank covariance); --train x --scale gives ${fitRows}`,
    );
    Deno.exit(2);
  }
  const r = await runScoringBench({
    train: posInt("train", args.train!),
    full: args.full!,
    fitSet: args["fit-set"],
    threads: posInt("threads", args.threads!),
    chunkRows: args.chunk === undefined ? undefined : posInt("chunk", args.chunk),
    seed: Number(args.seed),
    scale,
    peer: !args["no-peer"],
    log: (m) => console.log(m),
  });
  const peerKey: Record<string, string> = {
    "linear logits (flat head)": "linear",
    "linear logits (group head)": "group_linear",
    "msp": "msp",
    "odin": "odin",
    "energy": "energy",
    "mos": "mos",
    "kl matching from probs": "kl",
    "mahalanobis score": "mahalanobis",
    "fit: class means (TS)": "class_means",
    "fit: within-class scatter": "scatter",
    "fit: inverse (float64 Cholesky)": "inverse",
  };
  const pad = (s: string, n: number) => s.padEnd(n);
  const num = (v: number, d = 0) => v.toFixed(d).padStart(9);
  console.log();
  console.log(
    `${pad("kernel", 36)}${"ms".padStart(9)}${"GFLOP/s".padStart(9)}${"numpy ms".padStart(10)}${
      "ratio".padStart(8)
    }`,
  );
  for (const row of r.rows) {
    const key = peerKey[row.name];
    const p = r.peer && key ? r.peer[key] : undefined;
    console.log(
      pad(row.name, 36) + num(row.ms) +
        (row.gflop > 0 ? num(row.gflop / (row.ms / 1000)) : "        -") +
        (p !== undefined ? num(p).padStart(10) + (p / row.ms).toFixed(2).padStart(8) : "") +
        (row.note ? `  (${row.note})` : ""),
    );
  }
  if (r.peerNote) console.log(r.peerNote);
  console.log();
  console.log("per score, features -> score (shared logits counted in each):");
  for (const s of r.scores) {
    console.log(
      `  ${pad(s.name, 14)}${num(s.ms)} ms` +
        (s.peerMs !== undefined
          ? `  numpy ${num(s.peerMs)} ms  ratio ${(s.peerMs / s.ms).toFixed(2)}`
          : ""),
    );
  }
  console.log(
    `reading the eval features (.npy float32, page cache): ${r.readMs.toFixed(0)} ms` +
      (r.peerReadMs !== undefined ? ` (numpy np.load ${r.peerReadMs.toFixed(0)} ms)` : ""),
  );
  console.log(
    `six scores + metrics (eval set, excluding the fit): ${(r.wallMs / 1000).toFixed(2)} s` +
      (r.peerWallMs ? ` (numpy, metrics excluded: ${(r.peerWallMs / 1000).toFixed(2)} s)` : ""),
  );
  console.log(
    `mahalanobis fit on ${r.nTrain} rows${r.fitStreamed ? " (streamed from disk)" : ""}: ` +
      `${(r.fitMs / 1000).toFixed(2)} s (inverse: ${r.inverseMethod})` +
      (r.peerFitMs ? `; numpy ${(r.peerFitMs / 1000).toFixed(2)} s` : ""),
  );
  if (r.nTrain !== IMAGENET_TRAIN) {
    console.log(
      `  extrapolated to ${IMAGENET_TRAIN} rows: ${(r.fitFullMs / 1000).toFixed(1)} s` +
        (r.peerFitFullMs ? `; numpy ${(r.peerFitFullMs / 1000).toFixed(1)} s` : ""),
    );
  }
  if (r.agreement) console.log(r.agreement);
  console.log(`kl fused vs from-probs: worst |diff| ${r.klDiff.toExponential(2)}`);
  console.log(
    "ORT logit scores vs float64 references (first 8192 rows), worst rel error: " +
      Object.entries(r.logitRel).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(", "),
  );
  console.log(
    `mahalanobis float32 kernel vs float64 reference (64 rows): worst rel error ` +
      r.mahaRel.toExponential(2),
  );
}
