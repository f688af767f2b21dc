/**
 * Every OOD method of the toolkit behind one model, pytorch-ood's Detector in spirit: look a
 * method up in the registry, `fit` it on what it declares it needs (a head, training features,
 * an ID validation split, ...), then `score` features and logits. Scores are higher = more
 * in-distribution (pytorch-ood's are the opposite sign). The fast paths run in onnxruntime.
 *
 * @example Fit ReAct on training features, score a set
 * ```ts
 * import { detectorByKey, detectorHead } from "./mod.ts";
 * import { readFeatureSet, readHead } from "../io/mod.ts";
 * import { linearLogits, matrixSource } from "../ort/linear.ts";
 * const head = detectorHead(await readHead("results/demo/heads/flat"));
 * const train = await readFeatureSet("results/demo/features/train");
 * const test = await readFeatureSet("results/demo/features/id");
 * const react = detectorByKey("react");
 * const model = await react.fit({
 *   head,
 *   train: { features: matrixSource(train.features), labels: train.labels },
 *   hyperparameters: { percentile: 90 },
 * });
 * const logits = await linearLogits(test.features, head.weight, head.bias);
 * const scores = await react.score(model, test.features, logits);
 * ```
 *
 * @module
 */
export * from "./registry.ts";
export {
  defineDetector,
  type DetectorInfo,
  type DetectorSpec,
  type FitSet,
  need,
  type ParamSpecs,
} from "./detector.ts";
export type { KnnSearchOptions } from "./knn.ts";
export type { ChunkOptions } from "../ort/linear.ts";
export { type DetectorHead, detectorHead } from "./common.ts";
