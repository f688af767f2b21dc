/**
 * A MOS authors' PyTorch checkpoint -> the toolkit's two artefacts: the ONNX backbone (built by
 * the same converter as `bit-to-onnx`, lib/bit) and a classifier head in the layout of
 * lib/io/head.ts. A 1008-output head is the paper's group head (its 8 taxonomy groups, each slice
 * starting with "others", in the released code's class order); a 1000-output head is flat.
 *
 * @module
 */
import { type BitArch, inferArch } from "../bit/arch.ts";
import {
  type BitOnnxModel,
  type BitOutput,
  buildBitOnnx,
  type GroupNormImpl,
  needsExternalData,
} from "../bit/resnet_v2_onnx.ts";
import { DataError } from "../errors.ts";
import type { Head, HeadInfo } from "../io/head.ts";
import { bitWeightsFromStateDict, findStateDict, headFromStateDict } from "./bit_state_dict.ts";
import type { TorchCheckpoint } from "./checkpoint.ts";

/** What to do with the checkpoint's head. */
export type TorchHeadMode = "auto" | "none";

/** Options of {@linkcode importTorchModel}. */
export interface TorchImportOptions {
  /** The read checkpoint and its file name (messages, ONNX metadata). */
  checkpoint: TorchCheckpoint;
  /** The checkpoint's file name, used in messages and ONNX metadata. */
  file: string;
  /** The taxonomy grouping (lib/io/classes.ts `taxonomyGroups`) and its class count. */
  groups: number[][];
  /** C, the number of classes; a head of C outputs is flat, of C + K a group head. */
  numClasses: number;
  /** `auto`: import the head (1000 flat / C + K group); `none`: the backbone only. */
  head?: TorchHeadMode;
  /** How GroupNorm is written in the ONNX graph (default "instance"). */
  groupNorm?: GroupNormImpl;
  /** Extra ONNX metadata (source hash, ...). */
  metadata?: Record<string, string>;
  /** How errors say to import without the head (default: data-oriented advice). */
  hints?: { noHead?: string };
}

/** How to import a checkpoint without its head, as errors suggest it by default. */
const NO_HEAD_HINT = "import it without a head to get only the backbone";

/** The imported model. */
export interface TorchImport {
  /** The BiT layout read from the weights (published name or `custom-...`). */
  arch: BitArch;
  /** ONNX backbone: `features` and, with a head, `logits`. */
  model: BitOnnxModel;
  /** The head, or null with `head: "none"`. */
  head: Head | null;
}

/**
 * Head metadata for a head of `rows` outputs: flat when `rows` is the class count, the taxonomy
 * group layout when it is classes + groups; any other size is refused, the error ending in
 * `noHeadHint` (how to import without the head).
 */
export function torchHeadInfo(
  rows: number,
  groups: number[][],
  numClasses: number,
  file: string,
  noHeadHint: string = NO_HEAD_HINT,
): HeadInfo {
  if (rows === numClasses) return { kind: "flat", num_classes: numClasses, groups: [] };
  if (rows === numClasses + groups.length) {
    return { kind: "group", num_classes: numClasses, groups: groups.map((g) => [...g]) };
  }
  throw new DataError(
    `${file}: head.conv has ${rows} outputs; import-torch reads a flat head of ${numClasses} ` +
      `outputs or the paper's group head of ${numClasses + groups.length} (${numClasses} classes ` +
      `+ ${groups.length} taxonomy groups); ${noHeadHint}`,
  );
}

/** Converts the checkpoint; see the module note. Nothing is written here. */
export function importTorchModel(o: TorchImportOptions): TorchImport {
  const sd = findStateDict(o.checkpoint.value, o.file);
  const weights = bitWeightsFromStateDict(sd, o.file);
  const mode = o.head ?? "auto";
  const noHeadHint = o.hints?.noHead ?? NO_HEAD_HINT;
  let head: Head | null = null;
  if (mode === "none") {
    weights.delete("resnet/head/conv2d/kernel");
    weights.delete("resnet/head/conv2d/bias");
  } else {
    const h = headFromStateDict(sd, o.file);
    if (!h) {
      throw new DataError(
        `${o.file} has no head (head.conv.weight); ${noHeadHint}`,
      );
    }
    head = {
      info: torchHeadInfo(h.rows, o.groups, o.numClasses, o.file, noHeadHint),
      weight: { data: h.weight, rows: h.rows, cols: h.cols },
      bias: h.bias,
    };
  }
  const arch = inferArch(weights, o.file);
  if (needsExternalData(weights)) {
    throw new DataError(
      `${o.file}: ${arch.name} has more than 1.8 GB of weights, which import-torch does not ` +
        "write (ONNX external data); the paper's R50x1 / R101x1 models fit",
    );
  }
  const outputs: BitOutput[] = head ? ["features", "logits"] : ["features"];
  const model = buildBitOnnx(weights, arch, {
    outputs,
    groupNorm: o.groupNorm ?? "instance",
    metadata: o.metadata,
  });
  return { arch, model, head };
}
