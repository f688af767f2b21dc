/**
 * Checkpoint -> ONNX file: the conversion `deno task bit-to-onnx` and `deno task fetch-bit` share.
 *
 * @module
 */
import { diskError } from "../io/atomic.ts";
import { trackResource } from "../io/cleanup.ts";
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
  /** How messages name the settings (default "architecture", "output list"). */
  labels?: { arch?: string; outputs?: string };
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

/** Bytes per write call (bounds the runtime's transient copy for async writes). */
const IO_CHUNK = 64 << 20;

/** `path` and its ancestors that do not exist yet, deepest first. */
async function missingDirs(path: string): Promise<string[]> {
  const missing: string[] = [];
  for (let p = path.replace(/\/+$/, ""); p !== "" && p !== "." && p !== "/";) {
    try {
      await Deno.lstat(p);
      break;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) break;
    }
    missing.push(p);
    const slash = p.lastIndexOf("/");
    p = slash < 0 ? "" : p.slice(0, slash);
  }
  return missing;
}

/**
 * Writes `chunks` to a fresh temp file beside `path` and fsyncs it; returns the temp name. On
 * failure the temp file is removed and a disk error names `path`.
 */
async function writeTemp(
  path: string,
  chunks: Uint8Array[],
  untrack: (() => void)[],
): Promise<string> {
  const rand = crypto.getRandomValues(new Uint32Array(2));
  const tmp = `${path}.tmp-${Deno.pid}-${rand[0].toString(36)}${rand[1].toString(36)}`;
  untrack.push(trackResource("temp file", tmp));
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(tmp, { write: true, createNew: true });
    for (const c of chunks) {
      for (let off = 0; off < c.length;) {
        off += await file.write(c.subarray(off, Math.min(c.length, off + IO_CHUNK)));
      }
    }
    await file.sync();
    file.close();
    file = undefined;
    return tmp;
  } catch (err) {
    if (file) {
      try {
        file.close();
      } catch { /* closed */ }
    }
    await Deno.remove(tmp).catch(() => {});
    throw diskError(err, path);
  }
}

/**
 * Writes several files in one directory as one result: each is first written whole to a temp file
 * beside its target (`<name>.tmp-<pid>-<rand>`) and fsynced, and only when all of them are on disk
 * are they renamed into place, in the given order (renames need no space). A failure while writing
 * (a full disk included) removes the temp files and the directories this call created and leaves
 * every existing target byte for byte; the `DataError` names the file that could not be written.
 *
 * @example
 * ```ts
 * declare const weights: Uint8Array; // external tensor data
 * declare const model: Uint8Array; // serialized ModelProto that references it
 * await writeFilesStaged([["m.onnx.data", [weights]], ["m.onnx", [model]]]);
 * ```
 */
export async function writeFilesStaged(
  files: readonly (readonly [string, Uint8Array[]])[],
): Promise<void> {
  if (files.length === 0) return;
  const first = files[0][0];
  const dir = first.includes("/") ? first.slice(0, first.lastIndexOf("/")) || "/" : ".";
  const created = await missingDirs(dir);
  const untrack: (() => void)[] = [];
  const temps: string[] = [];
  try {
    try {
      await Deno.mkdir(dir, { recursive: true });
    } catch (err) {
      throw diskError(err, dir);
    }
    for (const [path, chunks] of files) temps.push(await writeTemp(path, chunks, untrack));
    // Renames need no space, so once every temp is whole nothing but a crash can stop this.
    for (let i = 0; i < files.length; i++) {
      try {
        await Deno.rename(temps[i], files[i][0]);
      } catch (err) {
        throw diskError(err, files[i][0]);
      }
    }
  } catch (err) {
    for (const t of temps) await Deno.remove(t).catch(() => {});
    for (const d of created) {
      try {
        await Deno.remove(d); // not recursive: only while empty
      } catch {
        break;
      }
    }
    throw err;
  } finally {
    for (const u of untrack) u();
  }
}

/**
 * Checks the weights against the architecture, builds the ONNX model and writes it staged: the
 * model (and its `.data` side file, when there is one) are first written whole to temp files
 * beside their targets, and only then renamed into place, side file first. A failure while
 * writing (a full disk included) leaves the previous model and side file byte for byte, removes
 * the temp files and the directories this call created, and names the file in a `DataError`.
 */
export async function convertBitCheckpoint(opts: ConvertOptions): Promise<ConvertResult> {
  const { weights, npzPath, out } = opts;
  const bit = inferArch(weights, npzPath, opts.arch ?? "auto", { label: opts.labels?.arch });
  const external = needsExternalData(weights);
  const dataName = `${out.split("/").pop()}.data`;
  const model = buildBitOnnx(weights, bit, {
    outputs: opts.outputs ?? ["features"],
    groupNorm: opts.groupNorm ?? "instance",
    externalDataName: external ? dataName : undefined,
    label: opts.labels?.outputs,
    metadata: { source_npz: npzPath.split("/").pop()!, source_sha256: await hashFile(npzPath) },
  });
  await writeFilesStaged(
    external ? [[`${out}.data`, model.externalData], [out, [model.model]]] : [[out, [model.model]]],
  );
  const bytes = model.model.length + model.externalData.reduce((s, c) => s + c.length, 0);
  return {
    arch: bit,
    outputs: model.outputs,
    bytes,
    ...(external ? { dataFile: dataName } : {}),
  };
}
