/**
 * The flag names the extraction tasks pass to lib/extract (lib messages describe the data; the
 * tasks name the flags), so their messages read e.g. "--model m.onnx not found".
 *
 * @module
 */
import type { ExtractLabels } from "../../lib/extract/labels.ts";

/** {@linkcode ExtractLabels} naming `deno task extract`'s flags. */
export const EXTRACT_FLAG_LABELS: Readonly<Required<ExtractLabels>> = {
  model: "--model",
  device: "--device",
  images: "--images",
  list: "--list",
  root: "--root",
  out: "--out",
  featuresOutput: "--features-output",
  logitsOutput: "--logits-output",
  size: "--size",
  batch: "--batch",
  chunk: "--chunk",
  strict: "--strict",
  labelsHint: "pass --list with explicit labels, or --unlabeled",
};
