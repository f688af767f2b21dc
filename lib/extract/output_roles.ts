/**
 * Which outputs of a backbone ONNX model an extraction keeps, and under which names.
 *
 * Two cases. A model with an output named `features` (from `bit-to-onnx` or `import-torch`) keeps
 * every output under its own name, `features` first, as extract always did. Any other model has
 * its feature output, and optionally its logits, picked by name (`--features-output`,
 * `--logits-output`) or by shape: among the outputs with one row per image, (N, D) or (N, D, 1, 1),
 * one whose name says logits (or whose width is an ImageNet head's, 1000 or 21843) is the logits
 * and the other one is the features. They are stored as `features.npy` and `logits.npy`, the names
 * every reader of a feature set knows, whatever the model calls them. Anything ambiguous is one
 * error that lists the model's outputs with their shapes and what to name.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import { type ExtractLabels, extractLabels } from "./labels.ts";

/** A model output as onnxruntime declares it (`shape` null: not a tensor, or unknown). */
export interface ModelOutputInfo {
  /** The model's output name. */
  name: string;
  /** Declared dimensions; strings are symbolic (e.g. "batch"). */
  shape: readonly (number | string)[] | null;
}

/** One kept output: the model's output name and the feature-set name it is stored under. */
export interface OutputChoice {
  /** The output's name in the model. */
  model: string;
  /** The name it is stored under in the feature set (`features` -> features.npy, ...). */
  name: string;
}

/** The outputs picked by name, when the user names them. */
export interface OutputFlags {
  /** Model output to store as features.npy (`--features-output`). */
  featuresOutput?: string;
  /** Model output to store as logits.npy (`--logits-output`). */
  logitsOutput?: string;
}

/** Widths of ImageNet classifier heads: ImageNet-1k and ImageNet-21k (fall 2011). */
const LOGIT_WIDTHS: ReadonlySet<number> = new Set([1000, 21843]);

const LOGIT_NAME = /logit/i;

/** Whether a declared shape holds one row per image: (N, D) or (N, D, 1, 1). */
export function isRowShape(shape: readonly (number | string)[] | null): boolean {
  if (shape === null) return false;
  if (shape.length === 2) return true;
  return shape.length === 4 && shape[2] === 1 && shape[3] === 1;
}

function describe(outs: readonly ModelOutputInfo[]): string {
  return outs.map((o) =>
    `${o.name} (${o.shape === null ? "not a tensor" : o.shape.map(String).join(", ")})`
  ).join(", ");
}

function looksLikeLogits(o: ModelOutputInfo): boolean {
  return LOGIT_NAME.test(o.name) || (typeof o.shape?.[1] === "number" &&
    LOGIT_WIDTHS.has(o.shape[1] as number));
}

/**
 * Picks the outputs to extract (see the module doc). `model` names the file in errors, `labels`
 * the model and the two output names (default "model", "features output", "logits output"). The
 * first choice is the primary output (`features.npy`).
 */
export function chooseOutputs(
  model: string,
  outs: readonly ModelOutputInfo[],
  flags: OutputFlags = {},
  labels: ExtractLabels = {},
): OutputChoice[] {
  const l = extractLabels(labels);
  const names = outs.map((o) => o.name);
  const fix = `pass ${l.featuresOutput} NAME (and ${l.logitsOutput} NAME for the class logits)`;
  const pick = (flag: string, name: string): ModelOutputInfo => {
    const o = outs.find((x) => x.name === name);
    if (!o) {
      throw new DataError(
        `${flag} ${name}: ${l.model} ${model} has no such output; its outputs: ${describe(outs)}`,
      );
    }
    if (o.shape !== null && o.shape.length !== 2 && !isRowShape(o.shape)) {
      throw new DataError(
        `${flag} ${name}: output of ${l.model} ${model} has shape (${
          o.shape.join(", ")
        }), not one ` +
          "row per image (N, D); export the pooled, flattened output",
      );
    }
    return o;
  };
  if (flags.featuresOutput === undefined && flags.logitsOutput === undefined) {
    if (names.includes("features")) {
      return ["features", ...names.filter((n) => n !== "features")].map((n) => ({
        model: n,
        name: n,
      }));
    }
  }
  const logits = flags.logitsOutput === undefined
    ? undefined
    : pick(l.logitsOutput, flags.logitsOutput);
  let features = flags.featuresOutput === undefined
    ? undefined
    : pick(l.featuresOutput, flags.featuresOutput);
  if (features && logits && features.name === logits.name) {
    throw new DataError(
      `${l.featuresOutput} and ${l.logitsOutput} both name '${features.name}'; name two outputs`,
    );
  }
  if (!features) {
    const rows = outs.filter((o) => isRowShape(o.shape) && o !== logits);
    const plain = rows.filter((o) => !looksLikeLogits(o));
    const logitLike = rows.filter(looksLikeLogits);
    if (logits) {
      if (rows.length !== 1) {
        throw new DataError(
          `${l.model} ${model}: cannot tell its feature output (outputs: ${
            describe(outs)
          }); ${fix}`,
        );
      }
      features = rows[0];
    } else if (plain.length === 1 && logitLike.length <= 1) {
      features = plain[0];
      if (logitLike.length === 1) return roleChoices(features, logitLike[0]);
    } else {
      const why = rows.length === 0
        ? "none of its outputs has one row per image"
        : plain.length === 0
        ? "its only per-image outputs look like class logits"
        : "several outputs could be the features";
      throw new DataError(
        `${l.model} ${model}: ${why} (outputs: ${describe(outs)}); ${fix}`,
      );
    }
  }
  return roleChoices(features, logits);
}

function roleChoices(features: ModelOutputInfo, logits?: ModelOutputInfo): OutputChoice[] {
  return [
    { model: features.name, name: "features" },
    ...(logits ? [{ model: logits.name, name: "logits" }] : []),
  ];
}
