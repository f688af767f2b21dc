/**
 * The registry of every OOD method of the toolkit, in Table 1's order: the paper's six methods
 * (with multi-layer Mahalanobis beside the single-layer one), the modern post-hoc detectors, then
 * the labelled group-aware extensions. Score, table1-extended, the demo, the ablations and the
 * tables take method lists, labels, notes and grids from here alone. The entry model is
 * {@linkcode Detector} (./detector.ts).
 *
 * Adding a detector: one file in lib/detectors/ exporting its math and its entry
 * (`defineDetector({...})`), one test beside it, one line below.
 *
 * @example
 * ```ts
 * import type { Matrix } from "../matrix.ts";
 * import type { DetectorHead } from "./common.ts";
 * import type { FitSet } from "./detector.ts";
 * declare const head: DetectorHead; // a flat head: detectorHead(await readHead(dir))
 * declare const idVal: FitSet; // ID validation features, labels and logits
 * declare const features: Matrix, logits: Matrix; // the set to score
 * const det = detectorByKey("react");
 * const model = await det.fit({ head, idVal, hyperparameters: { percentile: 95 } });
 * const scores = await det.score(model, features, logits);
 * ```
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import type { Matrix } from "../matrix.ts";
import {
  type AnyDetector,
  type Detector,
  type DetectorContext,
  type HeadKind,
  type LayerSet,
  needsOf,
  type Params,
} from "./detector.ts";
import { EXTENSION_DETECTORS, MODERN_DETECTORS } from "./modern.ts";
import { OPENMAX_DETECTOR } from "./openmax.ts";
import { KL_DETECTOR } from "./paper_kl.ts";
import { ENERGY_DETECTOR, MOS_DETECTOR, MSP_DETECTOR, ODIN_DETECTOR } from "./paper_logit.ts";
import { MAHALANOBIS_DETECTOR, MULTILAYER_DETECTOR, MULTILAYER_KEY } from "./paper_mahalanobis.ts";
import { RELATION_DETECTOR } from "./relation.ts";

export {
  type AnyDetector,
  checkHeadKind,
  type Detector,
  type DetectorContext,
  type DetectorNeeds,
  detectorNote,
  type FitData,
  fitDataOf,
  type HeadKind,
  type HyperSpec,
  type HyperValue,
  type LayerSet,
  needsOf,
  type Params,
  type Protocol,
  resolveHyperparameters,
} from "./detector.ts";
export { MULTILAYER_KEY };

/** Every method, in Table 1's order. */
export const REGISTRY: readonly AnyDetector[] = [
  MSP_DETECTOR,
  ODIN_DETECTOR,
  MAHALANOBIS_DETECTOR,
  MULTILAYER_DETECTOR,
  ENERGY_DETECTOR,
  KL_DETECTOR,
  MOS_DETECTOR,
  ...MODERN_DETECTORS,
  OPENMAX_DETECTOR,
  RELATION_DETECTOR,
  ...EXTENSION_DETECTORS,
];

/** Keys of the paper's six methods, in the paper's Table 1 order. */
export const PAPER_METHODS: readonly string[] = REGISTRY.filter((d) => d.paper).map((d) => d.key);

/** The methods beyond the paper's six and multi-layer Mahalanobis (post-hoc detectors). */
export const DETECTORS: readonly AnyDetector[] = REGISTRY.filter(
  (d) => !d.paper && d.key !== MULTILAYER_KEY,
);

/** Every method key, in Table 1's order. */
export function methodKeys(): string[] {
  return REGISTRY.map((d) => d.key);
}

/** The method with `key`; an unknown key is a UsageError listing the known ones. */
export function detectorByKey(key: string): AnyDetector {
  const d = REGISTRY.find((e) => e.key === key);
  if (!d) {
    throw new UsageError(
      `Unknown method "${key}"; choose one of ${REGISTRY.map((e) => e.key).join(", ")}.`,
    );
  }
  return d;
}

/** The label of method `key` for tables (the key itself when it is not registered). */
export function methodLabel(key: string): string {
  return REGISTRY.find((d) => d.key === key)?.label ?? key;
}

/**
 * Keys of the methods that run with nothing but a head of kind `kind` and the evaluated sets
 * (plus a training set when `withTrain`): the default method list of `score`.
 */
export function defaultMethods(kind: "flat" | "group", withTrain: boolean): string[] {
  return REGISTRY.filter((d) => {
    const n = needsOf(d);
    const head: HeadKind = n.head;
    return d.paper && (head === kind || head === "any") && (withTrain || !n.train);
  }).map((d) => d.key);
}

/**
 * Keys of the methods that need nothing beyond a head, the evaluated sets and, for some, a
 * labelled training set (no ID-val split, OOD-val set or layer outputs): what `score` can run.
 */
export function scoreableMethods(): string[] {
  return REGISTRY.filter((d) => {
    const n = needsOf(d);
    return !n.idVal && !n.oodVal && !n.layers;
  }).map((d) => d.key);
}

/** Fits `det` on `ctx` and scores `features` / `logits` (a convenience for one-off runs). */
export async function runDetector<M, P extends Params>(
  det: Detector<M, P>,
  ctx: DetectorContext<P>,
  features: Matrix,
  logits: Matrix,
  layers?: LayerSet,
): Promise<Float32Array> {
  return det.score(await det.fit(ctx), features, logits, layers);
}
