/**
 * Head-training step benchmark at ImageNet head sizes: 65,536 x 2048 seeded synthetic post-ReLU
 * features, batch 512, mixup 0.1; a 2048 -> 1008 group-softmax head (8 taxonomy-sized groups:
 * 398, 521, 9, 7, 52, 8, 3, 2 classes) and a 2048 -> 1000 flat head.
 *
 * Prints the median ms/step of the real training loop (`trainHead`: sampling, batch gather,
 * mixup draw, soft targets and the ORT step graph; warm-up steps excluded) with a breakdown, and,
 * when Debian's /usr/bin/python3 has torch, the same loop in PyTorch (bench/peers/torch_train.py,
 * OpenBLAS core type from the CPU flags, bench/peer_env.ts; torch's thread count tried at 1 and at ours, each head keeping its
 * fastest) and the ratio torch_ms / our_ms (> 1: we are faster).
 *
 * Usage: deno run -A bench/train_step.ts [--steps 48] [--warmup 8] [--threads 2] [--rows 65536]
 *        [--seed 0] [--unroll 4] [--no-peer]
 *
 * {@linkcode runTrainBench} runs the same measurement for bench/mod.ts (`deno task bench`).
 *
 * @module
 */
import { parseBenchArgs } from "./bench_args.ts";
import { PYTHON, pythonHas, runPeer } from "./peer_env.ts";
import { type GroupLayout, groupLayout } from "../lib/groups.ts";
import { type Matrix, matrix } from "../lib/matrix.ts";
import { createRng, shuffle } from "../lib/random.ts";
import { hyperRule } from "../lib/train/hyperrule.ts";
import { mixupDraw } from "../lib/train/mixup.ts";
import { createBatchSampler } from "../lib/train/sampler.ts";
import { createOrtStep } from "../lib/train/step_graph.ts";
import { DEFAULT_UNROLL, gatherSource, trainHead } from "../lib/train/trainer.ts";

const D = 2048;
const B = 512;
const SIZES = [398, 521, 9, 7, 52, 8, 3, 2];
const C = SIZES.reduce((a, b) => a + b, 0);

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/** 10th percentile (linear interpolation, as NumPy): robust to other processes on the cores. */
const p10 = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  const r = 0.1 * (s.length - 1);
  const i = Math.floor(r);
  return i + 1 < s.length ? s[i] + (r - i) * (s[i + 1] - s[i]) : s[i];
};

/** Options of {@linkcode runTrainBench}. */
export interface TrainBenchOptions {
  /** Timed steps per head (after the warm-up). */
  steps: number;
  warmup: number;
  threads: number;
  /** Rows of the synthetic feature set (65,536 for the issue's case). */
  rows: number;
  seed: number;
  /** Steps per onnxruntime run (`trainHead`'s unroll). */
  unroll: number;
  /** Run the PyTorch peer when Debian's python3 has torch. */
  peer: boolean;
  /** Also time the pieces of a step (graph, gather, preparation) separately. */
  breakdown: boolean;
  /** Progress messages (stderr in the CLIs). */
  log?: (message: string) => void;
}

/** A per-step time: median and 10th percentile, milliseconds. */
export interface StepTime {
  median: number;
  p10: number;
}

/** Result of {@linkcode runTrainBench}. */
export interface TrainBenchResult {
  ours: { group: StepTime; flat: StepTime };
  /** Medians of the pieces of one step, when `breakdown` was asked for. */
  parts?: Record<"group" | "flat", { graph: number; gather: number; prep: number }>;
  peer?: {
    group: StepTime;
    flat: StepTime;
    version: string;
    /** torch thread count of each head's fastest setting, and torch's default. */
    threads: { group: number; flat: number; default: number };
    /** Every setting tried: torch threads, head, median ms/step. */
    settings: { threads: number; head: string; ms: number }[];
    /** OPENBLAS_NUM_THREADS of the peer (= our thread count). */
    blasThreads: number;
    python: string;
  };
  /** Why the peer did not run, when it did not. */
  peerNote: string;
  /** Outputs of the group head and of the flat head. */
  outputs: { group: number; flat: number };
  /** Warm-up and timed steps of our loop: the requested counts rounded up to whole runs. */
  warmupSteps: number;
  timedSteps: number;
}

/** Seeded synthetic training features and the group layout of the bench. */
interface TrainSet {
  feats: Matrix;
  labels: Int32Array;
  layout: GroupLayout;
}

/**
 * Post-ReLU values around class centroids (uniform noise keeps the generation of 134M values to
 * about a second), and 8 taxonomy-sized groups over shuffled classes.
 */
function trainSet(o: TrainBenchOptions): TrainSet {
  const { rows: N, seed: SEED } = o;
  const t0 = performance.now();
  const rng = createRng(SEED);
  const centroids = Float32Array.from({ length: C * D }, () => rng.normal());
  const labels = new Int32Array(N);
  const feats = matrix(N, D);
  for (let i = 0; i < N; i++) {
    const c = rng.int(C);
    labels[i] = c;
    const row = i * D;
    const cen = c * D;
    for (let j = 0; j < D; j++) {
      const v = centroids[cen + j] + rng.uint32() / 4294967296 - 0.5;
      feats.data[row + j] = v > 0 ? v : 0;
    }
  }
  const classes = shuffle(createRng(SEED + 1), Array.from({ length: C }, (_, i) => i));
  const groups: number[][] = [];
  let p = 0;
  for (const s of SIZES) {
    groups.push(classes.slice(p, p + s));
    p += s;
  }
  o.log?.(`features ${N} x ${D} generated in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return { feats, labels, layout: groupLayout(groups, C) };
}

/** Warm-up and timed runs of `unroll` steps: whole runs, at least one warm-up (session build). */
function runCounts(o: TrainBenchOptions): { warmRuns: number; timedRuns: number } {
  return {
    warmRuns: Math.max(1, Math.ceil(o.warmup / o.unroll)),
    timedRuns: Math.max(1, Math.ceil(o.steps / o.unroll)),
  };
}

/** ms/step of the real training loop (`trainHead`), per whole run after the warm-up runs. */
async function loopMs(o: TrainBenchOptions, set: TrainSet, lay: GroupLayout | null) {
  const UNROLL = o.unroll;
  const { warmRuns, timedRuns } = runCounts(o);
  const rule = hyperRule(o.rows, { steps: (warmRuns + timedRuns) * UNROLL, mixupAlpha: 0.1 });
  const stamps: number[] = [];
  let last = performance.now();
  await trainHead({
    source: gatherSource(set.feats),
    labels: set.labels,
    numClasses: C,
    layout: lay,
    rule,
    seed: o.seed,
    threads: o.threads,
    unroll: UNROLL,
    onProgress: () => {
      const now = performance.now();
      stamps.push(now - last);
      last = now;
    },
  });
  // With unroll k, progress arrives in bursts of k (the first stamp of a run carries the run's
  // time): average over whole runs after the warm-up ones.
  const v: number[] = [];
  for (let r = warmRuns; r < warmRuns + timedRuns; r++) {
    v.push(stamps.slice(r * UNROLL, (r + 1) * UNROLL).reduce((a, b) => a + b, 0) / UNROLL);
  }
  return { median: median(v), p10: p10(v) };
}

/**
 * Times the pieces of one (not unrolled) step separately: `step.run` (soft targets + the ORT
 * graph), the batch gather, and the rest of the TypeScript preparation (labels, mixup draw).
 */
async function breakdown(o: TrainBenchOptions, set: TrainSet, lay: GroupLayout | null) {
  const { warmup: WARMUP, steps: STEPS, seed: SEED } = o;
  const O = lay ? lay.numOutputs : C;
  const step = await createOrtStep(
    { batch: B, dim: D, numOutputs: O, layout: lay, mixup: true },
    { threads: o.threads },
  );
  const sampler = createBatchSampler(SEED, o.rows, B);
  const source = gatherSource(set.feats);
  const idx = new Int32Array(B);
  const y = new Int32Array(B);
  const graph: number[] = [];
  const gather: number[] = [];
  const prep: number[] = [];
  for (let t = 0; t < WARMUP + STEPS; t++) {
    const a = performance.now();
    sampler.indices(t, idx);
    source.gather(idx, step.xs[0]);
    const b = performance.now();
    for (let i = 0; i < B; i++) y[i] = set.labels[idx[i]];
    const draw = mixupDraw(SEED, t, B, 0.1);
    const c = performance.now();
    await step.run([{ labels: y, draw, lr: 0.003 }]);
    const d = performance.now();
    if (t >= WARMUP) {
      gather.push(b - a);
      prep.push(c - b);
      graph.push(d - c);
    }
  }
  await step.release();
  return { graph: median(graph), gather: median(gather), prep: median(prep) };
}

/** The PyTorch peer (bench/peers/torch_train.py) on the same shapes. */
async function torchPeer(
  o: TrainBenchOptions,
): Promise<{ peer?: TrainBenchResult["peer"]; peerNote: string }> {
  if (!o.peer) return { peerNote: "torch peer skipped (--no-peer)" };
  if (!(await pythonHas("torch"))) {
    return {
      peerNote: `torch peer not run: ${PYTHON} is missing or cannot import torch ` +
        "(apt-get install python3-torch)",
    };
  }
  o.log?.("timing the PyTorch peer (group, flat)");
  const script = new URL("./peers/torch_train.py", import.meta.url).pathname;
  // torch's thread count is tried at 1 and at ours; each head keeps its fastest (see the
  // peer's notes: its OpenBLAS runs the products on OPENBLAS_NUM_THREADS cores either way).
  const threads = [...new Set([1, o.threads])].join(",");
  const r = await runPeer(
    "torch",
    script,
    [o.rows, D, B, o.steps, o.warmup, threads, o.seed, SIZES.join(",")].map(String),
    // OpenBLAS (pthreads) on exactly our thread count; torch's own count is swept above.
    { OPENBLAS_NUM_THREADS: String(o.threads) },
  );
  if (!r.ok) return { peerNote: r.reason };
  const j = JSON.parse(r.stdout);
  return {
    peer: {
      group: { median: j.group_ms, p10: j.group_p10_ms },
      flat: { median: j.flat_ms, p10: j.flat_p10_ms },
      version: j.torch,
      threads: { group: j.group_threads, flat: j.flat_threads, default: j.default_threads },
      settings: j.settings,
      blasThreads: o.threads,
      python: PYTHON,
    },
    peerNote: "",
  };
}

/**
 * Times the real training loop (`trainHead` on an in-memory source) for the group and the flat
 * head on seeded synthetic features, and the PyTorch peer on the same shapes in the same run.
 */
export async function runTrainBench(o: TrainBenchOptions): Promise<TrainBenchResult> {
  const set = trainSet(o);
  o.log?.("timing our training loop (group, flat)");
  const ours = { group: await loopMs(o, set, set.layout), flat: await loopMs(o, set, null) };
  const parts = o.breakdown
    ? { group: await breakdown(o, set, set.layout), flat: await breakdown(o, set, null) }
    : undefined;
  const { peer, peerNote } = await torchPeer(o);
  const { warmRuns, timedRuns } = runCounts(o);
  return {
    ours,
    parts,
    peer,
    peerNote,
    outputs: { group: set.layout.numOutputs, flat: C },
    warmupSteps: warmRuns * o.unroll,
    timedSteps: timedRuns * o.unroll,
  };
}

/** One line naming the peer, its fastest settings and every setting tried. */
export function peerSummary(p: NonNullable<TrainBenchResult["peer"]>): string {
  const tried = p.settings.map((s) => `${s.head} ${s.threads}t ${s.ms.toFixed(1)} ms`).join(", ");
  return `torch ${p.version} (${p.python}), OpenBLAS on ${p.blasThreads} threads; fastest torch thread ` +
    `count per head: group ${p.threads.group}, flat ${p.threads.flat} (torch default here: ` +
    `${p.threads.default}); tried: ${tried}`;
}

if (import.meta.main) {
  const args = parseBenchArgs("bench/train_step.ts", {
    options: {
      steps: { type: "string", default: "48" },
      warmup: { type: "string", default: "8" },
      threads: { type: "string", default: "2" },
      rows: { type: "string", default: "65536" },
      seed: { type: "string", default: "0" },
      unroll: { type: "string", default: String(DEFAULT_UNROLL) },
      "no-peer": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (args.values.help) {
    console.log(
      "deno run -A bench/train_step.ts [--steps 48] [--warmup 8] [--threads 2] [--rows 65536] " +
        "[--seed 0] [--unroll 4] [--no-peer]",
    );
    Deno.exit(0);
  }
  const int = (name: string, min: number): number => {
    const raw = args.values[name as keyof typeof args.values];
    const v = Number(raw);
    if (!Number.isInteger(v) || v < min) {
      console.error(`--${name} must be an integer >= ${min}, got "${raw}"`);
      Deno.exit(2);
    }
    return v;
  };
  const o: TrainBenchOptions = {
    steps: int("steps", 1),
    warmup: int("warmup", 0),
    threads: int("threads", 1),
    rows: int("rows", 512),
    seed: int("seed", 0),
    unroll: int("unroll", 1),
    peer: !args.values["no-peer"],
    breakdown: true,
    log: (m) => console.error(m),
  };
  const r = await runTrainBench(o);
  console.log(
    `Head training step, batch ${B}, ${o.rows} x ${D} features, mixup 0.1, ${o.threads} threads, ` +
      `unroll ${o.unroll}, ${r.timedSteps} steps after ${r.warmupSteps} warm-up steps (whole ` +
      `runs; the peer: ${o.steps} after ${o.warmup}); ms/step as median ` +
      `(10th percentile, the figure least disturbed by other processes on the cores)`,
  );
  console.log(
    "| head | ours ms/step | step.run | gather | labels+mixup draw | torch ms/step | torch/ours |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  const f2 = (v: number) => v.toFixed(2);
  for (
    const [name, label] of [
      ["group", `group 2048->${C + SIZES.length}`],
      ["flat", `flat 2048->${C}`],
    ] as const
  ) {
    const ms = r.ours[name];
    const pt = r.parts![name];
    const tm = r.peer?.[name];
    console.log(
      `| ${label} | ${f2(ms.median)} (${f2(ms.p10)}) | ${f2(pt.graph)} | ${f2(pt.gather)} | ` +
        `${f2(pt.prep)} | ${tm ? `${f2(tm.median)} (${f2(tm.p10)})` : "-"} | ` +
        `${tm ? `${f2(tm.median / ms.median)} (${f2(tm.p10 / ms.p10)})` : "-"} |`,
    );
  }
  if (r.peer) console.log(peerSummary(r.peer));
  if (r.peerNote) console.log(r.peerNote);
}
