/**
 * NumPy `.npz` archives (a zip of `.npy` files, as written by `np.savez` and
 * `np.savez_compressed`): the format BiT checkpoints are published in. Both stored and deflated
 * members are read (fflate), ZIP64 included.
 *
 * @module
 */
import { unzipSync, zipSync } from "fflate";
import { DataError } from "../errors.ts";
import { encodeNpy, type NpyArray, parseNpy } from "../io/npy.ts";

/**
 * Parses `.npz` bytes into a map from array name (the member name without `.npy`) to array.
 * `name` is the file name used in error messages.
 */
export function parseNpz(bytes: Uint8Array, name: string): Map<string, NpyArray> {
  let members: Record<string, Uint8Array>;
  try {
    members = unzipSync(bytes);
  } catch (err) {
    throw new DataError(
      `${name} is not a readable .npz (zip) archive (${(err as Error).message}); ` +
        "save the weights with np.savez",
    );
  }
  const out = new Map<string, NpyArray>();
  for (const [member, data] of Object.entries(members)) {
    if (member.endsWith("/")) continue; // directory entries written by some zip tools
    const key = member.endsWith(".npy") ? member.slice(0, -4) : member;
    out.set(key, parseNpy(data, `${name}:${member}`));
  }
  if (out.size === 0) throw new DataError(`${name} holds no arrays; check the file`);
  return out;
}

/** Reads an `.npz` file; see {@linkcode parseNpz}. */
export async function readNpz(path: string): Promise<Map<string, NpyArray>> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new DataError(`${path} not found; pass the BiT .npz checkpoint with --npz`);
    }
    throw err;
  }
  return parseNpz(bytes, path);
}

/**
 * Encodes arrays as `.npz` bytes like `np.savez` (stored members) or, with `compress`, like
 * `np.savez_compressed` (deflate).
 */
export function encodeNpz(
  arrays: Map<string, NpyArray> | Record<string, NpyArray>,
  compress = false,
): Uint8Array {
  const entries = arrays instanceof Map ? [...arrays] : Object.entries(arrays);
  const files: Record<string, Uint8Array> = {};
  for (const [key, arr] of entries) files[`${key}.npy`] = encodeNpy(arr);
  return zipSync(files, { level: compress ? 6 : 0 });
}
