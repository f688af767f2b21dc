/**
 * The paper's four logit-only methods as registry entries: MSP, ODIN, Energy (flat head) and MOS
 * (group head). Their fast paths are the onnxruntime kernels of lib/ort/logit_scores.ts (on logits)
 * and lib/ort/head_scores.ts (straight from features, for sets whose logits are too large to
 * hold), their references the float64 functions of lib/scores/.
 *
 * @module
 */
import type { Matrix } from "../matrix.ts";
import { type HeadScore, headScoresStream } from "../ort/head_scores.ts";
import { mosFast, softmaxScoreFast } from "../ort/logit_scores.ts";
import type { RowSource } from "../row_source.ts";
import { energy } from "../scores/energy.ts";
import { mos } from "../scores/mos.ts";
import { msp } from "../scores/msp.ts";
import { odin, ODIN_TEMPERATURE } from "../scores/odin.ts";
import { defineDetector, need, plainFit, type PlainModel } from "./detector.ts";

type NoParams = Record<never, never>;
type Temperature = { temperature: number };

/** Threads of a plain model's kernels, passed the way scoreSets always passed them. */
function threadsOf<P extends Record<string, number>>(m: PlainModel<P>) {
  return { threads: m.chunk?.threads };
}

/** `score` of the streamed path: `x` through the model's head into one logit-only score. */
function fromFeatures<P extends Record<string, number>>(
  m: PlainModel<P>,
  x: RowSource,
  score: HeadScore,
): Promise<Float32Array> {
  return headScoresStream(x, m.head.weight, m.head.bias, score, threadsOf(m));
}

/** Maximum softmax probability (Hendrycks & Gimpel 2017). */
export const MSP_DETECTOR = defineDetector<PlainModel<NoParams>>({
  key: "msp",
  label: "MSP",
  paper: true,
  needs: { head: "flat", logits: true },
  hyperparameters: {},
  fit: plainFit,
  score: (m, _x, z) => softmaxScoreFast(z, "max-softmax", 1, threadsOf(m)),
  scoreFromFeatures: (m, x) => fromFeatures(m, x, { kind: "max-softmax", temperature: 1 }),
  reference: (_m, _x, z: Matrix) => msp(z),
});

/**
 * ODIN (Liang et al. 2018) on cached logits. The grid is OpenOOD's odin.yml temperatures (its
 * noise grid does not apply: no input perturbation, see the note).
 */
export const ODIN_DETECTOR = defineDetector<PlainModel<Temperature>, Temperature>({
  key: "odin",
  label: "ODIN",
  paper: true,
  needs: { head: "flat", logits: true },
  hyperparameters: { temperature: { default: ODIN_TEMPERATURE, grid: [1, 10, 100, 1000] } },
  noteFor: (_protocol, p) =>
    `odin: temperature ${p.temperature}, no input perturbation (eps = 0, as the released code ` +
    `ran it; perturbation needs backbone gradients)`,
  fit: plainFit,
  score: (m, _x, z) => softmaxScoreFast(z, "max-softmax", m.params.temperature, threadsOf(m)),
  scoreFromFeatures: (m, x) =>
    fromFeatures(m, x, { kind: "max-softmax", temperature: m.params.temperature }),
  reference: (m, _x, z) => odin(z, { temperature: m.params.temperature }),
});

/**
 * Energy (Liu et al. 2020), `T logsumexp(z / T)`. OpenOOD's ebo.yml `temperature_list` is [1]:
 * the held-out protocol does not tune it either.
 */
export const ENERGY_DETECTOR = defineDetector<PlainModel<Temperature>, Temperature>({
  key: "energy",
  label: "Energy",
  paper: true,
  needs: { head: "flat", logits: true },
  hyperparameters: { temperature: { default: 1, grid: [1] } },
  fit: plainFit,
  score: (m, _x, z) => softmaxScoreFast(z, "energy", m.params.temperature, threadsOf(m)),
  scoreFromFeatures: (m, x) =>
    fromFeatures(m, x, { kind: "energy", temperature: m.params.temperature }),
  reference: (m, _x, z) => energy(z, { temperature: m.params.temperature }),
});

/** MOS: `-min` over groups of the group-softmax "others" probability (the paper's score). */
export const MOS_DETECTOR = defineDetector<PlainModel<NoParams>>({
  key: "mos",
  label: "MOS",
  paper: true,
  needs: { head: "group", logits: true },
  hyperparameters: {},
  fit: plainFit,
  score: (m, _x, z) =>
    mosFast(need(m.head.layout, "mos", "the group head's layout"), z, threadsOf(m)),
  scoreFromFeatures: (m, x) =>
    fromFeatures(m, x, { kind: "mos", layout: need(m.head.layout, "mos", "the group layout") }),
  reference: (m, _x, z) => mos(need(m.head.layout, "mos", "the group head's layout"), z),
});
