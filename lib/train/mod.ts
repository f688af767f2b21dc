/**
 * Training the flat and group-softmax heads on cached features: the BiT HyperRule schedule,
 * mixup, seeded batch sampling and the onnxruntime training step (sum of per-group
 * cross-entropy for a group head, "others" at index 0 of every group).
 *
 * @example Train a group head on a feature set
 * ```ts
 * import { gatherSource, hyperRule, trainHead } from "./mod.ts";
 * import { readFeatureSet } from "../io/mod.ts";
 * import { groupLayout } from "../groups.ts";
 * const train = await readFeatureSet("results/demo/features/train");
 * const groups = [[0, 1, 2], [3, 4]]; // class indices per group
 * const { weight, bias, finalLoss } = await trainHead({
 *   source: gatherSource(train.features),
 *   labels: train.labels,
 *   numClasses: 5,
 *   layout: groupLayout(groups, 5), // null for a flat head
 *   rule: hyperRule(train.labels.length, { steps: 500 }),
 *   seed: 0,
 * });
 * ```
 *
 * @module
 */
export * from "./hyperrule.ts";
export * from "./mixup.ts";
export * from "./sampler.ts";
export {
  evaluateAccuracy,
  type FeatureSource,
  gatherSource,
  trainHead,
  type TrainOptions,
  type TrainResult,
} from "./trainer.ts";
export {
  type FileFeatureSource,
  type FileSourceOptions,
  npyFeatureSource,
  openFileSource,
} from "./file_source.ts";
export { type ResolvedGroups, resolveGroups } from "./groups_spec.ts";
