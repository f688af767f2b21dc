/**
 * What an extraction is asked to do ({@linkcode ExtractConfig}) and what it resolved once the
 * model is open ({@linkcode RunContext}): the input transform, the batch, the shard range and the
 * run's key. Shared by the parts of lib/extract/extract_run.ts.
 *
 * @module
 */
import type { NamedPath } from "../io/containment.ts";
import type { Backbone } from "./backbone_session.ts";
import type { ImageList } from "./image_list.ts";
import type { ExtractLabels } from "./labels.ts";
import { type Resizer, viewResizeFor } from "./preprocess.ts";
import type { Shard } from "./shard.ts";
import type { PreprocessKind, TransformSpec } from "./transform_spec.ts";

/** Everything an extraction needs. */
export interface ExtractConfig {
  /** The backbone's .onnx file. */
  modelPath: string;
  /** Images to extract, in output row order, with their root and labels. */
  list: ImageList;
  /** Directory of the feature set written (features.npy, labels.npy, meta.json, ...). */
  outDir: string;
  /** Dataset name for meta.json. */
  dataset: string;
  /** Backbone name for meta.json. */
  backbone: string;
  /** Images per inference call (a batch the model fixes wins). */
  batch: number;
  /** Intra-op threads of the onnxruntime session. */
  threads: number;
  /** Execution provider: the CPU, or onnxruntime's CUDA provider. */
  device: "cpu" | "cuda";
  /** Storage type of features and other outputs (logits.npy is always float32). */
  dtype: "f32" | "f16";
  /**
   * Input side. Default: the side the model's input declares, else 480 for `bit` and 224 for
   * `torchvision` / `clip`. A value the model's declared input contradicts is a DataError.
   */
  size?: number;
  /** Input transform (default `bit`, the MOS protocol); see lib/extract/transform_spec.ts. */
  preprocess?: PreprocessKind;
  /** Model output to store as features.npy (default: found by name or shape). */
  featuresOutput?: string;
  /** Model output to store as logits.npy (default: found by name or shape, if any). */
  logitsOutput?: string;
  /** `bit` only: Pillow-exact bilinear (default) or libvips' faster `linear` kernel. */
  resizer?: Resizer;
  /** The part of the list this run extracts (0/1: all of it). */
  shard: Shard;
  /** Fail with a DataError on the first unreadable image instead of skipping it. */
  strict: boolean;
  /** Recompute even when the output is complete and up to date. */
  force?: boolean;
  /** List positions per resumable part (default 256). */
  chunkSize?: number;
  /** Images decoded ahead of inference (default 2 batches + 8). */
  decodeAhead?: number;
  /**
   * Training views per image (default 1: none; `bit` only). With V > 1, `views.npy` gets V rows
   * per image (rows i*V .. i*V+V-1 for image i of features.npy), each the primary output of one
   * draw of the training transform (resize `viewResize`, seeded random `size` crop, random
   * flip); features.npy keeps the evaluation transform.
   */
  views?: number;
  /** Seed of the view draws (default 0). */
  viewSeed?: number;
  /** Square resize before the random crop (default {@linkcode viewResizeFor}(size): 512 at 480). */
  viewResize?: number;
  /**
   * Inputs besides the model and the image root that `outDir` must not overlap, e.g. the
   * `--list` file or an extraction plan (`--config`).
   */
  otherInputs?: NamedPath[];
  /**
   * How messages name the inputs and settings (a task passes its flag names); defaults describe
   * the data ("model", "output directory", ...).
   */
  labels?: ExtractLabels;
}

/** The training views of a run. */
export interface ViewSettings {
  views: number;
  seed: number;
  resize: number;
}

/** The view settings of a config at input side `size`, null when it extracts no views. */
export function viewSettings(cfg: ExtractConfig, size: number): ViewSettings | null {
  const views = cfg.views ?? 1;
  if (!Number.isInteger(views) || views < 1) throw new RangeError(`views must be >= 1: ${views}`);
  if (views === 1) return null;
  if ((cfg.preprocess ?? "bit") !== "bit") {
    throw new RangeError(`training views need the bit transform, not ${cfg.preprocess}`);
  }
  const resize = cfg.viewResize ?? viewResizeFor(size);
  if (resize < size) {
    throw new RangeError(`view resize ${resize} is smaller than the crop ${size}`);
  }
  return { views, seed: cfg.viewSeed ?? 0, resize };
}

/** An extraction with its model open and everything resolved. */
export interface RunContext {
  cfg: ExtractConfig;
  backbone: Backbone;
  transform: TransformSpec;
  /** Images per inference batch (the model's fixed batch when it declares one). */
  batch: number;
  chunkSize: number;
  vs: ViewSettings | null;
  /** The shard's list positions [start, end). */
  start: number;
  end: number;
  /** Key of everything that determines the parts' bytes. */
  key: string;
  partsDir: string;
  /** The kept outputs, then `views` when extracting views. */
  partNames: string[];
}
