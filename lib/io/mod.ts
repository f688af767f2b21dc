/**
 * The toolkit's files, pure TypeScript (no native package): .npy arrays, feature sets
 * (features.npy with optional labels.npy / logits.npy and meta.json), heads, score vectors made
 * anywhere, manifests and the ImageNet class tables.
 *
 * @example A feature set dumped by your own model (features.npy alone is enough)
 * ```ts
 * import { readFeatureSet, readScoreVector } from "./mod.ts";
 * const set = await readFeatureSet("features/my_model/val");
 * console.log(set.features.rows, set.features.cols, set.labels.length); // labels: -1 if absent
 * const scores = await readScoreVector("scores/sun.npy", "higher-is-ood"); // negated: higher = ID
 * ```
 *
 * @module
 */
export * from "./npy.ts";
export * from "./feature_set.ts";
export * from "./head.ts";
export * from "./score_vector.ts";
export * from "./manifest.ts";
export * from "./classes.ts";
export { importFeatureSet, type ImportOptions } from "./import_features.ts";
export { writeJsonAtomic, writeTextAtomic } from "./atomic.ts";
