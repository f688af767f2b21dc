/**
 * Head-training step benchmark at ImageNet head sizes: 65,536 x 2048 seeded synthetic post-ReLU
 * features, batch 512, mixup 0.1; a 2048 -> 1008 group-softmax head (8 taxonomy-sized groups:
 * 398, 521, 9, 7, 52, 8, 3, 2 classes) and a 2048 -> 1000 flat head.
 *
 * Prints the median ms/step of the real training loop (`trainHead`: sampling, batch gather,
 * mixup draw, soft targets and the ORT step graph; warm-up steps excluded) with a breakdown, and,
 * when Debian's /usr/bin/python3 has torch, the same loop in PyTorch (bench/peers/torch_train.py,
 * OPENBLAS_CORETYPE=SkylakeX, same thread count) and the ratio torch_ms / our_ms (> 1: we are
 * faster).
 *
 * Usage: deno run -A bench/train_step.ts [--steps 48] [--warmup 8] [--threads 2] [--rows 65536]
 *        [--seed 0] [--unroll 4] [--no-peer]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type GroupLayout, groupLayout } from "../lib/groups.ts";
import { matrix } from "../lib/matrix.ts";
import { createRng, shuffle } from "../lib/random.ts";
import { hyperRule } from "../lib/train/hyperrule.ts";
import { mixupDraw } from "../lib/train/mixup.ts";
import { createBatchSampler } from "../lib/train/sampler.ts";
import { createOrtStep } from "../lib/train/step_graph.ts";
import { DEFAULT_UNROLL, gatherSource, trainHead } from "../lib/train/trainer.ts";

const args = parseArgs({
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
function int(name: string, min: number): number {
  const v = Number(args.values[name as keyof typeof args.values]);
  if (!Number.isInteger(v) || v < min) {
    console.error(`--${name} must be an integer >= ${min}, got "${args.values[name as "steps"]}"`);
    Deno.exit(2);
  }
  return v;
}
const STEPS = int("steps", 1);
const WARMUP = int("warmup", 0);
const THREADS = int("threads", 1);
const N = int("rows", 512);
const SEED = int("seed", 0);
const UNROLL = int("unroll", 1);
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

// Seeded synthetic features: post-ReLU values around class centroids (uniform noise keeps the
// generation of 134M values to about a second).
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
const layout = groupLayout(groups, C);
console.error(
  `features ${N} x ${D} generated in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
);

async function loopMs(lay: GroupLayout | null): Promise<{ median: number; p10: number }> {
  const rule = hyperRule(N, { steps: WARMUP + STEPS, mixupAlpha: 0.1 });
  const stamps: number[] = [];
  let last = performance.now();
  await trainHead({
    source: gatherSource(feats),
    labels,
    numClasses: C,
    layout: lay,
    rule,
    seed: SEED,
    threads: THREADS,
    unroll: UNROLL,
    onProgress: () => {
      const now = performance.now();
      stamps.push(now - last);
      last = now;
    },
  });
  // With unroll k, progress arrives in bursts of k: average over whole runs.
  const perRun: number[] = [];
  for (let i = WARMUP - (WARMUP % UNROLL) + UNROLL; i + UNROLL <= stamps.length; i += UNROLL) {
    perRun.push(stamps.slice(i, i + UNROLL).reduce((a, b) => a + b, 0) / UNROLL);
  }
  const v = perRun.length ? perRun : stamps.slice(WARMUP);
  return { median: median(v), p10: p10(v) };
}

/**
 * Times the pieces of one (not unrolled) step separately: `step.run` (soft targets + the ORT
 * graph), the batch gather, and the rest of the TypeScript preparation (labels, mixup draw).
 */
async function breakdown(lay: GroupLayout | null) {
  const O = lay ? lay.numOutputs : C;
  const step = await createOrtStep(
    { batch: B, dim: D, numOutputs: O, layout: lay, mixup: true },
    { threads: THREADS },
  );
  const sampler = createBatchSampler(SEED, N, B);
  const source = gatherSource(feats);
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
    for (let i = 0; i < B; i++) y[i] = labels[idx[i]];
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

const ours = {
  group: await loopMs(layout),
  flat: await loopMs(null),
};
const parts = { group: await breakdown(layout), flat: await breakdown(null) };

interface Peer {
  group_ms: number;
  group_p10_ms: number;
  flat_ms: number;
  flat_p10_ms: number;
  torch: string;
  threads: number;
}
let peer: Peer | undefined;
let peerNote = "";
const py = "/usr/bin/python3";
if (args.values["no-peer"]) {
  peerNote = "torch peer skipped (--no-peer)";
} else {
  let hasTorch = false;
  try {
    hasTorch =
      (await new Deno.Command(py, { args: ["-c", "import torch"], stderr: "null" }).output())
        .success;
  } catch {
    hasTorch = false;
  }
  if (!hasTorch) {
    peerNote = `torch peer not run: ${py} is missing or cannot import torch`;
  } else {
    const script = new URL("./peers/torch_train.py", import.meta.url).pathname;
    const r = await new Deno.Command(py, {
      args: [script, N, D, B, STEPS, WARMUP, THREADS, SEED, SIZES.join(",")].map(String),
      env: { OPENBLAS_CORETYPE: "SkylakeX", OMP_NUM_THREADS: String(THREADS) },
    }).output();
    if (r.success) peer = JSON.parse(new TextDecoder().decode(r.stdout));
    else {
      peerNote = `torch peer failed: ${
        new TextDecoder().decode(r.stderr).trim().split("\n").pop()
      }`;
    }
  }
}

console.log(
  `Head training step, batch ${B}, ${N} x ${D} features, mixup 0.1, ${THREADS} threads, ` +
    `unroll ${UNROLL}, ${STEPS} steps after ${WARMUP} warm-up steps; ms/step as median ` +
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
  const ms = ours[name];
  const pt = parts[name];
  const tm = peer ? { median: peer[`${name}_ms`], p10: peer[`${name}_p10_ms`] } : undefined;
  console.log(
    `| ${label} | ${f2(ms.median)} (${f2(ms.p10)}) | ${f2(pt.graph)} | ${f2(pt.gather)} | ` +
      `${f2(pt.prep)} | ${tm ? `${f2(tm.median)} (${f2(tm.p10)})` : "-"} | ` +
      `${tm ? `${f2(tm.median / ms.median)} (${f2(tm.p10 / ms.p10)})` : "-"} |`,
  );
}
if (peer) console.log(`torch ${peer.torch}, ${peer.threads} threads (${py})`);
if (peerNote) console.log(peerNote);
