/**
 * MOS toolkit: programmatic API. The same functions the tasks use, for notebooks and scripts:
 *
 * ```ts
 * import { evaluate, mos, groupLayout, readFeatureSet, readHead, linearLogits } from "./mod.ts";
 * const head = await readHead("results/demo/heads/group");
 * const id = await readFeatureSet("results/demo/features/id");
 * const logits = await linearLogits(id.features, head.weight, head.bias);
 * const scores = mos(groupLayout(head.info.groups, head.info.num_classes), logits);
 * ```
 *
 * @module
 */
export * from "./lib/errors.ts";
export * from "./lib/matrix.ts";
export * from "./lib/random.ts";
export * from "./lib/softmax.ts";
export * from "./lib/groups.ts";
export * from "./lib/io/npy.ts";
export * from "./lib/io/atomic.ts";
export * from "./lib/io/feature_set.ts";
export * from "./lib/io/head.ts";
export * from "./lib/io/manifest.ts";
export * from "./lib/io/classes.ts";
export * from "./lib/scores/msp.ts";
export * from "./lib/scores/odin.ts";
export * from "./lib/scores/energy.ts";
export * from "./lib/scores/mos.ts";
export * from "./lib/scores/kl_matching.ts";
export * from "./lib/scores/mahalanobis.ts";
export { type SymmetricEigen, symmetricEigen } from "./lib/linalg/symmetric_eigen.ts";
export * from "./lib/linalg/pinv_symmetric.ts";
export * from "./lib/metrics/auroc.ts";
export * from "./lib/metrics/fpr95.ts";
export * from "./lib/metrics/aupr.ts";
export * from "./lib/metrics/evaluate.ts";
export {
  linearLogits,
  linearLogitsStream,
  matrixSource,
  type RowSource,
} from "./lib/ort/linear.ts";
export { fitMahalanobisFast, mahalanobisFast } from "./lib/ort/mahalanobis_kernel.ts";
export { klMatchingFast, klMatchingFromLogits } from "./lib/ort/kl_kernel.ts";
export * from "./lib/train/hyperrule.ts";
export { evaluateAccuracy, gatherSource, trainHead } from "./lib/train/trainer.ts";
export * from "./lib/scoring/methods.ts";
export { scoreSets } from "./lib/scoring/score_sets.ts";
export { generateBenchmark, OOD_SET_NAMES } from "./lib/synthetic/benchmark.ts";
export { randomGroups } from "./lib/grouping/random_grouping.ts";
export { kmeansGroups } from "./lib/grouping/kmeans.ts";
export { taxonomyLevel } from "./lib/grouping/taxonomy_levels.ts";
export { labelSpaceLevel, loadLabelSpace } from "./lib/grouping/label_space.ts";
