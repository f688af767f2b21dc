/**
 * Reading the small JSON files that describe data (meta.json, head.json) with a size bound: they
 * are a few kilobytes (a 21k-class grouping is about 150 KB), so a multi-megabyte one is corrupt,
 * and parsing it whole could take more memory than the data it describes.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import { formatBytes } from "../memory_budget.ts";

/** Largest description file read (16 MiB): about 100 times the largest real one. */
export const MAX_JSON_FILE_BYTES = 16 << 20;
/**
 * Deepest nesting accepted. Real files nest 4 levels; JSON.parse takes any depth, but the value
 * would later overflow the stack of JSON.stringify (manifests, rewritten heads) or of code that
 * walks it.
 */
export const MAX_JSON_DEPTH = 64;

/** The deepest array / object nesting of JSON `text` (strings skipped), stopping past `limit`. */
function nestingDepth(text: string, limit: number): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) max = depth;
      if (max > limit) return max;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return max;
}

/**
 * Parses the JSON file at `path` after checking its size and nesting depth. A missing file
 * rethrows `Deno.errors.NotFound` so callers can say what is incomplete; an oversized, too deeply
 * nested or unparsable file is a `DataError` naming it and ending with `fix`.
 */
export async function readJsonFile(
  path: string,
  fix: string,
  maxBytes: number = MAX_JSON_FILE_BYTES,
): Promise<unknown> {
  const file = await Deno.open(path, { read: true });
  let bytes: Uint8Array;
  try {
    const size = (await file.stat()).size;
    if (size > maxBytes) {
      throw new DataError(
        `${path} is ${formatBytes(size)}, more than the ${
          formatBytes(maxBytes)
        } such a file can need; it is corrupt, ${fix}`,
      );
    }
    bytes = new Uint8Array(size);
    let off = 0;
    while (off < size) {
      const n = await file.read(bytes.subarray(off));
      if (n === null) break;
      off += n;
    }
    bytes = bytes.subarray(0, off);
  } finally {
    file.close();
  }
  const text = new TextDecoder().decode(bytes);
  if (nestingDepth(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
    throw new DataError(
      `${path} nests arrays / objects deeper than ${MAX_JSON_DEPTH} levels; it is corrupt, ${fix}`,
    );
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new DataError(`${path} is not valid JSON; ${fix}`);
  }
}
