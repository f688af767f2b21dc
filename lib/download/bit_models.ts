/**
 * The published BiT checkpoints (google-research/big_transfer): the public bucket
 * `https://storage.googleapis.com/bit_models/<name>.npz`, with the architecture and head size
 * each file must hold. BiT-S is trained on ImageNet-1k (the MOS paper uses BiT-S-R101x1), BiT-M
 * on ImageNet-21k (21,843 classes), BiT-M-...-ILSVRC2012 is BiT-M fine-tuned on ImageNet-1k.
 *
 * @module
 */
import { BIT_ARCH_NAMES, BIT_DEPTHS, type BitArchName } from "../bit/arch.ts";
import { UsageError } from "../errors.ts";

/** The public bucket of the BiT release. */
export const BIT_BUCKET = "https://storage.googleapis.com/bit_models";

/** A published checkpoint. */
export interface BitModelSpec {
  /** Release name, e.g. `BiT-S-R101x1`. */
  model: string;
  arch: BitArchName;
  /** Classes of the checkpoint's head. */
  numClasses: number;
  /** `<model>.npz`. */
  file: string;
  url: string;
}

/** Every release name this tool knows, e.g. `BiT-S-R101x1`, `BiT-M-R50x1-ILSVRC2012`. */
export const BIT_MODEL_NAMES: readonly string[] = BIT_ARCH_NAMES.flatMap((a) => {
  const r = a.toUpperCase().replace("X", "x");
  return [`BiT-S-${r}`, `BiT-M-${r}`, `BiT-M-${r}-ILSVRC2012`];
});

/**
 * The checkpoint called `name` (case-insensitive), its URL on `mirror` when given (a base URL
 * serving the same file names). Unknown names are a `UsageError` listing the known ones, naming
 * `name` as `o.label` (default "model"; a task passes its flag, e.g. "--model").
 */
export function bitModel(
  name: string,
  mirror?: string,
  o: { label?: string } = {},
): BitModelSpec {
  const model = BIT_MODEL_NAMES.find((m) => m.toLowerCase() === name.toLowerCase());
  if (!model) {
    throw new UsageError(
      `${o.label ?? "model"} "${name}" is not a published BiT checkpoint; use one of ` +
        BIT_MODEL_NAMES.filter((m) => !m.endsWith("ILSVRC2012")).join(", ") +
        " (or BiT-M-...-ILSVRC2012)",
    );
  }
  const arch = model.split("-")[2].toLowerCase() as BitArchName;
  const numClasses = model.startsWith("BiT-S-") || model.endsWith("-ILSVRC2012") ? 1000 : 21843;
  const file = `${model}.npz`;
  const base = (mirror ?? BIT_BUCKET).replace(/\/+$/, "");
  return { model, arch, numClasses, file, url: `${base}/${file}` };
}

/**
 * Parameters of a BiT ResNet-v2 (`r<depth>x<width>`) with a `numClasses` head: the float count a
 * complete checkpoint holds (used to report and check a download's size).
 */
export function bitParamCount(arch: BitArchName, numClasses: number): number {
  const m = /^r(\d+)x(\d+)$/.exec(arch)!;
  const units = BIT_DEPTHS[Number(m[1])];
  const w = Number(m[2]);
  const root = 64 * w;
  let n = 7 * 7 * 3 * root;
  let cin = root;
  for (let b = 0; b < 4; b++) {
    const mid = root * 2 ** b;
    const out = 4 * mid;
    for (let u = 0; u < units[b]; u++) {
      n += 2 * cin + cin * mid + 2 * mid + 9 * mid * mid + 2 * mid + mid * out;
      if (u === 0) n += cin * out; // projection: first unit of every block changes shape
      cin = out;
    }
  }
  n += 2 * cin;
  if (numClasses > 0) n += cin * numClasses + numClasses;
  return n;
}

/** Bytes a checkpoint may hold besides its float32 weights (.npy and zip headers of ~500 arrays). */
export const CHECKPOINT_SLACK_BYTES = 16 * 2 ** 20;

/**
 * The most bytes the published `.npz` of `spec` can be: its parameters as float32 plus
 * {@linkcode CHECKPOINT_SLACK_BYTES} (each array costs a .npy header of 128 bytes and zip entries
 * of ~200 bytes; the largest model has under 1,000 arrays). A download is stopped past this size.
 */
export function bitCheckpointCap(spec: BitModelSpec): number {
  return 4 * bitParamCount(spec.arch, spec.numClasses) + CHECKPOINT_SLACK_BYTES;
}
