/**
 * Metrics benchmark: AUROC + FPR95 + AUPR-In + AUPR-Out (`evaluate`, one sorted sweep) on
 * 1,000,000 seeded float32 scores (500,000 ID ~ N(1, 1) + 500,000 OOD ~ N(0, 1), rounded to 1/1024
 * so ties occur, as they do with real detector scores), and, when Debian's /usr/bin/python3 has
 * scikit-learn, the released MOS code's `get_measures` (roc_auc_score, average_precision_score,
 * the Outlier-Exposure FPR95) on the same scores, with the ratio peer_ms / our_ms and the
 * largest metric difference between the two.
 *
 * Usage: deno run -A bench/metrics.ts [--scores 1000000] [--reps 5] [--seed 0] [--no-peer]
 *
 * {@linkcode runMetricsBench} runs the same measurement for bench/mod.ts (`deno task bench`).
 *
 * @module
 */
import { parseBenchArgs } from "./bench_args.ts";
import { PYTHON, pythonHas, runPeer } from "./peer_env.ts";
import { writeNpy } from "../lib/io/npy.ts";
import { type DetectionMetrics, evaluate } from "../lib/metrics/evaluate.ts";
import { createRng } from "../lib/random.ts";

/** Options of {@linkcode runMetricsBench}. */
export interface MetricsBenchOptions {
  /** Total scores, split evenly between ID and OOD. */
  scores: number;
  /** Timed repetitions; the median is reported. */
  reps: number;
  seed: number;
  peer: boolean;
}

/** Result of {@linkcode runMetricsBench}. */
export interface MetricsBenchResult {
  /** Median milliseconds of the four metrics together. */
  ms: number;
  metrics: DetectionMetrics;
  peer?: { ms: number; metrics: DetectionMetrics; version: string };
  /** Largest |ours - peer| over the four metrics (fractions). */
  worstDiff?: number;
  peerNote: string;
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Times `evaluate` and the scikit-learn peer on the same seeded scores. */
export async function runMetricsBench(o: MetricsBenchOptions): Promise<MetricsBenchResult> {
  const rng = createRng(o.seed);
  const nId = Math.ceil(o.scores / 2);
  const nOod = o.scores - nId;
  const draw = (n: number, mean: number) =>
    Float32Array.from({ length: n }, () => Math.round((mean + rng.normal()) * 1024) / 1024);
  const id = draw(nId, 1);
  const ood = draw(nOod, 0);
  const times: number[] = [];
  let metrics = evaluate(id, ood);
  for (let r = 0; r < o.reps; r++) {
    const t = performance.now();
    metrics = evaluate(id, ood);
    times.push(performance.now() - t);
  }
  const res: MetricsBenchResult = { ms: median(times), metrics, peerNote: "" };
  if (!o.peer) {
    res.peerNote = "sklearn peer skipped (--no-peer)";
    return res;
  }
  if (!(await pythonHas("sklearn"))) {
    res.peerNote = `sklearn peer not run: ${PYTHON} is missing or has no scikit-learn ` +
      "(apt-get install python3-sklearn)";
    return res;
  }
  const dir = await Deno.makeTempDir({ prefix: "mos_bench_metrics_" });
  try {
    await writeNpy(`${dir}/id.npy`, { dtype: "<f4", shape: [nId], data: id });
    await writeNpy(`${dir}/ood.npy`, { dtype: "<f4", shape: [nOod], data: ood });
    const script = new URL("./peers/metrics_sklearn.py", import.meta.url).pathname;
    const r = await runPeer("sklearn", script, [dir, String(o.reps)]);
    if (!r.ok) {
      res.peerNote = r.reason;
      return res;
    }
    const j = JSON.parse(r.stdout);
    const pm: DetectionMetrics = {
      auroc: j.metrics.auroc,
      fpr95: j.metrics.fpr95,
      auprIn: j.metrics.aupr_in,
      auprOut: j.metrics.aupr_out,
    };
    res.peer = { ms: j.ms, metrics: pm, version: j.sklearn };
    res.worstDiff = Math.max(
      ...(Object.keys(pm) as (keyof DetectionMetrics)[]).map((k) => Math.abs(pm[k] - metrics[k])),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  return res;
}

if (import.meta.main) {
  const { values } = parseBenchArgs("bench/metrics.ts", {
    options: {
      scores: { type: "string", default: "1000000" },
      reps: { type: "string", default: "5" },
      seed: { type: "string", default: "0" },
      "no-peer": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(
      "deno run -A bench/metrics.ts [--scores 1000000] [--reps 5] [--seed 0] [--no-peer]",
    );
    Deno.exit(0);
  }
  const int = (name: "scores" | "reps" | "seed", min: number) => {
    const v = Number(values[name]);
    if (!Number.isSafeInteger(v) || v < min) {
      console.error(`--${name} must be an integer >= ${min}, got "${values[name]}"`);
      Deno.exit(2);
    }
    return v;
  };
  const o = {
    scores: int("scores", 2),
    reps: int("reps", 1),
    seed: int("seed", 0),
    peer: !values["no-peer"],
  };
  const r = await runMetricsBench(o);
  const m = r.metrics;
  console.log(
    `metrics on ${o.scores} scores: ${r.ms.toFixed(1)} ms (median of ${o.reps}); AUROC ` +
      `${m.auroc.toFixed(6)}, FPR95 ${m.fpr95.toFixed(6)}, AUPR-In ${m.auprIn.toFixed(6)}, ` +
      `AUPR-Out ${m.auprOut.toFixed(6)}`,
  );
  if (r.peer) {
    console.log(
      `sklearn ${r.peer.version}: ${r.peer.ms.toFixed(1)} ms; ratio ${
        (r.peer.ms / r.ms).toFixed(2)
      }; worst metric difference ${r.worstDiff!.toExponential(2)}`,
    );
  } else console.log(r.peerNote);
}
