/**
 * The ImageNet-21k case of `deno task bench` (issue 15): BiT-M's 21,843-way label space.
 *
 * - the group-head training step 2048 -> 21,843 + K (K = 8 groups) at batch 512, against the
 *   floor of its two matrix products (X W^T and G^T X) in onnxruntime and in NumPy's OpenBLAS,
 *   measured in the same run (target: within 1.25x of the faster floor), and a PyTorch step;
 * - the six paper scores on `rows` x 2048 seeded synthetic features (default 100,000, streamed from
 *   a temporary float32 .npy that is deleted afterwards) at C = 21,843: MSP, ODIN, Energy, MOS
 *   (features -> head -> score in one onnxruntime graph per chunk, lib/ort/head_scores.ts: the
 *   100,000 x 21,843 logits, 8.7 GB, never exist), KL matching against 21,843 templates (1.9 GB,
 *   logged in place once, then features -> head -> softmax -> template blocks of `klBlockMb` per
 *   chunk, lib/ort/kl_stream.ts) and Mahalanobis with 21,843 class means; NumPy peers of the
 *   same computations.
 *
 * Every computation runs in its own child process (`--child NAME`), ours and the peer's, so each
 * reports its own peak RSS (VmHWM of /proc/self/status, in Python too); a child that runs out
 * of memory (killed by a signal) or past `timeoutS` is reported as such.
 *
 * @module
 */
import { encodeNpyHeader, openNpy, writeNpy } from "../lib/io/npy.ts";
import { groupLayout } from "../lib/groups.ts";
import { type Matrix, matrix } from "../lib/matrix.ts";
import { createRng, type Rng } from "../lib/random.ts";
import { type HeadScore, headScoresStream } from "../lib/ort/head_scores.ts";
import { klMatchingFromFeatures, logKlTemplates } from "../lib/ort/kl_stream.ts";
import { mahalanobisFast } from "../lib/ort/mahalanobis_kernel.ts";
import { buildModel, node } from "../lib/ort/graph.ts";
import { createSession, f32Tensor } from "../lib/ort/session.ts";
import { createOrtStep } from "../lib/train/step_graph.ts";
import { mixupDraw } from "../lib/train/mixup.ts";
import { DEFAULT_UNROLL } from "../lib/train/trainer.ts";
import { failureReason, pythonHas } from "./peer_env.ts";
import { peerEnv, PYTHON } from "./peer_env.ts";

/** ImageNet-21k classes (BiT-M's head). */
export const C21K = 21_843;
const D = 2048;
const B = 512;
/** Group sizes of the 21k group head: 8 groups, as the paper's level 0 (sums to C21K). */
export const GROUP_SIZES_21K = [6000, 4000, 3000, 2500, 2000, 1843, 1500, 1000];
const CHUNK = 2048;

/** Our computations and the peer's, each in its own process. */
export const OURS_21K = ["msp", "odin", "energy", "mos", "kl", "mahalanobis", "step", "floor"];

/** Peak resident memory of this process in MB (VmHWM). */
export function peakRssMb(): number {
  const m = Deno.readTextFileSync("/proc/self/status").match(/VmHWM:\s*(\d+)\s*kB/);
  return m ? Number(m[1]) / 1024 : NaN;
}

function randomMatrix(rng: Rng, rows: number, cols: number, scale: number): Matrix {
  const m = matrix(rows, cols);
  for (let i = 0; i < m.data.length; i++) m.data[i] = rng.normal() * scale;
  return m;
}

/** Writes the seeded features (post-ReLU, ~25% zeros) a chunk at a time: never all in memory. */
async function writeFeatures(path: string, rows: number, seed: number): Promise<void> {
  const rng = createRng(seed);
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    await f.write(encodeNpyHeader("<f4", [rows, D]));
    const buf = new Float32Array(CHUNK * D);
    for (let s = 0; s < rows; s += CHUNK) {
      const n = Math.min(CHUNK, rows - s);
      for (let i = 0; i < n * D; i++) {
        const v = 0.5 * (rng.float() + rng.float()) - 0.3 + 0.1 * ((i % D) % 7);
        buf[i] = v > 0 ? v : 0;
      }
      const bytes = new Uint8Array(buf.buffer, 0, n * D * 4);
      for (let off = 0; off < bytes.length;) off += await f.write(bytes.subarray(off));
    }
  } finally {
    f.close();
  }
}

/** Writes every input of the case into `dir` (heads, means, precision, features). */
export async function writeInputs21k(dir: string, rows: number, seed: number): Promise<void> {
  const rng = createRng(seed + 1);
  const f4 = (name: string, m: Matrix) =>
    writeNpy(`${dir}/${name}.npy`, { dtype: "<f4", shape: [m.rows, m.cols], data: m.data });
  const O = C21K + GROUP_SIZES_21K.length;
  await f4("weight", randomMatrix(rng, C21K, D, 0.05));
  await f4("group_weight", randomMatrix(rng, O, D, 0.05));
  await f4("means", randomMatrix(rng, C21K, D, 0.3));
  // A diagonally dominant SPD precision.
  const p = randomMatrix(rng, D, D, 0.001);
  for (let i = 0; i < D; i++) {
    for (let j = 0; j < i; j++) p.data[j * D + i] = p.data[i * D + j];
    p.data[i * D + i] = 1 + Math.abs(p.data[i * D + i]);
  }
  await f4("precision", p);
  await writeNpy(`${dir}/group_sizes.npy`, {
    dtype: "<i4",
    shape: [GROUP_SIZES_21K.length],
    data: Int32Array.from(GROUP_SIZES_21K),
  });
  await writeFeatures(`${dir}/features.npy`, rows, seed);
}

async function loadMatrix(path: string): Promise<Matrix> {
  const r = await openNpy(path);
  try {
    const m = matrix(r.rows, r.cols);
    await r.readRows(0, r.rows, m.data);
    return m;
  } finally {
    r.close();
  }
}

/** Synthetic KL templates: C softmax rows over the C classes (1.9 GB at 21k), seeded. */
function templates21k(seed: number): Matrix {
  const rng = createRng(seed + 2);
  const t = matrix(C21K, C21K);
  for (let c = 0; c < C21K; c++) {
    const row = t.data.subarray(c * C21K, (c + 1) * C21K);
    let s = 0;
    for (let j = 0; j < C21K; j++) {
      const v = Math.exp(3 * rng.float() + (j === c ? 8 : 0));
      row[j] = v;
      s += v;
    }
    for (let j = 0; j < C21K; j++) row[j] /= s;
  }
  return t;
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)];

function layout21k() {
  const groups: number[][] = [];
  let c0 = 0;
  for (const s of GROUP_SIZES_21K) {
    groups.push(Array.from({ length: s }, (_, i) => c0 + i));
    c0 += s;
  }
  return groupLayout(groups, C21K);
}

/**
 * Median ms per step of the real ORT group-head step (mixup, group softmax, momentum, update),
 * `unroll` steps per run as `trainHead` runs them (DEFAULT_UNROLL).
 */
async function stepMs(threads: number, runs: number, unroll = DEFAULT_UNROLL): Promise<number> {
  const layout = layout21k();
  const step = await createOrtStep(
    { batch: B, dim: D, numOutputs: layout.numOutputs, layout, mixup: true },
    { threads, unroll },
  );
  const rng = createRng(5);
  for (const x of step.xs) for (let i = 0; i < x.length; i++) x[i] = Math.max(0, rng.normal());
  const labels = Int32Array.from({ length: B }, () => rng.int(C21K));
  const times: number[] = [];
  for (let t = 0; t < runs + 1; t++) {
    const batches = Array.from({ length: unroll }, (_, j) => ({
      labels,
      draw: mixupDraw(0, t * unroll + j, B, 0.1),
      lr: 0.003,
    }));
    const s = performance.now();
    await step.run(batches);
    if (t >= 1) times.push((performance.now() - s) / unroll);
  }
  await step.release();
  return median(times);
}

/**
 * Median ms of the step's two products alone in onnxruntime: Z = X W^T and V = G^T X. Only the
 * row maxima leave the graph: returning the 224 MB of products would add onnxruntime-node's
 * copy of every output (fresh pages each run) to the floor. The two ReduceMax passes stay in.
 */
async function floorMs(threads: number, steps: number): Promise<number> {
  const O = C21K + GROUP_SIZES_21K.length;
  const session = await createSession(
    buildModel({
      name: "step_floor",
      inputs: [
        { name: "x", type: "float32", shape: [B, D] },
        { name: "w", type: "float32", shape: [O, D] },
        { name: "gt", type: "float32", shape: [O, B] },
      ],
      outputs: [
        { name: "zm", type: "float32", shape: [B, 1] },
        { name: "vm", type: "float32", shape: [O, 1] },
      ],
      nodes: [
        node("Gemm", ["x", "w"], ["z"], { transB: 1 }),
        node("Gemm", ["gt", "x"], ["v"]),
        node("ReduceMax", ["z"], ["zm"], { axes: [1], keepdims: 1 }),
        node("ReduceMax", ["v"], ["vm"], { axes: [1], keepdims: 1 }),
      ],
    }),
    { threads },
  );
  const rng = createRng(6);
  const fill = (n: number, s: number) => Float32Array.from({ length: n }, () => rng.normal() * s);
  const feeds = {
    x: f32Tensor(fill(B * D, 1), [B, D]),
    w: f32Tensor(fill(O * D, 0.01), [O, D]),
    gt: f32Tensor(fill(O * B, 0.001), [O, B]),
  };
  const fetches = {
    zm: f32Tensor(new Float32Array(B), [B, 1]),
    vm: f32Tensor(new Float32Array(O), [O, 1]),
  };
  const times: number[] = [];
  for (let t = 0; t < steps + 2; t++) {
    const s = performance.now();
    await session.run(feeds, fetches);
    if (t >= 2) times.push(performance.now() - s);
  }
  await session.release();
  return median(times);
}

/**
 * Streams the features through the head `weightName` (zero bias) into one logit-only score: the
 * fused features -> score graph of lib/ort/head_scores.ts, as `score` runs these methods.
 */
async function headScore(
  dir: string,
  weightName: string,
  score: HeadScore,
  threads: number,
): Promise<number> {
  const w = await loadMatrix(`${dir}/${weightName}.npy`);
  const src = await openNpy(`${dir}/features.npy`);
  const t0 = performance.now();
  const out = await headScoresStream(src, w, new Float32Array(w.rows), score, { threads });
  const ms = performance.now() - t0;
  src.close();
  if (out.some(Number.isNaN)) throw new Error("bench 21k: a score is NaN");
  return ms;
}

/** Runs one computation of ours in this process; resolves to its milliseconds. */
export async function runChild21k(
  name: string,
  dir: string,
  threads: number,
  klBlockMb: number,
): Promise<number> {
  const opts = { threads };
  switch (name) {
    case "msp":
      return headScore(dir, "weight", { kind: "max-softmax", temperature: 1 }, threads);
    case "odin":
      return headScore(dir, "weight", { kind: "max-softmax", temperature: 1000 }, threads);
    case "energy":
      return headScore(dir, "weight", { kind: "energy" }, threads);
    case "mos":
      return headScore(dir, "group_weight", { kind: "mos", layout: layout21k() }, threads);
    case "kl": {
      // The templates are made untimed (the peer's too); their log is timed, taken in place as
      // the score's KL matching takes it, then every row streams features -> head -> KL.
      const t = templates21k(0);
      const w = await loadMatrix(`${dir}/weight.npy`);
      const src = await openNpy(`${dir}/features.npy`);
      const t0 = performance.now();
      const logT = await logKlTemplates(t, opts);
      const kl = { threads, blockMb: klBlockMb };
      const out = await klMatchingFromFeatures(src, w, new Float32Array(w.rows), logT, kl);
      const ms = performance.now() - t0;
      src.close();
      if (out.some(Number.isNaN)) throw new Error("bench 21k: a KL score is NaN");
      return ms;
    }
    case "mahalanobis": {
      const model = {
        means: await loadMatrix(`${dir}/means.npy`),
        precision: await loadMatrix(`${dir}/precision.npy`),
      };
      const src = await openNpy(`${dir}/features.npy`);
      const t0 = performance.now();
      await mahalanobisFast(model, src, opts);
      src.close();
      return performance.now() - t0;
    }
    case "step":
      return stepMs(threads, 3);
    case "floor":
      return floorMs(threads, 6);
  }
  throw new Error(`bench 21k: unknown computation ${name}`);
}

/** One measured computation: milliseconds and peak RSS, or why there are none. */
export type Measured = { ms: number; rssMb: number } | { error: string };

/** A row of the 21k case: ours and the peer's. */
export interface Row21k {
  name: string;
  ours: Measured;
  peer: Measured;
}

/** Options of {@linkcode runScale21kBench}. */
export interface Scale21kOptions {
  rows: number;
  threads: number;
  seed: number;
  peer: boolean;
  klBlockMb: number;
  /** Per computation, seconds before the child is killed and reported as out of time. */
  timeoutS: number;
  log?: (m: string) => void;
}

async function measure(
  label: string,
  cmd: string,
  args: string[],
  env: Record<string, string>,
  timeoutS: number,
): Promise<Measured> {
  const signal = AbortSignal.timeout(timeoutS * 1000);
  try {
    const r = await new Deno.Command(cmd, { args, env, signal, stdout: "piped", stderr: "piped" })
      .output();
    if (signal.aborted) return { error: `${label} out of time (> ${timeoutS} s)` };
    if (!r.success) {
      const why = failureReason(label, r);
      return { error: r.signal === "SIGKILL" ? `${why} (out of memory?)` : why };
    }
    const j = JSON.parse(new TextDecoder().decode(r.stdout).trim().split("\n").pop()!);
    return { ms: j.ms, rssMb: j.rss_mb };
  } catch (e) {
    return { error: `${label}: ${(e as Error).message}` };
  }
}

/** Runs the 21k case (see the module notes); the temporary inputs are deleted afterwards. */
export async function runScale21kBench(o: Scale21kOptions): Promise<Row21k[]> {
  const log = o.log ?? (() => {});
  const dir = await Deno.makeTempDir({ prefix: "mos_bench21k_" });
  try {
    log(`21k: writing ${o.rows} x ${D} features (${(o.rows * D * 4 / 2 ** 20).toFixed(0)} MiB)`);
    await writeInputs21k(dir, o.rows, o.seed);
    const hasNumpy = o.peer && await pythonHas("numpy");
    const hasTorch = o.peer && await pythonHas("torch");
    const self = new URL(import.meta.url).pathname;
    const peerScript = new URL("./peers/scale21k_numpy.py", import.meta.url).pathname;
    const rows: Row21k[] = [];
    for (const name of OURS_21K) {
      log(`21k: ${name} (ours)`);
      const ours = await measure(
        `our ${name}`,
        Deno.execPath(),
        [
          "run",
          "-A",
          self,
          "--child",
          name,
          "--dir",
          dir,
          "--threads",
          String(o.threads),
          "--kl-block-mb",
          String(o.klBlockMb),
        ],
        {},
        o.timeoutS,
      );
      const needs = name === "step" ? hasTorch : hasNumpy;
      const peerName = name === "step" ? "torch" : "numpy";
      let peer: Measured = {
        error: o.peer ? `${peerName} peer not run: ${PYTHON} has no ${peerName}` : "no peer",
      };
      if (needs) {
        log(`21k: ${name} (${peerName} peer)`);
        peer = await measure(
          `${peerName} ${name}`,
          PYTHON,
          [peerScript, name, dir, String(o.threads)],
          peerEnv({ OPENBLAS_NUM_THREADS: String(o.threads), OMP_NUM_THREADS: String(o.threads) }),
          o.timeoutS,
        );
      }
      rows.push({ name, ours, peer });
    }
    return rows;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  // Child mode only (the case runs from `deno task bench --scale-21k`).
  const arg = (name: string) => {
    const i = Deno.args.indexOf(`--${name}`);
    if (i < 0 || i + 1 >= Deno.args.length) {
      console.error(`bench/scale21k.ts runs as a child of deno task bench; missing --${name}`);
      Deno.exit(2);
    }
    return Deno.args[i + 1];
  };
  const ms = await runChild21k(
    arg("child"),
    arg("dir"),
    Number(arg("threads")),
    Number(arg("kl-block-mb")),
  );
  console.log(JSON.stringify({ ms, rss_mb: peakRssMb() }));
}
