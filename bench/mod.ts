/**
 * `deno task bench`: the performance cases of the toolkit against reference peers measured in the
 * same run, printed as ONE table (case | ours | peer | ratio | target | ok):
 *
 * - head training at batch 512 on 65,536 x 2048 synthetic features, 1000 classes, group head
 *   (1008 outputs) and flat head: ms/step of `trainHead` vs a PyTorch CPU loop with the same
 *   HyperRule and group loss (bench/train_step.ts, bench/peers/torch_train.py);
 * - scoring at the paper's evaluation sizes (ID 50,000 + OOD 35,640 at D = 2048, C = 1000): each
 *   of the six paper scores from features, the six together with the metrics, and the
 *   Mahalanobis fit over 1,281,167 training rows, vs NumPy (bench/scoring.ts,
 *   bench/peers/scoring_numpy.py);
 * - AUROC + FPR95 + AUPR-In + AUPR-Out on 1,000,000 scores vs scikit-learn (bench/metrics.ts,
 *   bench/peers/metrics_sklearn.py).
 *
 * - with `--scale-21k`: the ImageNet-21k case (bench/scale21k.ts): the group-head step
 *   2048 -> 21,843 + 8 at batch 512 against the floor of its two products, and the six scores on
 *   `--rows-21k` x 2048 features at C = 21,843, each computation in its own process with its peak
 *   RSS, against NumPy / PyTorch peers.
 *
 * Peers run with Debian's /usr/bin/python3 (OpenBLAS core type from the CPU flags, see
 * bench/peer_env.ts; OpenBLAS on every core, torch's own thread count at its fastest setting, see
 * bench/peers/torch_train.py); a missing peer is reported and the table shows our figures alone;
 * a crashed one is reported with its signal. Ratio = peer / ours (> 1: we
 * are faster). The fit over 1,281,167 rows is extrapolated per row from `--fit-rows` (default
 * 100,000) unless `--fit-set DIR` streams a real training set (e.g. the one `deno task bench-full`
 * writes, /tmp/mos-full/train) or `--full-fit` writes a temporary 10.5 GB float32 file.
 *
 * Usage: deno task bench [--threads 2] [--steps 48] [--fit-rows 100000] [--fit-set DIR]
 *        [--full-fit] [--no-peer] [--quick] [--scale-21k [--rows-21k 100000] [--kl-block-mb 512]]
 *
 * @module
 */
import { UsageError } from "../lib/errors.ts";
import { DEFAULT_KL_BLOCK_MB } from "../lib/ort/kl_kernel.ts";
import { DEFAULT_UNROLL } from "../lib/train/trainer.ts";
import { defineTask, type FlagValuesOf, runTask } from "../tasks/_shared/cli.ts";
import { runMetricsBench } from "./metrics.ts";
import { coreTypeNote } from "./peer_env.ts";
import { type Row21k, runScale21kBench } from "./scale21k.ts";
import { runScoringBench } from "./scoring.ts";
import { peerSummary, runTrainBench } from "./train_step.ts";

export const SPEC = defineTask({
  name: "bench",
  summary: "Performance cases of the toolkit against NumPy / scikit-learn / PyTorch peers.",
  usage: "deno task bench [options]",
  flags: {
    threads: {
      type: "number",
      integer: true,
      min: 1,
      default: navigator.hardwareConcurrency ?? 2,
      help: "N    onnxruntime and peer threads",
    },
    steps: { type: "number", integer: true, min: 1, default: 48, help: "N    timed train steps" },
    "fit-rows": {
      type: "number",
      integer: true,
      min: 1,
      max: 1e8,
      default: 100_000,
      help: "N    Mahalanobis fit rows (extrapolated to 1,281,167)",
    },
    "fit-set": { type: "string", help: "DIR  stream the fit from this feature set" },
    "full-fit": { type: "boolean", help: "stream the fit from a temporary 10.5 GB file" },
    "no-peer": { type: "boolean", help: "skip the Python peers" },
    quick: { type: "boolean", help: "small sizes: a smoke test, targets not judged" },
    "scale-21k": { type: "boolean", help: "also run the ImageNet-21k case (bench/scale21k.ts)" },
    "rows-21k": {
      type: "number",
      integer: true,
      min: 1,
      max: 1e7,
      default: 100_000,
      help: "N    feature rows of the 21k scoring case",
    },
    "kl-block-mb": {
      type: "number",
      min: 0,
      exclusiveMin: true,
      max: 1e6,
      default: DEFAULT_KL_BLOCK_MB,
      help: "MB   KL template block of the 21k case",
    },
    "timeout-21k": {
      type: "number",
      integer: true,
      min: 1,
      max: 86_400,
      default: 3600,
      help: "S    per-computation limit of the 21k case, ours and the peers'",
    },
  },
});

type Values = FlagValuesOf<typeof SPEC.flags>;

interface Row {
  name: string;
  ours: string;
  peer: string;
  ratio: string;
  target: string;
  ok: string;
}

/** The table under construction and how each row is judged. */
interface Report {
  table: Row[];
  notes: string[];
  quick: boolean;
  log: (m: string) => void;
}

const f = (v: number, d: number) => v.toFixed(d);
const judge = (r: Report, pass: boolean) => (r.quick ? "-" : pass ? "yes" : "NO");
const ratioOf = (peer: number | undefined, ours: number) =>
  peer !== undefined ? `${f(peer / ours, 2)}x` : "-";

async function trainRows(v: Values, r: Report): Promise<void> {
  r.log("head training: 65,536 x 2048 features, batch 512 (group head, flat head, torch peer)");
  const train = await runTrainBench({
    steps: r.quick ? 8 : v.steps,
    warmup: r.quick ? 4 : 8,
    threads: v.threads,
    rows: r.quick ? 4096 : 65_536,
    seed: 0,
    unroll: DEFAULT_UNROLL,
    peer: !v["no-peer"],
    breakdown: false,
    log: r.log,
  });
  for (const [kind, limitMs, minRatio] of [["group", 25, 3], ["flat", 20, 2.4]] as const) {
    const ours = train.ours[kind].median;
    const p = train.peer?.[kind].median;
    const ratio = p !== undefined ? p / ours : undefined;
    r.table.push({
      name: `train step, ${kind} head 2048->${train.outputs[kind]}, batch 512 (ms/step)`,
      ours: f(ours, 2),
      peer: p !== undefined ? f(p, 2) : "-",
      ratio: ratioOf(p, ours),
      target: `<= ${limitMs} ms, >= ${minRatio}x`,
      ok: judge(r, ours <= limitMs && (ratio === undefined || ratio >= minRatio)),
    });
  }
  r.notes.push(train.peer ? peerSummary(train.peer) : train.peerNote);
}

async function scoringRows(v: Values, r: Report): Promise<void> {
  const fitRows = v["fit-rows"];
  r.log(
    "scoring: ID 50,000 + OOD 35,640 at D = 2048, C = 1000; Mahalanobis fit " +
      (v["fit-set"]
        ? `streamed from ${v["fit-set"]}`
        : v["full-fit"]
        ? "streamed from a temporary 1,281,167-row file"
        : `on ${fitRows} rows`) +
      " (numpy peer)",
  );
  const s = await runScoringBench({
    train: fitRows,
    full: v["full-fit"],
    fitSet: v["fit-set"],
    threads: v.threads,
    seed: 0,
    scale: r.quick ? 0.05 : 1,
    peer: !v["no-peer"],
  });
  for (const row of s.scores) {
    r.table.push({
      name: `score: ${row.name}, features -> score (ms)`,
      ours: f(row.ms, 0),
      peer: row.peerMs !== undefined ? f(row.peerMs, 0) : "-",
      ratio: ratioOf(row.peerMs, row.ms),
      target: ">= 1x",
      ok: row.peerMs !== undefined ? judge(r, row.peerMs / row.ms >= 1) : "-",
    });
  }
  r.table.push({
    name: `six scores + metrics, ${s.nEval} x 2048 (s)`,
    ours: f(s.wallMs / 1000, 2),
    peer: s.peerWallMs !== undefined ? f(s.peerWallMs / 1000, 2) : "-",
    ratio: ratioOf(s.peerWallMs, s.wallMs),
    target: "<= 15 s",
    ok: judge(r, s.wallMs <= 15_000),
  }, {
    name: `read eval features, ${s.nEval} x 2048 float32 .npy (ms), outside the total`,
    ours: f(s.readMs, 0),
    peer: s.peerReadMs !== undefined ? f(s.peerReadMs, 0) : "-",
    ratio: ratioOf(s.peerReadMs, s.readMs),
    target: "reported",
    ok: "-",
  }, {
    name: `mahalanobis fit, 1,281,167 rows (s)` +
      (s.nTrain === 1_281_167 ? ", streamed" : `, extrapolated from ${s.nTrain}`),
    ours: f(s.fitFullMs / 1000, 1),
    peer: s.peerFitFullMs !== undefined ? f(s.peerFitFullMs / 1000, 1) : "-",
    ratio: ratioOf(s.peerFitFullMs, s.fitFullMs),
    target: "<= 60 s",
    ok: judge(r, s.fitFullMs <= 60_000),
  });
  r.notes.push(
    "scores: the shared logits matmul is counted in each score that needs it; the peer's " +
      "six-score total excludes metrics; the fit inverse is float64 Cholesky (" +
      `${s.inverseMethod})`,
  );
  if (s.peerNote) r.notes.push(s.peerNote);
  if (s.agreement) r.notes.push(s.agreement);
}

async function metricsRows(v: Values, r: Report): Promise<void> {
  r.log("metrics: AUROC + FPR95 + AUPR-In + AUPR-Out on 1,000,000 scores (sklearn peer)");
  const m = await runMetricsBench({
    scores: r.quick ? 100_000 : 1_000_000,
    reps: r.quick ? 2 : 5,
    seed: 0,
    peer: !v["no-peer"],
  });
  r.table.push({
    name: `metrics (4), ${r.quick ? "100,000" : "1,000,000"} scores (ms)`,
    ours: f(m.ms, 0),
    peer: m.peer ? f(m.peer.ms, 0) : "-",
    ratio: ratioOf(m.peer?.ms, m.ms),
    target: "<= 1000 ms",
    ok: judge(r, m.ms <= 1000),
  });
  r.notes.push(
    m.peer
      ? `sklearn ${m.peer.version}: get_measures of the released MOS code; worst metric ` +
        `difference vs ours ${m.worstDiff!.toExponential(1)}`
      : m.peerNote,
  );
}

/** "1234 ms, 2345 MB" or the reason there is no figure. */
function cell(m: Row21k["ours"]): string {
  return "error" in m ? m.error : `${f(m.ms, 0)} ms, ${f(m.rssMb, 0)} MB`;
}

async function scale21kRows(v: Values, r: Report): Promise<void> {
  const rows = v["rows-21k"];
  r.log(`ImageNet-21k case: C = 21,843, ${rows} x 2048 features, step 2048 -> 21,851`);
  const res = await runScale21kBench({
    rows,
    threads: v.threads,
    seed: 0,
    peer: !v["no-peer"],
    klBlockMb: v["kl-block-mb"],
    timeoutS: v["timeout-21k"],
    log: r.log,
  });
  const ms = (m: Row21k["ours"]) => ("error" in m ? undefined : m.ms);
  // The BLAS floor: the faster of onnxruntime's and NumPy's run of the step's two products.
  const floor = res.find((x) => x.name === "floor")!;
  const floors = [ms(floor.ours), ms(floor.peer)].filter((x): x is number => x !== undefined);
  const best = floors.length ? Math.min(...floors) : undefined;
  for (const x of res) {
    const o = ms(x.ours);
    const p = ms(x.peer);
    const rss = "error" in x.ours ? undefined : x.ours.rssMb;
    const isStep = x.name === "step";
    const target = isStep
      ? "<= 1.25x BLAS floor, < 4 GB"
      : x.name === "floor"
      ? "reported"
      : ">= 1x numpy, < 4 GB";
    const pass = isStep
      ? o !== undefined && best !== undefined && o <= 1.25 * best && rss! < 4096
      : x.name === "floor"
      ? undefined
      : o !== undefined && rss! < 4096 && (p === undefined || p >= o);
    r.table.push({
      name: isStep
        ? "21k: group-head step 2048->21,851, batch 512 (peer: torch)" +
          (best !== undefined && o !== undefined ? `; ${f(o / best, 2)}x the BLAS floor` : "")
        : x.name === "floor"
        ? "21k: step's two products X W^T + G^T X (peer: numpy)"
        : `21k: ${x.name}, ${rows} x 2048 features -> score at C = 21,843`,
      ours: cell(x.ours),
      peer: cell(x.peer),
      ratio: o !== undefined ? ratioOf(p, o) : "-",
      target,
      ok: pass === undefined ? "-" : judge(r, pass),
    });
  }
  r.notes.push(
    "21k: each computation in its own process, peak RSS = VmHWM of /proc/self/status (ours and the peers), " +
      "including the inputs it holds (KL: the 1.9 GB templates, ours logged in place, NumPy's " +
      "kept with their log beside them); BLAS floor = the faster of " +
      `onnxruntime's and NumPy's two products (${best !== undefined ? f(best, 0) : "-"} ms)`,
  );
}

function printTable(v: Values, r: Report, cpu: string): void {
  console.log(
    `\nMOS toolkit bench${r.quick ? " (--quick: small sizes, targets not judged)" : ""}: ${cpu}, ` +
      `${navigator.hardwareConcurrency} vCPU, ${v.threads} threads, Deno ${Deno.version.deno}`,
  );
  const cols: (keyof Row)[] = ["name", "ours", "peer", "ratio", "target", "ok"];
  console.log(`| case | ours | peer | ratio | target | ok |`);
  console.log("| --- | ---: | ---: | ---: | --- | --- |");
  for (const row of r.table) console.log(`| ${cols.map((c) => row[c]).join(" | ")} |`);
  for (const n of r.notes) console.log(`- ${n}`);
}

async function main(v: Values): Promise<void> {
  const quick = v.quick;
  // The scoring bench's fit needs D + C = 3048 rows (--quick scales every row count by 0.05).
  if (!v["fit-set"] && !v["full-fit"] && v["fit-rows"] * (quick ? 0.05 : 1) < 3048) {
    throw new UsageError(
      `--fit-rows ${v["fit-rows"]} is too few for the Mahalanobis fit: it needs 3048 rows ` +
        `(D + C)${quick ? " after --quick's 0.05 scale, so at least 60960" : ""}`,
    );
  }
  const r: Report = {
    table: [],
    notes: [coreTypeNote()],
    quick,
    log: (m: string) => console.error(`[bench] ${m}`),
  };
  await trainRows(v, r);
  await scoringRows(v, r);
  await metricsRows(v, r);
  if (v["scale-21k"]) await scale21kRows(v, r);
  const cpu = (await Deno.readTextFile("/proc/cpuinfo").catch(() => ""))
    .match(/model name\s*:\s*(.*)/)?.[1] ?? "unknown CPU";
  printTable(v, r, cpu);
}

if (import.meta.main) await runTask(SPEC, main);
