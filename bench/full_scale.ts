/**
 * `deno task bench-full`: the ImageNet-scale end-to-end run. Generates a seeded synthetic
 * 1,281,167 x 2048 training feature set (float16 on disk, 5.2 GB; streamed, never whole in
 * memory) with 1000 classes, plus an ID set (50,000) and four OOD sets (10,000 x 3 + 5,640), then
 * runs, each as a subprocess under GNU `time -v`:
 *
 * 1. `deno task train-head --groups taxonomy` on the full set (20,000 HyperRule steps);
 * 2. `deno task train-head` flat with `--steps 1000` (a flat head for the flat-head scores; its
 *    quality does not change their cost);
 * 3. `deno task score` of the group head (MOS) and of the flat head with `--train` the full set
 *    (MSP, ODIN, Energy, KL matching, Mahalanobis with statistics streamed over 1.28M rows).
 *
 * and prints wall time and peak resident memory of each, with the group head's loss curve.
 * Features are learnable: relu(class centroid + noise); OOD rows mix two centroids.
 *
 * Usage: deno run -A bench/full_scale.ts [--dir /tmp/mos-full] [--rows 1281167]
 *        [--dtype f16|f32] [--steps 20000] [--flat-steps 1000] [--threads N] [--seed 0]
 *        [--keep]
 * Needs ~6 GB free under --dir (f16; f32: ~11 GB) and /usr/bin/time (apt-get install time).
 * The data is kept for reruns (regenerated only when the options change) unless
 * `--clean` is given, which removes --dir at the end.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { writeJsonAtomic } from "../lib/io/atomic.ts";
import { encodeNpyHeader, float32ToFloat16Bits, writeNpy } from "../lib/io/npy.ts";
import { createRng, type Rng } from "../lib/random.ts";

const GENERATOR_VERSION = 1;
const D = 2048;
const C = 1000;
const ID_ROWS = 50_000;
const OOD = [
  { name: "ood_a", rows: 10_000 },
  { name: "ood_b", rows: 10_000 },
  { name: "ood_c", rows: 10_000 },
  { name: "ood_d", rows: 5_640 },
];
const NOISE_BITS = 22;

function parseFlagsOrExit() {
  try {
    return parseArgs({
      options: {
        dir: { type: "string", default: "/tmp/mos-full" },
        rows: { type: "string", default: "1281167" },
        dtype: { type: "string", default: "f16" },
        steps: { type: "string", default: "20000" },
        "flat-steps": { type: "string", default: "1000" },
        threads: { type: "string" },
        seed: { type: "string", default: "0" },
        clean: { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
      strict: true,
    }).values;
  } catch (e) {
    // An unknown flag or a missing value: one line and exit 2, as every task.
    console.error(`error: ${(e as Error).message}; see \`deno task bench-full --help\``);
    Deno.exit(2);
  }
}
const args = parseFlagsOrExit();
if (args.help) {
  console.log(
    "deno task bench-full [--dir /tmp/mos-full] [--rows 1281167] [--dtype f16|f32] " +
      "[--steps 20000] [--flat-steps 1000] [--threads N] [--seed 0] [--clean]",
  );
  Deno.exit(0);
}
function posInt(name: string, v: string | undefined): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) {
    console.error(`--${name} must be a positive integer, got "${v}"`);
    Deno.exit(2);
  }
  return n;
}
const DIR = args.dir!;
const ROWS = posInt("rows", args.rows);
const STEPS = posInt("steps", args.steps);
const FLAT_STEPS = posInt("flat-steps", args["flat-steps"]);
const SEED = Number(args.seed);
if (!Number.isSafeInteger(SEED) || SEED < 0) {
  console.error(`--seed must be a non-negative integer, got "${args.seed}"`);
  Deno.exit(2);
}
if (args.dtype !== "f16" && args.dtype !== "f32") {
  console.error(`--dtype must be f16 or f32, got "${args.dtype}"`);
  Deno.exit(2);
}
const F16 = args.dtype === "f16";
const threadArgs = args.threads ? ["--threads", String(posInt("threads", args.threads))] : [];

// ------------------------------------------------------------------------------------------
// Preconditions: disk space and GNU time.

async function freeBytes(path: string): Promise<number> {
  await Deno.mkdir(path, { recursive: true });
  const r = await new Deno.Command("df", { args: ["-Pk", path], stdout: "piped" }).output();
  const line = new TextDecoder().decode(r.stdout).trim().split("\n").pop() ?? "";
  return Number(line.split(/\s+/)[3]) * 1024;
}

const totalRows = ROWS + ID_ROWS + OOD.reduce((a, o) => a + o.rows, 0);
const needBytes = totalRows * D * (F16 ? 2 : 4) + (1 << 30);
const config = { version: GENERATOR_VERSION, rows: ROWS, dtype: args.dtype, seed: SEED, D, C };
const stampPath = `${DIR}/generator.json`;
const existing = await Deno.readTextFile(stampPath).catch(() => "");
const reuse = existing === JSON.stringify(config);
if (!reuse) {
  const free = await freeBytes(DIR);
  if (free < needBytes) {
    console.error(
      `bench-full needs about ${(needBytes / 1e9).toFixed(1)} GB free under ${DIR} but only ` +
        `${(free / 1e9).toFixed(1)} GB are; free space or pass --dir on a larger disk`,
    );
    Deno.exit(1);
  }
}
const TIME = "/usr/bin/time";
if (!(await Deno.stat(TIME).then(() => true, () => false))) {
  console.error(`${TIME} not found; install GNU time (apt-get install time)`);
  Deno.exit(1);
}

// ------------------------------------------------------------------------------------------
// Generation: x = relu(mu_y + noise), mu = |N(0, 0.5)| - 0.15 per class and dimension (about a
// quarter of the entries zero, like BiT's post-ReLU features); noise comes from a seeded table
// of 2^22 normals at sigma 0.6 read at a random offset per row, which keeps generation to a few
// nanoseconds a value. OOD rows average two classes' centroids with sigma 0.8.

const rng = createRng(SEED);
const mu = new Float32Array(C * D);
for (let i = 0; i < mu.length; i++) mu[i] = Math.abs(rng.normal()) * 0.5 - 0.15;
const noise = new Float32Array(1 << NOISE_BITS);
for (let i = 0; i < noise.length; i++) noise[i] = rng.normal();
const MASK = noise.length - 1;

function fillRow(out: Float32Array, at: number, y: number, y2: number, r: Rng): void {
  const off = r.uint32() & MASK;
  const a = y * D;
  const b = y2 * D;
  if (y2 < 0) {
    for (let j = 0; j < D; j++) {
      const v = mu[a + j] + 0.6 * noise[(off + j) & MASK];
      out[at + j] = v > 0 ? v : 0;
    }
  } else {
    for (let j = 0; j < D; j++) {
      const v = 0.5 * (mu[a + j] + mu[b + j]) + 0.8 * noise[(off + j) & MASK];
      out[at + j] = v > 0 ? v : 0;
    }
  }
}

async function writeSet(
  name: string,
  rows: number,
  ood: boolean,
  r: Rng,
): Promise<void> {
  const dir = `${DIR}/${name}`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.remove(`${dir}/meta.json`).catch(() => {});
  const labels = new Int32Array(rows);
  for (let i = 0; i < rows; i++) labels[i] = ood ? -1 : i < C ? i : r.int(C);
  const file = await Deno.open(`${dir}/features.npy`, {
    write: true,
    create: true,
    truncate: true,
  });
  const t0 = performance.now();
  try {
    const header = encodeNpyHeader(F16 ? "<f2" : "<f4", [rows, D]);
    file.writeSync(header);
    const CHUNK = 4096;
    const buf = new Float32Array(CHUNK * D);
    let lastReport = t0;
    for (let s = 0; s < rows; s += CHUNK) {
      const n = Math.min(CHUNK, rows - s);
      for (let i = 0; i < n; i++) {
        fillRow(buf, i * D, ood ? r.int(C) : labels[s + i], ood ? r.int(C) : -1, r);
      }
      const part = buf.subarray(0, n * D);
      const bytes = F16
        ? new Uint8Array(float32ToFloat16Bits(part).buffer)
        : new Uint8Array(part.buffer, 0, part.byteLength);
      for (let off = 0; off < bytes.length;) off += file.writeSync(bytes.subarray(off));
      const now = performance.now();
      if (now - lastReport > 10_000) {
        const done = s + n;
        const eta = ((now - t0) / done) * (rows - done) / 1000;
        console.error(
          `  ${name}: ${done}/${rows} rows (${((100 * done) / rows).toFixed(0)}%), ` +
            `ETA ${eta.toFixed(0)} s`,
        );
        lastReport = now;
      }
    }
  } finally {
    file.close();
  }
  await writeNpy(`${dir}/labels.npy`, { dtype: "<i4", shape: [rows], data: labels });
  await writeJsonAtomic(`${dir}/meta.json`, {
    dataset: `synthetic-full-${name}`,
    backbone: "synthetic-full",
    dim: D,
    count: rows,
    dtype: F16 ? "float16" : "float32",
    num_classes: C,
    preprocess: "synthetic: relu(class centroid + noise), bench/full_scale.ts",
    generator: config,
    complete: true,
  });
  console.error(
    `  ${name}: ${rows} x ${D} ${args.dtype} in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
}

const fmtS = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
let genMs = 0;
if (reuse) {
  console.error(`bench-full: reusing the generated sets in ${DIR} (${stampPath} matches)`);
} else {
  console.error(
    `bench-full: generating ${ROWS} x ${D} training features (${args.dtype}) + evaluation sets ` +
      `in ${DIR}`,
  );
  await Deno.remove(stampPath).catch(() => {});
  const g0 = performance.now();
  await writeSet("train", ROWS, false, createRng(SEED + 1));
  await writeSet("id", ID_ROWS, false, createRng(SEED + 2));
  for (const [i, o] of OOD.entries()) await writeSet(o.name, o.rows, true, createRng(SEED + 3 + i));
  await Deno.writeTextFile(stampPath, JSON.stringify(config));
  genMs = performance.now() - g0;
}

// ------------------------------------------------------------------------------------------
// Timed subprocesses.

interface Timed {
  name: string;
  wallS: number;
  maxRssKb: number;
  ok: boolean;
  stdout: string;
}

/** Runs `deno task ARGS` under GNU time -v; stderr (progress bar with ETA) passes through. */
async function timedTask(name: string, taskArgs: string[]): Promise<Timed> {
  const report = await Deno.makeTempFile({ prefix: "mos_time_" });
  console.error(`\n$ deno task ${taskArgs.join(" ")}`);
  const root = new URL("..", import.meta.url).pathname;
  const r = await new Deno.Command(TIME, {
    args: ["-v", "-o", report, Deno.execPath(), "task", ...taskArgs],
    cwd: root,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const stdout = new TextDecoder().decode(r.stdout);
  // train-head prints a short summary; score prints the whole metrics table (kept in its --out).
  const lines = stdout.trimEnd().split("\n");
  if (stdout.trim()) {
    console.error(lines.slice(0, 6).join("\n") + (lines.length > 6 ? "\n  ..." : ""));
  }
  const text = await Deno.readTextFile(report);
  await Deno.remove(report);
  const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(text)?.[1] ?? NaN);
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)/.exec(text)?.[1] ?? "";
  const wallS = wall.split(":").reduce((acc, p) => acc * 60 + Number(p), 0);
  return { name, wallS, maxRssKb: rss, ok: r.success, stdout };
}

const runs: Timed[] = [];
const trainDir = `${DIR}/train`;
const groupHead = `${DIR}/head-group`;
const flatHead = `${DIR}/head-flat`;
runs.push(
  await timedTask(`train-head group (taxonomy), ${STEPS} steps`, [
    "train-head",
    "--features",
    trainDir,
    "--out",
    groupHead,
    "--groups",
    "taxonomy",
    "--steps",
    String(STEPS),
    "--force",
    ...threadArgs,
  ]),
);
runs.push(
  await timedTask(`train-head flat, ${FLAT_STEPS} steps`, [
    "train-head",
    "--features",
    trainDir,
    "--out",
    flatHead,
    "--steps",
    String(FLAT_STEPS),
    "--force",
    ...threadArgs,
  ]),
);
const evalArgs = [
  "--id",
  `imagenet=${DIR}/id`,
  ...OOD.flatMap((o) => ["--ood", `${o.name}=${DIR}/${o.name}`]),
];
runs.push(
  await timedTask("score group head (mos)", [
    "score",
    "--head",
    groupHead,
    ...evalArgs,
    "--out",
    `${DIR}/score-group`,
    "--force",
    ...threadArgs,
  ]),
);
runs.push(
  await timedTask("score flat head (msp, odin, energy, kl, mahalanobis; --train full set)", [
    "score",
    "--head",
    flatHead,
    ...evalArgs,
    "--train",
    trainDir,
    "--out",
    `${DIR}/score-flat`,
    "--force",
    ...threadArgs,
  ]),
);

// ------------------------------------------------------------------------------------------
// Report.

const fileBytes = (await Deno.stat(`${trainDir}/features.npy`)).size;
const cpu = (await Deno.readTextFile("/proc/cpuinfo").catch(() => ""))
  .match(/model name\s*:\s*(.*)/)?.[1] ?? "unknown CPU";
console.log(
  `\nbench-full on ${cpu}, ${navigator.hardwareConcurrency} vCPU; training file ` +
    `${(fileBytes / 1e9).toFixed(2)} GB (${args.dtype}, ${ROWS} x ${D})` +
    (genMs ? `, generated in ${fmtS(genMs)}` : ""),
);
console.log("| run | wall | peak RSS | ok |");
console.log("| --- | ---: | ---: | --- |");
for (const r of runs) {
  const m = Math.floor(r.wallS / 60);
  const s = (r.wallS - 60 * m).toFixed(1).padStart(4, "0");
  console.log(
    `| ${r.name} | ${m}m${s}s | ${(r.maxRssKb / 1048576).toFixed(2)} GiB | ${
      r.ok ? "yes" : "FAILED"
    } |`,
  );
}
const groupInfo = await Deno.readTextFile(`${groupHead}/head.json`).then(JSON.parse, () => null);
if (groupInfo?.train?.final_loss !== undefined) {
  const sizes: number[] = groupInfo.groups.map((g: number[]) => g.length);
  const start = sizes.reduce((s, n) => s + Math.log(n + 1), 0);
  console.log(
    `group head (${sizes.length} taxonomy groups): loss ${
      start.toFixed(3)
    } at step 0 (zero head) ` +
      `-> ${Number(groupInfo.train.final_loss).toFixed(3)} at step ${groupInfo.train.steps} ` +
      "(one step's mixup loss, so noisy: the progress lines above show the trend)",
  );
}
for (const s of ["score-group", "score-flat"]) {
  const csv = await Deno.readTextFile(`${DIR}/${s}/timings.csv`).catch(() => "");
  if (csv) console.log(`\n${s}/timings.csv:\n${csv.trimEnd()}`);
}
const target = runs[0];
console.log(
  `\ntarget: group head end to end <= 12 min and peak RSS <= 4 GB beyond the file: ` +
    `${target.wallS <= 720 && target.maxRssKb * 1024 <= 4e9 ? "met" : "NOT met"}`,
);
if (args.clean) await Deno.remove(DIR, { recursive: true });
if (runs.some((r) => !r.ok)) Deno.exit(1);
