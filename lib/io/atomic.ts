/**
 * Crash-safe file writes: every output is written to a temp name in the target's directory,
 * fsynced, then renamed over the target, so a reader sees either the old file or the new one and
 * never a half-written file.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import { makeDirTracked, removeEmptyDirs, trackResource } from "./cleanup.ts";

/** Bytes per read/write call: bounds any transient copy the runtime makes for async I/O. */
const IO_CHUNK = 64 << 20;

/** Temp name beside `path`; same directory so the final rename never crosses file systems. */
function tempPath(path: string): string {
  const rand = crypto.getRandomValues(new Uint32Array(2));
  return `${path}.tmp-${Deno.pid}-${rand[0].toString(36)}${rand[1].toString(36)}`;
}

/** Writes all of `bytes`; `FsFile.write` may write less than asked (large buffers, > 2 GiB). */
async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) {
    off += await file.write(bytes.subarray(off, Math.min(bytes.length, off + IO_CHUNK)));
  }
}

/**
 * Atomically replaces `path` with `data` (one buffer, or several written back to back so large
 * arrays need not be concatenated first). The temp file is removed if anything fails.
 *
 * @example
 * ```ts
 * import { encodeNpy } from "./npy.ts";
 * const bytes = encodeNpy({ dtype: "<f4", shape: [3], data: new Float32Array([0.9, 0.2, 0.7]) });
 * await writeFileAtomic("out/scores.npy", bytes);
 * ```
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | Uint8Array[],
): Promise<void> {
  const tmp = tempPath(path);
  const chunks = Array.isArray(data) ? data : [data];
  let file: Deno.FsFile | undefined;
  // Registered before it exists: a signal handler may run while the open is still in flight.
  const untrack = trackResource("temp file", tmp);
  try {
    file = await Deno.open(tmp, { write: true, createNew: true });
    for (const chunk of chunks) await writeAll(file, chunk);
    await file.sync();
    file.close();
    file = undefined;
    await Deno.rename(tmp, path);
  } catch (err) {
    if (file) {
      try {
        file.close();
      } catch { /* already closed */ }
    }
    await Deno.remove(tmp).catch(() => {});
    throw diskError(err, path);
  } finally {
    untrack();
  }
}

/** Atomically replaces `path` with UTF-8 `text`. */
export async function writeTextAtomic(path: string, text: string): Promise<void> {
  await writeFileAtomic(path, new TextEncoder().encode(text));
}

/** Atomically writes `value` as 2-space-indented JSON followed by a newline. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeTextAtomic(path, JSON.stringify(value, null, 2) + "\n");
}

/**
 * Makes sure `dir` is a writable directory, creating it (and parents) when missing. `flagName`
 * (e.g. `--out`) names where the path came from in the error.
 */
export async function ensureWritableDir(dir: string, flagName: string): Promise<void> {
  let info: Deno.FileInfo | undefined;
  try {
    info = await Deno.stat(dir);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      throw new DataError(
        `${flagName} ${dir} cannot be used (${errorText(err)}); choose a writable directory path`,
      );
    }
  }
  if (info && !info.isDirectory) {
    throw new DataError(`${flagName} ${dir} is a file; choose a directory path`);
  }
  let created: string[] = [];
  if (!info) {
    try {
      created = await makeDirTracked(dir);
    } catch (err) {
      throw new DataError(
        `${flagName} ${dir} cannot be created (${errorText(err)}); choose a writable directory`,
      );
    }
  }
  // Permission bits lie for root and on some mounts: probe with a real file instead.
  const probe = tempPath(`${dir}/.write-probe`);
  const untrack = trackResource("temp file", probe);
  try {
    try {
      await Deno.writeFile(probe, new Uint8Array(0), { createNew: true });
    } catch (err) {
      removeEmptyDirs(created);
      throw new DataError(
        `${flagName} ${dir} is not writable (${errorText(err)}); choose a writable directory`,
      );
    }
    await Deno.remove(probe).catch(() => {});
  } finally {
    untrack();
  }
}

/**
 * The OS reason of a file-system error, e.g. "Read-only file system (os error 30)": Deno's class
 * name alone is a bare "Error" for EROFS / ENOSPC, and its ": op 'path'" suffix repeats the path.
 */
function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.message.split("\n")[0].replace(/: \w+ '[^']*'(?: -> '[^']*')?$/, "");
}

/** Error codes of a full or read-only disk: the user fixes these, not the code. */
const DISK_CODES = new Set(["ENOSPC", "EDQUOT", "EROFS", "EACCES", "EPERM"]);

/**
 * A disk error while writing `path` as a DataError naming the file; other errors unchanged. The
 * advice names the place to change as `o.label` (default "output directory").
 */
export function diskError(err: unknown, path: string, o: { label?: string } = {}): unknown {
  const code = (err as { code?: string } | null)?.code;
  if (!(err instanceof Deno.errors.PermissionDenied) && !(code && DISK_CODES.has(code))) {
    return err;
  }
  return new DataError(
    `Cannot write ${path} (${errorText(err)}); free space there or choose another ` +
      (o.label ?? "output directory"),
  );
}
