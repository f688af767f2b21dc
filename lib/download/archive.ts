/**
 * Unpacking `.tar` / `.tar.gz` archives all-or-nothing: entries are written into a temp directory
 * beside the destination, the chosen folder is checked (image counts), and only then renamed to
 * the destination; on any failure the temp directory is removed, so no half-unpacked dataset is
 * ever left behind. Tar parsing is `tar-stream` (pure JavaScript, no system `tar` needed) behind
 * fflate's gunzip (with the gzip CRC-32 checked); member paths that are absolute or climb out with `..` are refused, and
 * links are skipped (image sets need none, and they could point outside the destination).
 *
 * @module
 */
import { Gunzip } from "fflate";
import tarStream from "tar-stream";
import { DataError } from "../errors.ts";
import { isImageFile } from "../extract/image_list.ts";

/** Options of {@linkcode unpackArchive}. */
export interface UnpackOptions {
  /** A `.tar`, `.tar.gz` or `.tgz` file (gzip is detected from the bytes, not the name). */
  archive: string;
  /** Directory to create; it must not exist yet. */
  dest: string;
  /** Folder inside the archive that becomes `dest` (e.g. `dtd/images`); default the archive root. */
  root?: string;
  /** Called as the archive is read: archive bytes read so far and the archive's size. */
  onProgress?: (read: number, total: number) => void;
  /** Checks the unpacked folder before it becomes `dest`; throw (a `DataError`) to reject it. */
  verify?: (dir: string) => Promise<void>;
}

/** What {@linkcode unpackArchive} wrote. */
export interface UnpackResult {
  dest: string;
  /** Regular files unpacked (whole archive). */
  files: number;
  /** Bytes of those files. */
  bytes: number;
  /** Link entries skipped. */
  linksSkipped: number;
}

/** Image files below a directory (recursive), by {@linkcode isImageFile}. */
export interface ImageCount {
  images: number;
  /** Image files of zero bytes (a damaged unpack). */
  empty: number;
  /** Total bytes of the image files. */
  bytes: number;
  /** Files that are not images. */
  other: number;
}

/** Counts image files below `dir` (symlinks not followed). */
export async function countImages(dir: string): Promise<ImageCount> {
  const out: ImageCount = { images: 0, empty: 0, bytes: 0, other: 0 };
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else if (e.isFile && isImageFile(e.name)) {
        const size = (await Deno.stat(p)).size;
        out.images++;
        out.bytes += size;
        if (size === 0) out.empty++;
      } else out.other++;
    }
  };
  await walk(dir);
  return out;
}

/** `a/./b/` -> `a/b`; null for absolute paths and paths that climb out with `..`. */
function safeMember(name: string): string | null {
  if (name.startsWith("/") || /^[A-Za-z]:/.test(name)) return null;
  const parts: string[] = [];
  for (const seg of name.replaceAll("\\", "/").split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") return null;
    parts.push(seg);
  }
  return parts.join("/");
}

function parentOf(path: string): string {
  const i = path.replace(/\/+$/, "").lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : path.slice(0, i);
}

function baseOf(path: string): string {
  return path.replace(/\/+$/, "").split("/").pop()!;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

async function isGzip(path: string): Promise<boolean> {
  const f = await Deno.open(path, { read: true });
  try {
    const head = new Uint8Array(2);
    const n = await f.read(head);
    return n === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    f.close();
  }
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (gzip's) running state update; start from 0xffffffff, finish with `^ 0xffffffff`. */
function crc32Update(crc: number, bytes: Uint8Array): number {
  let c = crc;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return c >>> 0;
}

/** The gzip trailer: CRC-32 and length mod 2^32 of the uncompressed data. */
async function gzipTrailer(path: string, size: number): Promise<{ crc: number; size: number }> {
  const f = await Deno.open(path, { read: true });
  try {
    const t = new Uint8Array(8);
    if (size < 18) return { crc: -1, size: -1 };
    await f.seek(size - 8, Deno.SeekMode.Start);
    let got = 0;
    while (got < 8) {
      const n = await f.read(t.subarray(got));
      if (n === null) break;
      got += n;
    }
    const v = new DataView(t.buffer);
    return { crc: v.getUint32(0, true), size: v.getUint32(4, true) };
  } finally {
    f.close();
  }
}

/** Reads an entry's data to its end (tar-stream needs that before the next entry). */
async function drain(stream: unknown): Promise<void> {
  for await (const _ of stream as AsyncIterable<Uint8Array>) { /* skip */ }
}

/** Streams the archive's entries into `dir`. */
async function extractInto(
  archive: string,
  dir: string,
  total: number,
  onProgress?: (read: number, total: number) => void,
): Promise<Omit<UnpackResult, "dest">> {
  const result = { files: 0, bytes: 0, linksSkipped: 0 };
  const made = new Set<string>();
  const mkdirp = async (d: string) => {
    if (made.has(d)) return;
    await Deno.mkdir(d, { recursive: true });
    made.add(d);
  };
  const extract = tarStream.extract();
  extract.on("entry", (header, stream, next) => {
    // Destroying the extractor destroys the open entry with the same error; the failure is
    // reported once, by unpackArchive, not as an uncaught 'error' event of the entry.
    stream.on("error", () => {});
    (async () => {
      const rel = safeMember(header.name);
      if (rel === null) {
        throw new DataError(
          `${archive} holds an unsafe member path "${header.name}" (absolute or with ..); ` +
            "refusing to unpack it",
        );
      }
      const type = header.type ?? "file";
      if (type === "directory") {
        if (rel !== "") await mkdirp(`${dir}/${rel}`);
        await drain(stream);
        return;
      }
      if (type !== "file" && type !== "contiguous-file") {
        if (type === "symlink" || type === "link") result.linksSkipped++;
        await drain(stream);
        return;
      }
      if (rel === "") throw new DataError(`${archive} holds a file entry without a name`);
      const path = `${dir}/${rel}`;
      await mkdirp(parentOf(path));
      const file = await Deno.open(path, { write: true, createNew: true }).catch((err) => {
        if (err instanceof Deno.errors.AlreadyExists) {
          throw new DataError(`${archive} holds "${rel}" twice; the archive is damaged`);
        }
        throw err;
      });
      try {
        for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
          let off = 0;
          while (off < chunk.length) off += await file.write(chunk.subarray(off));
          result.bytes += chunk.length;
        }
      } finally {
        file.close();
      }
      result.files++;
    })().then(() => next(), (err) => next(err));
  });
  const done = new Promise<void>((resolve, reject) => {
    extract.on("finish", () => resolve());
    extract.on("error", (err: Error) => reject(err));
  });
  done.catch(() => {}); // observed below; a failure before the await must not be unhandled
  const gz = await isGzip(archive);
  const trailer = gz ? await gzipTrailer(archive, total) : null;
  let failed: unknown = null;
  extract.on("error", (err: Error) => failed ??= err);
  const feed = async (chunk: Uint8Array) => {
    if (failed || chunk.length === 0) return;
    if (!extract.write(chunk)) {
      await new Promise<void>((r) => {
        const go = () => r();
        extract.once("drain", go);
        extract.once("error", go);
      });
    }
  };
  // fflate's synchronous Gunzip: every gzip error is thrown right here (the runtime's streaming
  // decompressors reported truncation as an uncaught error); the CRC-32 and length of the gzip
  // trailer are checked by hand, as fflate does not.
  const pending: Uint8Array[] = [];
  const gunzip = gz ? new Gunzip((chunk) => pending.push(chunk)) : null;
  let crc = 0xffffffff;
  let inflated = 0;
  const drainPending = async () => {
    for (const c of pending.splice(0)) {
      crc = crc32Update(crc, c);
      inflated += c.length;
      await feed(c);
    }
  };
  let read = 0;
  const file = await Deno.open(archive, { read: true });
  try {
    const buf = new Uint8Array(1 << 20);
    for (;;) {
      const n = await file.read(buf);
      if (n === null) break;
      read += n;
      onProgress?.(read, total);
      if (gunzip) {
        gunzip.push(buf.slice(0, n), false);
        await drainPending();
      } else await feed(buf.slice(0, n));
      if (failed) break;
    }
    if (gunzip && !failed) {
      gunzip.push(new Uint8Array(0), true);
      await drainPending();
      if (((crc ^ 0xffffffff) >>> 0) !== trailer!.crc || (inflated >>> 0) !== trailer!.size) {
        throw new Error("gzip data does not match its CRC-32 / length trailer");
      }
    }
  } catch (err) {
    extract.destroy(err as Error);
    throw err;
  } finally {
    file.close();
  }
  if (failed) throw failed;
  (extract as unknown as { end(): void }).end();
  await done;
  return result;
}

/**
 * Unpacks `archive` all-or-nothing (see the module doc): the folder `root` of the archive becomes
 * `dest` after `verify` accepted it. A damaged archive (bad gzip or tar data, truncation, unsafe
 * paths, duplicate members) is a `DataError` naming it; `dest` then does not exist and no temp
 * directory remains.
 *
 * @example
 * ```ts
 * await unpackArchive({ archive: "dtd-r1.0.1.tar.gz", dest: "data/Textures", root: "dtd/images" });
 * ```
 */
export async function unpackArchive(opts: UnpackOptions): Promise<UnpackResult> {
  const { archive, dest } = opts;
  if (await exists(dest)) {
    throw new DataError(`${dest} already exists; remove it before unpacking ${archive} there`);
  }
  const total = (await Deno.stat(archive)).size;
  const parent = parentOf(dest);
  await Deno.mkdir(parent, { recursive: true });
  const rand = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  const tmp = `${parent}/.${baseOf(dest)}.unpack-${Deno.pid}-${rand}`;
  await Deno.mkdir(tmp);
  try {
    let stats: Omit<UnpackResult, "dest">;
    try {
      stats = await extractInto(archive, tmp, total, opts.onProgress);
    } catch (err) {
      if (err instanceof DataError) throw err;
      const msg = err instanceof Error ? err.message.split("\n")[0] : String(err);
      throw new DataError(`${archive} is corrupt or truncated (${msg})`);
    }
    const rootRel = opts.root ? safeMember(opts.root) : "";
    if (rootRel === null) throw new RangeError(`unpackArchive: bad root "${opts.root}"`);
    const src = rootRel === "" ? tmp : `${tmp}/${rootRel}`;
    let srcInfo: Deno.FileInfo | null = null;
    try {
      srcInfo = await Deno.lstat(src);
    } catch { /* missing */ }
    if (!srcInfo?.isDirectory) {
      const top: string[] = [];
      for await (const e of Deno.readDir(tmp)) top.push(e.name);
      throw new DataError(
        `${archive} has no folder "${rootRel}" (its top level holds ` +
          `${top.sort().slice(0, 5).join(", ") || "nothing"}); it is not the expected archive`,
      );
    }
    await opts.verify?.(src);
    if (rootRel === "") {
      await Deno.rename(tmp, dest);
    } else {
      await Deno.rename(src, dest);
      await Deno.remove(tmp, { recursive: true });
    }
    return { dest, ...stats };
  } catch (err) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw err;
  }
}
