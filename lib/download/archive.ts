/**
 * Unpacking `.tar` / `.tar.gz` archives all-or-nothing: entries are written into a temp directory
 * beside the destination, the chosen folder is checked (image counts), and only then renamed to
 * the destination; on any failure the temp directory is removed, so no half-unpacked dataset is
 * ever left behind. Tar parsing is `tar-stream` (pure JavaScript, no system `tar` needed) behind
 * fflate's gunzip (with the gzip CRC-32 checked); member paths that are absolute or climb out with
 * `..` are refused, and links are skipped (image sets need none, and they could point outside the
 * destination).
 *
 * Memory and disk are bounded whatever the archive holds: compressed bytes are inflated in fixed
 * windows ({@linkcode GUNZIP_WINDOW}), and the output is handed to the tar parser with
 * back-pressure (each write waits until the previous entry data is on disk), so a gzip bomb never
 * sits in memory; {@linkcode UnpackLimits} stop an archive as soon as its entry count, an entry's
 * declared size, its total size or its expansion ratio exceeds what the expected content can be.
 *
 * @module
 */
import { Gunzip } from "npm:fflate@0.8.3";
import tarStream, { type Extract, type Header } from "npm:tar-stream@3.2.2";
import { DataError } from "../errors.ts";
import { isImageFile } from "../extract/image_list.ts";
import { trackResource } from "../io/cleanup.ts";
import { processAlive } from "../io/lock.ts";
import { formatBytes } from "../memory_budget.ts";
import { asDiskWriteError, DiskWriteError } from "./disk_errors.ts";

/**
 * Compressed bytes inflated per step. Deflate expands at most 1032-fold, so one step yields at
 * most ~8.3 MiB: the bound on what a single step can add to memory, however extreme the archive.
 */
export const GUNZIP_WINDOW = 8 << 10;

/** Inflated bytes collected before they are handed on (fewer, larger writes; bounded). */
const FEED_BYTES = 1 << 20;

/** Archive bytes read per file read. */
const READ_CHUNK = 1 << 20;

/**
 * Bounds on what an archive may unpack to. Every check runs before the bytes it is about are
 * written: entry counts and sizes from the tar headers, totals as the stream is inflated.
 */
export interface UnpackLimits {
  /** Most bytes of regular-file data the whole archive may hold. */
  maxBytes: number;
  /** Most entries (files, folders, links) the archive may hold. */
  maxEntries: number;
  /** Most bytes one file entry may hold. */
  maxEntryBytes: number;
  /**
   * Most inflated bytes per compressed byte (gzip only), checked once more than
   * `expansionFloor` bytes were inflated; 0 turns the check off.
   */
  maxExpansion: number;
  /** Inflated bytes before the expansion check applies (small archives compress tar headers). */
  expansionFloor: number;
  /** What the limits stand for, in messages (e.g. "iNaturalist (10,000 images)"). */
  what: string;
}

/**
 * Limits when the caller gives none: far beyond any image set this tool downloads (the largest,
 * 10,000 images, is a few GB), but finite, so no archive can fill a disk or run for days.
 */
export const DEFAULT_UNPACK_LIMITS: UnpackLimits = {
  maxBytes: 64 * 2 ** 30,
  maxEntries: 10_000_000,
  maxEntryBytes: 4 * 2 ** 30,
  maxExpansion: 0,
  expansionFloor: 0,
  what: "an image archive",
};

/**
 * Tar bytes each entry may add beyond its data: its 512-byte header, up to 511 bytes of padding,
 * and extended (pax / GNU long-name) headers. Bounds the tar stream, which also carries data of
 * entries that are never written (links, devices), to `maxBytes + maxEntries * this`.
 */
const ENTRY_OVERHEAD = 8 << 10;

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
  /** Bounds on the content (default {@linkcode DEFAULT_UNPACK_LIMITS}). */
  limits?: UnpackLimits;
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

/** One buffer of `chunks` (no copy for a single chunk). */
function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** The one-line refusal of an archive that exceeds `limits`. */
function overLimit(archive: string, what: string): DataError {
  return new DataError(
    `${archive} ${what}; it is not the published archive (a damaged file or a decompression bomb)`,
  );
}

/** Files, bytes and skipped links unpacked so far. */
type UnpackStats = Omit<UnpackResult, "dest">;

/**
 * The handler of one tar entry: checks it against `limits` and the path rules, then creates its
 * folder or writes its file under `dir` (every write waits for the disk, which is the
 * back-pressure of the whole unpack), counting into `result`.
 */
function entryWriter(
  archive: string,
  dir: string,
  limits: UnpackLimits,
  result: UnpackStats,
): (header: Header, stream: AsyncIterable<Uint8Array>) => Promise<void> {
  const made = new Set<string>();
  const mkdirp = async (d: string) => {
    if (made.has(d)) return;
    try {
      await Deno.mkdir(d, { recursive: true });
    } catch (err) {
      throw asDiskWriteError(err, d, "the archive is kept");
    }
    made.add(d);
  };
  let entries = 0;
  return async (header, stream) => {
    if (++entries > limits.maxEntries) {
      throw overLimit(
        archive,
        `holds more than ${limits.maxEntries.toLocaleString("en-US")} entries, more than ` +
          `${limits.what} can have`,
      );
    }
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
    const size = header.size ?? 0;
    checkEntrySize(archive, rel, size, result.bytes, limits);
    const path = `${dir}/${rel}`;
    await mkdirp(parentOf(path));
    result.bytes += await writeEntry(archive, rel, path, size, stream);
    result.files++;
  };
}

/** The header declares the size before any data: refuses an entry before a byte is written. */
function checkEntrySize(
  archive: string,
  rel: string,
  size: number,
  bytesSoFar: number,
  limits: UnpackLimits,
): void {
  if (size > limits.maxEntryBytes) {
    throw overLimit(
      archive,
      `holds "${rel}" of ${formatBytes(size)}, more than any file of ${limits.what} can be ` +
        `(${formatBytes(limits.maxEntryBytes)})`,
    );
  }
  if (bytesSoFar + size > limits.maxBytes) {
    throw overLimit(
      archive,
      `unpacks to more than ${formatBytes(limits.maxBytes)} (at "${rel}"), more than ` +
        `${limits.what} can hold`,
    );
  }
}

/** Writes one file entry (at most its declared `size`) to a new file `path`; returns its bytes. */
async function writeEntry(
  archive: string,
  rel: string,
  path: string,
  size: number,
  stream: AsyncIterable<Uint8Array>,
): Promise<number> {
  const file = await Deno.open(path, { write: true, createNew: true }).catch((err) => {
    if (err instanceof Deno.errors.AlreadyExists) {
      throw new DataError(`${archive} holds "${rel}" twice; the archive is damaged`);
    }
    throw asDiskWriteError(err, path, "the archive is kept");
  });
  try {
    let got = 0;
    for await (const chunk of stream) {
      got += chunk.length;
      if (got > size) throw overLimit(archive, `entry "${rel}" holds more than its header says`);
      let off = 0;
      try {
        while (off < chunk.length) off += await file.write(chunk.subarray(off));
      } catch (err) {
        throw asDiskWriteError(err, path, "the archive is kept");
      }
    }
    return got;
  } finally {
    file.close();
  }
}

/**
 * The tar parser's input side: `feed` hands it bytes, waiting for 'drain' when its buffer is
 * full (which comes only once the entry writer has put the data on disk); after the parser
 * failed, `failed()` returns its error and `feed` drops everything.
 */
function tarInput(extract: Extract): {
  feed: (chunk: Uint8Array) => Promise<void>;
  failed: () => unknown;
} {
  let failed: unknown = null;
  extract.on("error", (err: Error) => failed ??= err);
  const feed = async (chunk: Uint8Array) => {
    if (failed || chunk.length === 0) return;
    if (!extract.write(chunk)) {
      await new Promise<void>((r) => {
        const go = () => {
          extract.off("drain", go);
          extract.off("error", go);
          r();
        };
        extract.on("drain", go);
        extract.on("error", go);
      });
    }
  };
  return { feed, failed: () => failed };
}

/**
 * Counts the tar stream's bytes against `limits` as they are produced: its total (all data plus
 * per-entry overhead) and, for gzip, its expansion over the compressed bytes consumed.
 */
function tarMeter(archive: string, limits: UnpackLimits, gz: boolean): {
  /** Compressed bytes handed to the decoder (raw bytes for a plain tar). */
  consumed: (n: number) => void;
  /** Tar bytes produced; throws when a limit is exceeded. */
  produced: (n: number) => void;
} {
  const maxTarBytes = limits.maxBytes + limits.maxEntries * ENTRY_OVERHEAD;
  let tarBytes = 0;
  let consumed = 0;
  return {
    consumed: (n) => void (consumed += n),
    produced: (n) => {
      tarBytes += n;
      if (tarBytes > maxTarBytes) {
        throw overLimit(
          archive,
          `unpacks to more than ${formatBytes(maxTarBytes)} of tar data, more than ` +
            `${limits.what} can hold`,
        );
      }
      if (
        gz && limits.maxExpansion > 0 && tarBytes > limits.expansionFloor &&
        tarBytes > limits.maxExpansion * consumed
      ) {
        throw overLimit(
          archive,
          `inflates more than ${limits.maxExpansion}-fold (${formatBytes(tarBytes)} from ` +
            `${formatBytes(consumed)}), which no archive of ${limits.what} does (images are ` +
            "already compressed)",
        );
      }
    },
  };
}

/**
 * fflate's synchronous Gunzip: every gzip error is thrown right here (the runtime's streaming
 * decompressors reported truncation as an uncaught error); the CRC-32 and length of the gzip
 * trailer are checked by hand in `finish`, as fflate does not. It inflates everything it is given
 * in one call, so `push` gives it GUNZIP_WINDOW bytes at a time, and what it produced is counted
 * by `meter` before `flush` hands it to `feed`.
 */
function gzipDecoder(
  meter: ReturnType<typeof tarMeter>,
  feed: (chunk: Uint8Array) => Promise<void>,
): {
  push: (window: Uint8Array, final: boolean) => void;
  pendingBytes: () => number;
  flush: () => Promise<void>;
  finish: (trailer: { crc: number; size: number }) => void;
} {
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let crc = 0xffffffff;
  let inflated = 0;
  const gunzip = new Gunzip((chunk) => {
    if (chunk.length === 0) return;
    crc = crc32Update(crc, chunk);
    inflated += chunk.length;
    pending.push(chunk);
    pendingBytes += chunk.length;
  });
  return {
    push(window, final) {
      const before = inflated;
      meter.consumed(window.length);
      gunzip.push(window, final); // calls the callback above synchronously
      meter.produced(inflated - before);
    },
    pendingBytes: () => pendingBytes,
    async flush() {
      if (pendingBytes === 0) return;
      const chunk = concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      await feed(chunk);
    },
    finish(trailer) {
      if (((crc ^ 0xffffffff) >>> 0) !== trailer.crc || (inflated >>> 0) !== trailer.size) {
        throw new Error("gzip data does not match its CRC-32 / length trailer");
      }
    },
  };
}

/** Streams the archive's entries into `dir`, within `limits`. */
async function extractInto(
  archive: string,
  dir: string,
  total: number,
  limits: UnpackLimits,
  onProgress?: (read: number, total: number) => void,
): Promise<UnpackStats> {
  const result: UnpackStats = { files: 0, bytes: 0, linksSkipped: 0 };
  const onEntry = entryWriter(archive, dir, limits, result);
  const extract = tarStream.extract();
  extract.on("entry", (header, stream, next) => {
    // Destroying the extractor destroys the open entry with the same error; the failure is
    // reported once, by unpackArchive, not as an uncaught 'error' event of the entry.
    stream.on("error", () => {});
    onEntry(header, stream as unknown as AsyncIterable<Uint8Array>)
      .then(() => next(), (err) => next(err));
  });
  const done = new Promise<void>((resolve, reject) => {
    extract.on("finish", () => resolve());
    extract.on("error", (err: Error) => reject(err));
  });
  done.catch(() => {}); // observed below; a failure before the await must not be unhandled
  const gz = await isGzip(archive);
  const trailer = gz ? await gzipTrailer(archive, total) : null;
  const input = tarInput(extract);
  const meter = tarMeter(archive, limits, gz);
  const gunzip = gz ? gzipDecoder(meter, input.feed) : null;
  let read = 0;
  const file = await Deno.open(archive, { read: true });
  try {
    const buf = new Uint8Array(READ_CHUNK);
    for (;;) {
      const n = await file.read(buf);
      if (n === null) break;
      read += n;
      onProgress?.(read, total);
      if (gunzip) {
        for (let off = 0; off < n && !input.failed(); off += GUNZIP_WINDOW) {
          // A copy: fflate may keep a reference to unconsumed input until the next push.
          gunzip.push(buf.slice(off, Math.min(n, off + GUNZIP_WINDOW)), false);
          if (gunzip.pendingBytes() >= FEED_BYTES) await gunzip.flush();
        }
        await gunzip.flush();
      } else {
        meter.consumed(n);
        meter.produced(n);
        await input.feed(buf.slice(0, n));
      }
      if (input.failed()) break;
    }
    if (gunzip && !input.failed()) {
      gunzip.push(new Uint8Array(0), true);
      await gunzip.flush();
      gunzip.finish(trailer!);
    }
  } catch (err) {
    extract.destroy(err as Error);
    throw err;
  } finally {
    file.close();
  }
  if (input.failed()) throw input.failed();
  (extract as unknown as { end(): void }).end();
  await done;
  return result;
}

/**
 * Removes the unpack folders (`.<name>.unpack.tmp-<pid>-<rand>`, and the older
 * `.<name>.unpack-<pid>-<rand>`) that runs which no longer exist left in `parent`: a killed run
 * cannot clean up after itself. Call it with `parent` locked, so no live run of ours is using
 * them; folders of live processes and everything else are left alone. Returns the names removed.
 */
export async function removeDeadUnpacks(parent: string): Promise<string[]> {
  const removed: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(parent));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return removed;
    throw err;
  }
  for (const e of entries) {
    const m = /^\..+\.unpack(?:\.tmp)?-(\d+)-[0-9a-z]+$/.exec(e.name);
    if (!m || !e.isDirectory || processAlive(Number(m[1]))) continue;
    await Deno.remove(`${parent}/${e.name}`, { recursive: true });
    removed.push(e.name);
  }
  return removed.sort();
}

/**
 * Unpacks `archive` all-or-nothing (see the module doc): the folder `root` of the archive becomes
 * `dest` after `verify` accepted it. A damaged archive (bad gzip or tar data, truncation, unsafe
 * paths, duplicate members) or one beyond `limits` is a `DataError` naming it; a file system that
 * refuses the writes (a full disk) is a `DiskWriteError` naming the file. Either way `dest` then
 * does not exist and no temp directory remains.
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
  const limits = opts.limits ?? DEFAULT_UNPACK_LIMITS;
  const rootRel = opts.root ? safeMember(opts.root) : "";
  if (rootRel === null) throw new RangeError(`unpackArchive: bad root "${opts.root}"`);
  const total = (await Deno.stat(archive)).size;
  const parent = parentOf(dest);
  try {
    await Deno.mkdir(parent, { recursive: true });
  } catch (err) {
    throw asDiskWriteError(err, parent, "the archive is kept");
  }
  const rand = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  // The `.tmp-<pid>-<rand>` suffix marks it as a temp of this process: a signal handler removes it
  // (lib/io/cleanup.ts), and after a SIGKILL the next run does (removeDeadUnpacks, acquireLock).
  const tmp = `${parent}/.${baseOf(dest)}.unpack.tmp-${Deno.pid}-${rand}`;
  const untrack = trackResource("temp dir", tmp);
  try {
    try {
      await Deno.mkdir(tmp);
    } catch (err) {
      throw asDiskWriteError(err, tmp, "the archive is kept");
    }
    let stats: UnpackStats;
    try {
      stats = await extractInto(archive, tmp, total, limits, opts.onProgress);
    } catch (err) {
      if (err instanceof DataError) throw err;
      const disk = asDiskWriteError(err, tmp, "the archive is kept");
      if (disk instanceof DiskWriteError) throw disk;
      const msg = err instanceof Error ? err.message.split("\n")[0] : String(err);
      throw new DataError(`${archive} is corrupt or truncated (${msg})`);
    }
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
  } finally {
    untrack();
  }
}
