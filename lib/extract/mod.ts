/**
 * Feature extraction with onnxruntime-node and sharp: any ONNX backbone (BiT by default, or
 * your own with `preprocess` "torchvision" / "clip"), image lists or ImageFolder trees (wnid
 * folders keep their ImageNet-1k indices), resumable runs in parts, shards and their merge.
 *
 * @example Which outputs of a model are features and logits
 * ```ts
 * import { chooseOutputs } from "./mod.ts";
 * const picked = chooseOutputs("model.onnx", [
 *   { name: "pooled", shape: ["N", 2048] },
 *   { name: "fc", shape: ["N", 1000] },
 * ]); // pooled -> features.npy, fc -> logits.npy
 * ```
 *
 * @module
 */
export * from "./extract_run.ts";
export * from "./image_list.ts";
export { type Backbone, openBackbone, type OpenOptions } from "./backbone_session.ts";
export * from "./transform_spec.ts";
export {
  chooseOutputs,
  type ModelOutputInfo,
  type OutputChoice,
  type OutputFlags,
} from "./output_roles.ts";
export type { Resizer } from "./preprocess.ts";
export type { PilFilter } from "./pil_resize.ts";
export type { NamedPath } from "../io/containment.ts";
export { mergeShards, type MergeSummary } from "./merge.ts";
export { parseShard, type Shard } from "./shard.ts";
export { labelRangeWarning } from "./label_range.ts";
export { DEFAULT_EXTRACT_LABELS, type ExtractLabels, extractLabels } from "./labels.ts";
