/**
 * Memory benchmark of the streamed detectors at ImageNet scale: writes a seeded synthetic float16
 * training feature file (`--rows` x `--dim`, default 1,281,167 x 2048, ~5.2 GB) in a temporary
 * directory, then runs
 * 1. KNN (k = `--k`): "fit" + exact streamed search for the first `--queries` rows as the ID test
 *    set (chunked ORT GEMM + running top-k; never an N_test x N_train matrix);
 * 2. RMDS fit (class Gaussian + background Gaussian, streamed two-pass scatter) and scoring of the
 *    same queries.
 * Prints wall time per phase and peak resident memory (VmHWM from /proc/self/status, reset
 * between phases through /proc/self/clear_refs where the kernel allows). The training file is read
 * with plain reads into bounded buffers, never mapped, so VmHWM is the process's own memory.
 * This is a script, not a test; the temporary directory is removed at the end (`--keep` keeps it).
 *
 * Usage: deno run -A bench/detectors_memory.ts [--rows N] [--dim D] [--classes C] [--queries Q]
 *        [--k K] [--chunk R] [--threads T] [--keep]
 *
 * @module
 */
import { parseBenchArgs } from "./bench_args.ts";
import { fitKnn, knn } from "../lib/detectors/knn.ts";
import { fitRmds, rmds } from "../lib/detectors/rmds.ts";
import { encodeNpyHeader, float32ToFloat16Bits, openNpy } from "../lib/io/npy.ts";

const { values } = parseBenchArgs("bench/detectors_memory.ts", {
  args: Deno.args,
  options: {
    rows: { type: "string", default: "1281167" },
    dim: { type: "string", default: "2048" },
    classes: { type: "string", default: "1000" },
    queries: { type: "string", default: "50000" },
    k: { type: "string", default: "50" },
    chunk: { type: "string", default: "8192" },
    threads: { type: "string" },
    keep: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(
    "deno run -A bench/detectors_memory.ts [--rows 1281167] [--dim 2048] [--classes 1000] " +
      "[--queries 50000] [--k 50] [--chunk 8192] [--threads N] [--keep]",
  );
  Deno.exit(0);
}
const int = (name: string, v: string | undefined, min = 1): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    console.error(`--${name} must be an integer >= ${min}, got "${v}"`);
    Deno.exit(2);
  }
  return n;
};
const N = int("rows", values.rows);
const D = int("dim", values.dim);
const C = int("classes", values.classes);
const Q = Math.min(int("queries", values.queries), N);
const K = int("k", values.k);
const chunkRows = int("chunk", values.chunk);
const threads = values.threads === undefined ? undefined : int("threads", values.threads);

function status(key: string): number {
  const m = Deno.readTextFileSync("/proc/self/status").match(new RegExp(`${key}:\\s+(\\d+) kB`));
  return m ? Number(m[1]) * 1024 : NaN;
}
function resetPeak(): boolean {
  try {
    Deno.writeTextFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}
const gib = (b: number) => (b / 2 ** 30).toFixed(2);

/**
 * Seeded synthetic post-ReLU-like features: class-dependent offset on a few channels plus
 * xorshift noise (fast integer generator: 2.6e9 values in seconds, full rank).
 */
async function writeTrain(path: string): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    await file.write(encodeNpyHeader("<f2", [N, D]));
    const block = 4096;
    const f32 = new Float32Array(block * D);
    let s = 0x9e3779b9 | 0;
    for (let r0 = 0; r0 < N; r0 += block) {
      const n = Math.min(block, N - r0);
      for (let r = 0; r < n; r++) {
        const c = (r0 + r) % C;
        const base = r * D;
        for (let j = 0; j < D; j++) {
          s ^= s << 13;
          s ^= s >>> 17;
          s ^= s << 5;
          const u = (s >>> 0) / 4294967296;
          // Channels j with (j % C) near c get a class offset; the rest is noise around 0.5.
          const v = u + (((j * 7 + c) % C) < 3 ? 2 : 0);
          f32[base + j] = v;
        }
      }
      const bits = float32ToFloat16Bits(f32.subarray(0, n * D));
      const bytes = new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength);
      for (let off = 0; off < bytes.length;) off += await file.write(bytes.subarray(off));
    }
  } finally {
    file.close();
  }
}

const dir = await Deno.makeTempDir({ prefix: "mos_detectors_mem_" });
try {
  const path = `${dir}/train_features.npy`;
  let t = performance.now();
  await writeTrain(path);
  console.log(
    `wrote ${N} x ${D} float16 (${gib((await Deno.stat(path)).size)} GiB) in ` +
      `${((performance.now() - t) / 1000).toFixed(1)} s; RSS ${gib(status("VmRSS"))} GiB`,
  );
  const train = await openNpy(path);
  const labels = Int32Array.from({ length: N }, (_, i) => i % C);
  const queries = { data: new Float32Array(Q * D), rows: Q, cols: D };
  await train.readRows(0, Q, queries.data);
  const opts = { chunkRows, threads };
  const canReset = resetPeak();
  const base = status("VmRSS");
  console.log(
    `queries: ${Q} x ${D} in memory; RSS before phases ${gib(base)} GiB` +
      (canReset ? "" : " (peak reset unavailable: peaks include earlier phases)"),
  );

  t = performance.now();
  const scoresKnn = await knn(fitKnn(train, K), queries, opts);
  const knnS = (performance.now() - t) / 1000;
  const knnPeak = status("VmHWM");
  console.log(
    `KNN k=${K}: ${Q} queries x ${N} train in ${knnS.toFixed(1)} s; peak RSS ` +
      `${gib(knnPeak)} GiB (${gib(knnPeak - base)} GiB above the pre-phase RSS); ` +
      `score[0] ${scoresKnn[0].toFixed(5)}`,
  );

  resetPeak();
  const base2 = status("VmRSS");
  t = performance.now();
  const model = await fitRmds(train, labels, C, opts);
  const fitS = (performance.now() - t) / 1000;
  t = performance.now();
  const scoresRmds = await rmds(model, queries, opts);
  const scoreS = (performance.now() - t) / 1000;
  const rmdsPeak = status("VmHWM");
  console.log(
    `RMDS: fit ${fitS.toFixed(1)} s, score ${Q} rows ${scoreS.toFixed(1)} s; peak RSS ` +
      `${gib(rmdsPeak)} GiB (${gib(rmdsPeak - base2)} GiB above the pre-phase RSS); ` +
      `score[0] ${scoresRmds[0].toFixed(3)}`,
  );
  train.close();
  console.log(`VmHWM at the end: ${gib(status("VmHWM"))} GiB (since the last reset)`);
} finally {
  if (!values.keep) await Deno.remove(dir, { recursive: true });
  else console.log(`kept ${dir}`);
}
