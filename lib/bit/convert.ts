/**
 * Checkpoint -> ONNX file: the conversion `deno task bit-to-onnx` and `deno task fetch-bit` share.
 *
 * @module
 */
import { writeFileAtomic } from "../io/atomic.ts";
import { hashFile } from "../io/manifest.ts";
import type { NpyArray } from "../io/npy.ts";
import { type BitArch, type BitArchName, inferArch } from "./arch.ts";
import {
  type BitOutput,
  buildBitOnnx,
  type GroupNormImpl,
  needsExternalData,
} from "./resnet_v2_onnx.ts";

/** Options of {@linkcode convertBitCheckpoint}. */
export interface ConvertOptions {
  /** Checkpoint arrays (from `readNpz`). */
  weights: Map<string, NpyArray>;
  /** Path of the `.npz` the weights came from (hashed into the model's metadata; messages). */
  npzPath: string;
  /** Output `.onnx` path; a `<out>.data` side file is written for models over 1.8 GB. */
  out: string;
  /** Expected architecture (`auto`: whatever the weights are). */
  arch?: BitArchName | "auto";
  outputs?: BitOutput[];
  groupNorm?: GroupNormImpl;
}

/** What {@linkcode convertBitCheckpoint} wrote. */
export interface ConvertResult {
  arch: BitArch;
  outputs: string[];
  /** Bytes of the model file plus the side file. */
  bytes: number;
  /** Name of the external-data side file, when one was written. */
  dataFile?: string;
}

/**
 * Checks the weights against the architecture, builds the ONNX model and writes it atomically
 * (the side file first, so a model file never points at missing weights).
 */
export async function convertBitCheckpoint(opts: ConvertOptions): Promise<ConvertResult> {
  const { weights, npzPath, out } = opts;
  const bit = inferArch(weights, npzPath, opts.arch ?? "auto");
  const external = needsExternalData(weights);
  const dataName = `${out.split("/").pop()}.data`;
  const model = buildBitOnnx(weights, bit, {
    outputs: opts.outputs ?? ["features"],
    groupNorm: opts.groupNorm ?? "instance",
    externalDataName: external ? dataName : undefined,
    metadata: { source_npz: npzPath.split("/").pop()!, source_sha256: await hashFile(npzPath) },
  });
  const dir = out.includes("/") ? out.slice(0, out.lastIndexOf("/")) : ".";
  await Deno.mkdir(dir, { recursive: true });
  if (external) await writeFileAtomic(`${out}.data`, model.externalData);
  await writeFileAtomic(out, model.model);
  const bytes = model.model.length + model.externalData.reduce((s, c) => s + c.length, 0);
  return {
    arch: bit,
    outputs: model.outputs,
    bytes,
    ...(external ? { dataFile: dataName } : {}),
  };
}
