/**
 * NumPy `.npz` archives (a zip of `.npy` files, as written by `np.savez` and
 * `np.savez_compressed`): the format BiT checkpoints are published in. Both stored and deflated
 * members are read (fflate), ZIP64 included.
 *
 * @module
 */
import { type UnzipFileInfo, unzipSync, zipSync } from "npm:fflate@0.8.3";
import { DataError } from "../errors.ts";
import { encodeNpy, type NpyArray, parseNpy } from "../io/npy.ts";
import { oneLine, quoteValue } from "../quote.ts";
import { assertFitsInMemory } from "../memory_budget.ts";

/**
 * Most bytes deflate can expand one compressed byte into (its limit is about 1032:1), plus room
 * for a tiny member: a declared size above this is a lie, and unzipping would allocate it.
 */
const MAX_DEFLATE_RATIO = 1032;
/** Bytes of a zip central-directory entry without its name: bounds the entry count. */
const MIN_ENTRY_BYTES = 46;

/**
 * Checks each zip entry's declared sizes before fflate allocates its output buffer from them:
 * a stored member is as long as its bytes, a deflated one at most the deflate ratio longer, and
 * all of them together must fit in memory.
 */
function entryGuard(bytes: Uint8Array, name: string): (f: UnzipFileInfo) => boolean {
  let entries = 0;
  let total = 0;
  return (f) => {
    const bad = (why: string) =>
      new DataError(
        `${name}: zip entry ${quoteValue(f.name)} ${why}; the archive is corrupt, download or ` +
          "save it again (np.savez)",
      );
    if (++entries > bytes.length / MIN_ENTRY_BYTES) throw bad("is past the archive's entries");
    if (!Number.isSafeInteger(f.size) || f.size < 0 || f.size > bytes.length) {
      throw bad(`declares ${f.size} compressed bytes in a ${bytes.length}-byte archive`);
    }
    const limit = f.compression === 0 ? f.size : f.size * MAX_DEFLATE_RATIO + 1024;
    if (!Number.isSafeInteger(f.originalSize) || f.originalSize < 0 || f.originalSize > limit) {
      throw bad(`declares ${f.originalSize} bytes unpacked from ${f.size} stored bytes`);
    }
    total += f.originalSize;
    assertFitsInMemory(total, `Unpacking ${name}`, "free memory or use a machine with more");
    return true;
  };
}

/**
 * Parses `.npz` bytes into a map from array name (the member name without `.npy`) to array.
 * `name` is the file name used in error messages. Members are read like every `.npy` file
 * (lib/io/npy.ts: exactly header + data); declared sizes are checked before unpacking.
 */
export function parseNpz(bytes: Uint8Array, name: string): Map<string, NpyArray> {
  let members: Record<string, Uint8Array>;
  try {
    members = unzipSync(bytes, { filter: entryGuard(bytes, name) });
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError(
      `${name} is not a readable .npz (zip) archive (${
        quoteValue((err as Error).message, 120)
      }); save the weights with np.savez`,
    );
  }
  const out = new Map<string, NpyArray>();
  for (const [member, data] of Object.entries(members)) {
    if (member.endsWith("/")) continue; // directory entries written by some zip tools
    const key = member.endsWith(".npy") ? member.slice(0, -4) : member;
    out.set(key, parseNpy(data, `${name}:${oneLine(member)}`));
  }
  if (out.size === 0) throw new DataError(`${name} holds no arrays; check the file`);
  return out;
}

/**
 * Reads an `.npz` file; see {@linkcode parseNpz}. A missing file is a DataError ending in
 * `o.hint` (default "pass a BiT .npz checkpoint").
 */
export async function readNpz(
  path: string,
  o: { hint?: string } = {},
): Promise<Map<string, NpyArray>> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new DataError(`${path} not found; ${o.hint ?? "pass a BiT .npz checkpoint"}`);
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
