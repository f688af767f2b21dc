/**
 * An in-process full disk for unit tests: while {@linkcode withFullDisk} runs, writes to files
 * under a directory fail with the kernel's ENOSPC error once a byte budget is spent, exactly as a
 * full file system answers (`Error` "No space left on device (os error 28)" with code ENOSPC).
 * Creating files and directories, renames and reads are left alone, as on a real full disk
 * (metadata needs no data blocks). Only the calls the download, unpack and conversion code use are
 * covered: `Deno.open` with write access (then `FsFile.write` / `sync`), `Deno.writeFile` and
 * `Deno.writeTextFile`.
 *
 * @module
 */

/** The error a full disk gives for `path`. */
export function enospc(path: string): Error {
  return Object.assign(
    new Error(`No space left on device (os error 28): write '${path}'`),
    { code: "ENOSPC" },
  );
}

/**
 * Runs `fn` while at most `budget` more bytes can be written under `dir` (absolute). Returns what
 * `fn` returns; the runtime's functions are restored afterwards, whatever happens.
 */
export async function withFullDisk<T>(
  dir: string,
  budget: number,
  fn: () => Promise<T>,
): Promise<T> {
  const under = (p: string | URL) => {
    const s = p instanceof URL ? p.pathname : String(p);
    const abs = s.startsWith("/") ? s : `${Deno.cwd()}/${s}`;
    return abs === dir || abs.startsWith(dir + "/");
  };
  let left = budget;
  const spend = (n: number, path: string) => {
    left -= n;
    if (left < 0) throw enospc(path);
  };
  const tracked = new WeakMap<Deno.FsFile, string>();
  const orig = {
    open: Deno.open,
    writeFile: Deno.writeFile,
    writeTextFile: Deno.writeTextFile,
    write: Deno.FsFile.prototype.write,
  };
  const d = Deno as unknown as Record<string, unknown>;
  d.open = async (path: string | URL, options?: Deno.OpenOptions) => {
    const file = await orig.open(path, options);
    if (under(path) && (options?.write || options?.append)) tracked.set(file, String(path));
    return file;
  };
  d.writeFile = (path: string | URL, data: Uint8Array, options?: Deno.WriteFileOptions) => {
    if (under(path)) spend(data.length, String(path));
    return orig.writeFile(path, data, options);
  };
  d.writeTextFile = (path: string | URL, data: string, options?: Deno.WriteFileOptions) => {
    if (under(path)) spend(new TextEncoder().encode(data).length, String(path));
    return orig.writeTextFile(path, data, options);
  };
  Deno.FsFile.prototype.write = function (this: Deno.FsFile, p: Uint8Array) {
    const path = tracked.get(this);
    if (path !== undefined) {
      try {
        spend(p.length, path);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return orig.write.call(this, p);
  };
  try {
    return await fn();
  } finally {
    d.open = orig.open;
    d.writeFile = orig.writeFile;
    d.writeTextFile = orig.writeTextFile;
    Deno.FsFile.prototype.write = orig.write;
  }
}
