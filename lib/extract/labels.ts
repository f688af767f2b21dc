/**
 * How an extraction names its inputs and settings in messages. lib/ describes the data ("model
 * m.onnx not found"); a task passes its flag names (`{ model: "--model", ... }`) so that its
 * messages name the flags instead ("--model m.onnx not found"). Every field is optional and
 * defaults to a neutral noun (or, for the hints, data-oriented advice).
 *
 * @module
 */

/** Names of an extraction's inputs and settings, as messages show them. */
export interface ExtractLabels {
  /** The ONNX model (default "model"). */
  model?: string;
  /** The execution provider setting (default "device"). */
  device?: string;
  /** An image folder (default "image folder"). */
  images?: string;
  /** An image list file (default "image list"). */
  list?: string;
  /** The folder an image list's paths are relative to (default "image root"). */
  root?: string;
  /** The output directory (default "output directory"). */
  out?: string;
  /** The model output named as the features (default "features output"). */
  featuresOutput?: string;
  /** The model output named as the logits (default "logits output"). */
  logitsOutput?: string;
  /** The input side setting (default "input size"). */
  size?: string;
  /** The batch size setting (default "batch"). */
  batch?: string;
  /** The chunk size setting (default "chunk"). */
  chunk?: string;
  /** The setting that makes an unreadable image an error (default "strict mode"). */
  strict?: string;
  /**
   * How to label images another way, when a WordNet-id folder is not an ImageNet-1k class
   * (default "give explicit labels in an image list, or extract it unlabeled").
   */
  labelsHint?: string;
}

/** The defaults of {@linkcode ExtractLabels}. */
export const DEFAULT_EXTRACT_LABELS: Readonly<Required<ExtractLabels>> = {
  model: "model",
  device: "device",
  images: "image folder",
  list: "image list",
  root: "image root",
  out: "output directory",
  featuresOutput: "features output",
  logitsOutput: "logits output",
  size: "input size",
  batch: "batch",
  chunk: "chunk",
  strict: "strict mode",
  labelsHint: "give explicit labels in an image list, or extract it unlabeled",
};

/** `labels` with every missing name filled in from {@linkcode DEFAULT_EXTRACT_LABELS}. */
export function extractLabels(labels: ExtractLabels = {}): Required<ExtractLabels> {
  const out = { ...DEFAULT_EXTRACT_LABELS };
  for (const [k, v] of Object.entries(labels) as [keyof ExtractLabels, string | undefined][]) {
    if (v !== undefined) out[k] = v;
  }
  return out;
}
