/**
 * Streaming access to a feature set's features, for sets too large to hold in memory (ImageNet
 * train: 1.28M x 2048). Labels are small and read whole.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import {
  checkFeaturesHeader,
  type FeatureMeta,
  readFeatureMeta,
  readSetLabels,
} from "./feature_set.ts";
import { type NpyReader, openNpy } from "./npy.ts";

/** An opened feature set: row-streamed features plus labels in memory. */
export interface FeatureStream {
  dir: string;
  meta: FeatureMeta;
  features: NpyReader;
  labels: Int32Array;
  close(): void;
}

/**
 * Opens `dir` for streaming; validates completeness, shapes (features.npy against meta.json's
 * count and dim, labels against the rows) and (optionally) the label range.
 */
export async function openFeatureStream(
  dir: string,
  opts: { numClasses?: number } = {},
): Promise<FeatureStream> {
  const meta = await readFeatureMeta(dir);
  const features = await openNpy(`${dir}/features.npy`);
  try {
    checkFeaturesHeader(features, meta, features.path, `${dir}/meta.json`);
    const labels = await readSetLabels(dir, features.rows, features.path);
    if (opts.numClasses !== undefined) {
      for (let i = 0; i < labels.length; i++) {
        if (labels[i] < -1 || labels[i] >= opts.numClasses) {
          throw new DataError(
            `${dir}/labels.npy: label ${
              labels[i]
            } at row ${i} is outside [-1, ${opts.numClasses}); ` +
              `labels must be class indices of the head's label space (-1 for OOD)`,
          );
        }
      }
    }
    return { dir, meta, features, labels, close: () => features.close() };
  } catch (e) {
    features.close();
    throw e;
  }
}
