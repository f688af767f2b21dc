/**
 * Scoring: one head, one ID feature set and any number of OOD feature sets in; per-method scores,
 * metrics and wall times out. Everything per row runs through onnxruntime (lib/ort/): the
 * products and the logit-only scores (lib/ort/logit_scores.ts; lib/scores/ holds the plain
 * float64 references they are tested against).
 *
 * Numerics. Every logits matrix and every score vector passes the float32 overflow guard of
 * ./numerics.ts before it reaches a metric: finite features that overflow (values near 3.4e38,
 * or products and squares of large values) stop the run with one error naming the method, the
 * dataset and the file, instead of NaN or silently wrong metrics.
 *
 * Time per method (the paper's "test time" column) includes the head's forward pass over every
 * evaluated set for the logit-based methods, plus the method's own fitting (Mahalanobis statistics,
 * KL templates).
 *
 * @module
 */
import { DataError } from "../errors.ts";
import { groupLayout } from "../groups.ts";
import type { FeatureSet } from "../io/feature_set.ts";
import type { Head } from "../io/head.ts";
import type { Matrix } from "../matrix.ts";
import { type DetectionMetrics, evaluate } from "../metrics/evaluate.ts";
import type { MetricRow } from "../metrics/metric_row.ts";
import { metricsConventionNote } from "../metrics/convention.ts";
import type { FprConvention } from "../metrics/fpr95.ts";
import { forEachLogitsChunk, linearLogits, type RowSource } from "../ort/linear.ts";
import { klMatchingFromLogits } from "../ort/kl_kernel.ts";
import { fitMahalanobisFast, mahalanobisFast } from "../ort/mahalanobis_kernel.ts";
import { mosFast, softmaxScoreFast } from "../ort/logit_scores.ts";
import { klTemplates } from "../scores/kl_matching.ts";
import { ODIN_TEMPERATURE } from "../scores/odin.ts";
import { softmaxRows } from "../softmax.ts";
import type { MethodKey } from "./methods.ts";
import { checkFiniteLogits, checkFiniteScores, type NumericSite, withSite } from "./numerics.ts";

/** KL template variants: "paper" = ground-truth labels of the evaluated ID set (as released). */
export type KlVariant = "paper" | "clean";

/** A named evaluated set. */
export interface NamedSet {
  name: string;
  set: FeatureSet;
}

/** Training features for Mahalanobis (and clean KL templates), streamed. */
export interface TrainSource {
  dir: string;
  source: RowSource;
  labels: Int32Array;
}

/** Everything {@linkcode scoreSets} needs. */
export interface ScoreInputs {
  head: Head;
  id: NamedSet;
  ood: NamedSet[];
  methods: readonly MethodKey[];
  train?: TrainSource;
  klVariant?: KlVariant;
  /** Metrics convention of FPR95 and AUPR (lib/metrics/convention.ts; default "paper"). */
  fprConvention?: FprConvention;
  odinTemperature?: number;
  energyTemperature?: number;
  threads?: number;
}

/** Output of {@linkcode scoreSets}. */
export interface ScoreResult {
  /** method -> dataset -> scores (higher = more ID). */
  scores: Map<string, Map<string, Float32Array>>;
  metrics: MetricRow[];
  /** method -> seconds. */
  seconds: Record<string, number>;
  /** Notes printed with the results (e.g. ODIN without input perturbation). */
  notes: string[];
}

/** Progress callback: a short description of the step that starts. */
export type StepListener = (message: string) => void;

function elapsed(t0: number): number {
  return (performance.now() - t0) / 1000;
}

/** Checks that no evaluated set is empty and that every set's D matches the head's. */
export function checkEvaluatedSets(head: Head, sets: readonly NamedSet[]): void {
  for (const s of sets) {
    if (s.set.features.rows === 0) {
      throw new DataError(
        `Feature set ${s.set.dir} (${s.name}) is empty (0 samples); every evaluated set needs ` +
          `at least one sample`,
      );
    }
  }
  checkDims(head, sets.map((s) => ({ name: s.name, dir: s.set.dir, dim: s.set.meta.dim })));
}

/** Checks that every set's feature dimension matches the head's and returns nothing. */
export function checkDims(head: Head, sets: { name: string; dir: string; dim: number }[]): void {
  const D = head.weight.cols;
  for (const s of sets) {
    if (s.dim !== D) {
      throw new DataError(
        `Feature set ${s.dir} (${s.name}) has D = ${s.dim} but head ${head.dir ?? ""} expects ` +
          `D = ${D}; use features extracted with the same backbone as the head`,
      );
    }
  }
}

/** The features file of an evaluated set (what the numeric guard names). */
function featuresFile(s: NamedSet): string {
  return `${s.set.dir}/features.npy`;
}

/** The weight file of a head (what the logits guard names). */
function weightFile(head: Head): string {
  return head.dir ? `${head.dir}/weight.npy` : "the head's weight.npy";
}

/**
 * Templates from predicted labels of a streamed held-out split (the "clean" KL variant). A chunk
 * whose logits are not finite stops the run: its softmax would be NaN, and a NaN template row is
 * skipped by the KL score, which would silently drop a class.
 */
async function cleanTemplates(head: Head, train: TrainSource, threads?: number): Promise<Matrix> {
  const K = head.weight.rows;
  const sums = new Float64Array(K * K);
  const counts = new Float64Array(K);
  const site = {
    method: "kl",
    set: "--train",
    file: `${train.dir}/features.npy`,
    weights: weightFile(head),
  };
  await forEachLogitsChunk(train.source, head.weight, head.bias, (start, logits) => {
    checkFiniteLogits(logits, site, { rowOffset: start });
    const probs = softmaxRows(logits);
    const p = probs.data;
    for (let i = 0; i < probs.rows; i++) {
      const base = i * K;
      let best = 0;
      for (let j = 1; j < K; j++) if (p[base + j] > p[base + best]) best = j;
      counts[best]++;
      const dst = best * K;
      for (let j = 0; j < K; j++) sums[dst + j] += p[base + j];
    }
  }, { threads });
  const out = new Float32Array(K * K);
  for (let c = 0; c < K; c++) {
    for (let j = 0; j < K; j++) out[c * K + j] = counts[c] > 0 ? sums[c * K + j] / counts[c] : NaN;
  }
  return { data: out, rows: K, cols: K };
}

/**
 * Scores every set with every method and evaluates each OOD set against the ID set.
 * Methods must fit the head kind (see `checkMethodsForHead`).
 */
export async function scoreSets(inputs: ScoreInputs, onStep?: StepListener): Promise<ScoreResult> {
  const { head, id, ood, methods } = inputs;
  if (ood.length === 0) {
    throw new DataError("No OOD set given; pass at least one --ood NAME=DIR");
  }
  checkEvaluatedSets(head, [id, ...ood]);
  const threads = inputs.threads;
  const all = [id, ...ood];
  const scores = new Map<string, Map<string, Float32Array>>();
  const seconds: Record<string, number> = {};
  const notes: string[] = [];

  const logitMethods = methods.filter((m) => m !== "mahalanobis");
  const logits = new Map<string, Matrix>();
  let logitsSeconds = 0;
  if (logitMethods.length > 0) {
    onStep?.(`logits of ${all.length} sets`);
    const t0 = performance.now();
    for (const s of all) {
      logits.set(s.name, await linearLogits(s.set.features, head.weight, head.bias, { threads }));
    }
    logitsSeconds = elapsed(t0);
    // One pass over N x K per set, shared by every logit-based method (~1 ns a value, under a
    // tenth of the GEMM's time); a validation of the inputs like readFeatureSet's, so untimed.
    for (const s of all) {
      checkFiniteLogits(logits.get(s.name)!, {
        method: logitMethods.join(", "),
        set: s.name,
        file: featuresFile(s),
        weights: weightFile(head),
      }, { features: s.set.features });
    }
  }

  for (const method of methods) {
    onStep?.(method);
    const t0 = performance.now();
    const per = new Map<string, Float32Array>();
    switch (method) {
      case "msp":
        for (const s of all) {
          per.set(
            s.name,
            await softmaxScoreFast(logits.get(s.name)!, "max-softmax", 1, { threads }),
          );
        }
        break;
      case "odin": {
        const t = inputs.odinTemperature ?? ODIN_TEMPERATURE;
        for (const s of all) {
          per.set(
            s.name,
            await softmaxScoreFast(logits.get(s.name)!, "max-softmax", t, { threads }),
          );
        }
        notes.push(
          `odin: temperature ${t}, no input perturbation (eps = 0, as the released code ran ` +
            `it; perturbation needs backbone gradients)`,
        );
        break;
      }
      case "energy":
        for (const s of all) {
          const t = inputs.energyTemperature ?? 1;
          per.set(s.name, await softmaxScoreFast(logits.get(s.name)!, "energy", t, { threads }));
        }
        break;
      case "mos": {
        const layout = groupLayout(head.info.groups, head.info.num_classes);
        for (const s of all) {
          per.set(s.name, await mosFast(layout, logits.get(s.name)!, { threads }));
        }
        break;
      }
      case "kl": {
        const variant = inputs.klVariant ?? "paper";
        let templates: Matrix;
        if (variant === "paper") {
          const labels = id.set.labels;
          if (labels.some((l) => l < 0)) {
            throw new DataError(
              `KL matching (paper variant) builds templates from the ID set's ground-truth ` +
                `labels, but ${id.set.dir}/labels.npy has -1 entries; label the ID set or use ` +
                `--kl-variant clean --train DIR`,
            );
          }
          templates = klTemplates(softmaxRows(logits.get(id.name)!), labels, head.weight.rows);
          notes.push(
            "kl: paper variant (templates from ground-truth labels of the evaluated ID set)",
          );
        } else {
          if (!inputs.train) {
            throw new DataError("--kl-variant clean needs --train DIR (a held-out ID split)");
          }
          templates = await cleanTemplates(head, inputs.train, threads);
          notes.push(`kl: clean variant (templates from predicted labels of ${inputs.train.dir})`);
        }
        for (const s of all) {
          per.set(s.name, await klMatchingFromLogits(logits.get(s.name)!, templates, { threads }));
        }
        break;
      }
      case "mahalanobis": {
        if (!inputs.train) {
          throw new DataError(
            "Mahalanobis needs the training features for class means and covariance; pass " +
              "--train DIR (or drop mahalanobis from --methods)",
          );
        }
        const train = inputs.train;
        const model = await withSite(
          { method, set: "--train", file: `${train.dir}/features.npy` },
          () => fitMahalanobisFast(train.source, train.labels, head.info.num_classes, { threads }),
        );
        for (const s of all) {
          per.set(s.name, await mahalanobisFast(model, s.set.features, { threads }));
        }
        notes.push("mahalanobis: penultimate features, class means + shared covariance of --train");
        break;
      }
    }
    seconds[method] = elapsed(t0) + (method === "mahalanobis" ? 0 : logitsSeconds);
    // The overflow guard: one pass over each score vector, before any metric sees it.
    for (const s of all) {
      const site: NumericSite = { method, set: s.name, file: featuresFile(s) };
      checkFiniteScores(per.get(s.name)!, site, s.set.features);
    }
    scores.set(method, per);
  }

  const metrics: MetricRow[] = [];
  for (const method of methods) {
    const per = scores.get(method)!;
    for (const s of ood) {
      const m: DetectionMetrics = evaluate(per.get(id.name)!, per.get(s.name)!, {
        fprConvention: inputs.fprConvention,
        label: `${method} (ID "${id.name}" vs OOD "${s.name}")`,
      });
      metrics.push({
        method,
        dataset: s.name,
        auroc: 100 * m.auroc,
        fpr95: 100 * m.fpr95,
        aupr_in: 100 * m.auprIn,
        aupr_out: 100 * m.auprOut,
      });
    }
  }
  // The default convention's metrics are the paper's and need no note.
  if (inputs.fprConvention === "openood") notes.push(metricsConventionNote("openood"));
  return { scores, metrics, seconds, notes };
}
