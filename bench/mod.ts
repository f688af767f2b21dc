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
 * Peers run with Debian's /usr/bin/python3 (OPENBLAS_CORETYPE=SkylakeX; OpenBLAS on every core,
 * torch's own thread count at its fastest setting, see bench/peers/torch_train.py);
 * a missing peer is reported and the table shows our figures alone. Ratio = peer / ours (> 1: we
 * are faster). The fit over 1,281,167 rows is extrapolated per row from `--fit-rows` (default
 * 100,000) unless `--fit-set DIR` streams a real training set (e.g. the one `deno task bench-full`
 * writes, /tmp/mos-full/train) or `--full-fit` writes a temporary 10.5 GB float32 file.
 *
 * Usage: deno task bench [--threads 2] [--steps 48] [--fit-rows 100000] [--fit-set DIR]
 *        [--full-fit] [--no-peer] [--quick]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { runMetricsBench } from "./metrics.ts";
import { runScoringBench } from "./scoring.ts";
import { peerSummary, runTrainBench } from "./train_step.ts";
import { DEFAULT_UNROLL } from "../lib/train/trainer.ts";

const { values: args } = parseArgs({
  options: {
    threads: { type: "string", default: String(navigator.hardwareConcurrency ?? 2) },
    steps: { type: "string", default: "48" },
    "fit-rows": { type: "string", default: "100000" },
    "fit-set": { type: "string" },
    "full-fit": { type: "boolean", default: false },
    "no-peer": { type: "boolean", default: false },
    quick: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
  strict: true,
});
if (args.help) {
  console.log(
    "deno task bench [--threads N] [--steps 48] [--fit-rows 100000] [--fit-set DIR] " +
      "[--full-fit] [--no-peer] [--quick (small sizes: a smoke test, targets not judged)]",
  );
  Deno.exit(0);
}
const posInt = (name: "threads" | "steps" | "fit-rows"): number => {
  const v = Number(args[name]);
  if (!Number.isInteger(v) || v < 1) {
    console.error(`--${name} must be a positive integer, got "${args[name]}"`);
    Deno.exit(2);
  }
  return v;
};
const threads = posInt("threads");
const quick = args.quick!;
// The scoring bench's fit needs D + C = 3048 rows (--quick scales every row count by 0.05).
if (!args["fit-set"] && !args["full-fit"] && posInt("fit-rows") * (quick ? 0.05 : 1) < 3048) {
  console.error(
    `--fit-rows ${args["fit-rows"]} is too few for the Mahalanobis fit: it needs 3048 rows ` +
      `(D + C)${quick ? " after --quick's 0.05 scale, so at least 60960" : ""}`,
  );
  Deno.exit(2);
}
const peer = !args["no-peer"];
const log = (m: string) => console.error(`[bench] ${m}`);

interface Row {
  name: string;
  ours: string;
  peer: string;
  ratio: string;
  target: string;
  ok: string;
}
const table: Row[] = [];
const notes: string[] = [];
const judge = (pass: boolean) => (quick ? "-" : pass ? "yes" : "NO");
const f = (v: number, d: number) => v.toFixed(d);

// ------------------------------------------------------------------------------------------
// Head training.

log("head training: 65,536 x 2048 features, batch 512 (group head, flat head, torch peer)");
const train = await runTrainBench({
  steps: quick ? 8 : posInt("steps"),
  warmup: quick ? 4 : 8,
  threads,
  rows: quick ? 4096 : 65_536,
  seed: 0,
  unroll: DEFAULT_UNROLL,
  peer,
  breakdown: false,
  log,
});
for (
  const [kind, limitMs, minRatio] of [["group", 25, 3], ["flat", 20, 2.4]] as const
) {
  const ours = train.ours[kind].median;
  const p = train.peer?.[kind].median;
  const ratio = p !== undefined ? p / ours : undefined;
  table.push({
    name: `train step, ${kind} head 2048->${train.outputs[kind]}, batch 512 (ms/step)`,
    ours: f(ours, 2),
    peer: p !== undefined ? f(p, 2) : "-",
    ratio: ratio !== undefined ? `${f(ratio, 2)}x` : "-",
    target: `<= ${limitMs} ms, >= ${minRatio}x`,
    ok: judge(ours <= limitMs && (ratio === undefined || ratio >= minRatio)),
  });
}
if (train.peer) {
  notes.push(peerSummary(train.peer));
} else notes.push(train.peerNote);

// ------------------------------------------------------------------------------------------
// Scoring.

log(
  "scoring: ID 50,000 + OOD 35,640 at D = 2048, C = 1000; Mahalanobis fit " +
    (args["fit-set"]
      ? `streamed from ${args["fit-set"]}`
      : args["full-fit"]
      ? "streamed from a temporary 1,281,167-row file"
      : `on ${posInt("fit-rows")} rows`) +
    " (numpy peer)",
);
const scoring = await runScoringBench({
  train: posInt("fit-rows"),
  full: args["full-fit"]!,
  fitSet: args["fit-set"],
  threads,
  seed: 0,
  scale: quick ? 0.05 : 1,
  peer,
});
for (const s of scoring.scores) {
  const ratio = s.peerMs !== undefined ? s.peerMs / s.ms : undefined;
  table.push({
    name: `score: ${s.name}, features -> score (ms)`,
    ours: f(s.ms, 0),
    peer: s.peerMs !== undefined ? f(s.peerMs, 0) : "-",
    ratio: ratio !== undefined ? `${f(ratio, 2)}x` : "-",
    target: ">= 1x",
    ok: ratio !== undefined ? judge(ratio >= 1) : "-",
  });
}
table.push({
  name: `six scores + metrics, ${scoring.nEval} x 2048 (s)`,
  ours: f(scoring.wallMs / 1000, 2),
  peer: scoring.peerWallMs !== undefined ? f(scoring.peerWallMs / 1000, 2) : "-",
  ratio: scoring.peerWallMs !== undefined ? `${f(scoring.peerWallMs / scoring.wallMs, 2)}x` : "-",
  target: "<= 15 s",
  ok: judge(scoring.wallMs <= 15_000),
});
table.push({
  name: `read eval features, ${scoring.nEval} x 2048 float32 .npy (ms), outside the total`,
  ours: f(scoring.readMs, 0),
  peer: scoring.peerReadMs !== undefined ? f(scoring.peerReadMs, 0) : "-",
  ratio: scoring.peerReadMs !== undefined ? `${f(scoring.peerReadMs / scoring.readMs, 2)}x` : "-",
  target: "reported",
  ok: "-",
});
const streamed = scoring.nTrain === 1_281_167;
table.push({
  name: `mahalanobis fit, 1,281,167 rows (s)` +
    (streamed ? ", streamed" : `, extrapolated from ${scoring.nTrain}`),
  ours: f(scoring.fitFullMs / 1000, 1),
  peer: scoring.peerFitFullMs !== undefined ? f(scoring.peerFitFullMs / 1000, 1) : "-",
  ratio: scoring.peerFitFullMs !== undefined
    ? `${f(scoring.peerFitFullMs / scoring.fitFullMs, 2)}x`
    : "-",
  target: "<= 60 s",
  ok: judge(scoring.fitFullMs <= 60_000),
});
notes.push(
  "scores: the shared logits matmul is counted in each score that needs it; the peer's " +
    "six-score total excludes metrics; the fit inverse is float64 Cholesky (" +
    `${scoring.inverseMethod})`,
);
if (scoring.peerNote) notes.push(scoring.peerNote);
if (scoring.agreement) notes.push(scoring.agreement);

// ------------------------------------------------------------------------------------------
// Metrics.

log("metrics: AUROC + FPR95 + AUPR-In + AUPR-Out on 1,000,000 scores (sklearn peer)");
const metrics = await runMetricsBench({
  scores: quick ? 100_000 : 1_000_000,
  reps: quick ? 2 : 5,
  seed: 0,
  peer,
});
table.push({
  name: `metrics (4), ${quick ? "100,000" : "1,000,000"} scores (ms)`,
  ours: f(metrics.ms, 0),
  peer: metrics.peer ? f(metrics.peer.ms, 0) : "-",
  ratio: metrics.peer ? `${f(metrics.peer.ms / metrics.ms, 2)}x` : "-",
  target: "<= 1000 ms",
  ok: judge(metrics.ms <= 1000),
});
if (metrics.peer) {
  notes.push(
    `sklearn ${metrics.peer.version}: get_measures of the released MOS code; worst metric ` +
      `difference vs ours ${metrics.worstDiff!.toExponential(1)}`,
  );
} else notes.push(metrics.peerNote);

// ------------------------------------------------------------------------------------------
// The table.

const cpu = (await Deno.readTextFile("/proc/cpuinfo").catch(() => ""))
  .match(/model name\s*:\s*(.*)/)?.[1] ?? "unknown CPU";
console.log(
  `\nMOS toolkit bench${quick ? " (--quick: small sizes, targets not judged)" : ""}: ${cpu}, ` +
    `${navigator.hardwareConcurrency} vCPU, ${threads} threads, Deno ${Deno.version.deno}`,
);
const cols: (keyof Row)[] = ["name", "ours", "peer", "ratio", "target", "ok"];
const header: Row = {
  name: "case",
  ours: "ours",
  peer: "peer",
  ratio: "ratio",
  target: "target",
  ok: "ok",
};
console.log(`| ${cols.map((c) => header[c]).join(" | ")} |`);
console.log("| --- | ---: | ---: | ---: | --- | --- |");
for (const r of table) console.log(`| ${cols.map((c) => r[c]).join(" | ")} |`);
for (const n of notes) console.log(`- ${n}`);
