/**
 * Resumable HTTP(S) downloads. Bytes go to `<dest>.part`; a side file `<dest>.part.json` records
 * the URL and the server's validators (ETag / Last-Modified) so a later run continues with
 * `Range: bytes=<have>-` and `If-Range`, and starts over when the remote file changed or the
 * server ignores ranges. Only a complete, size-checked file is renamed to `dest`, so `dest`
 * existing means the download finished.
 *
 * Bounded: a download stops with one line when the server announces, or sends, more than
 * `maxBytes` (the most the known file can be), when no byte arrives for `idleTimeoutMs`, and when
 * the whole transfer takes longer than `timeLimitMs`. A `.part` file is only ever continued or
 * deleted when its `.part.json` side file shows this code wrote it.
 *
 * @module
 */
import { DataError, MosError } from "../errors.ts";
import { formatBytes } from "../memory_budget.ts";
import { asDiskWriteError } from "./disk_errors.ts";

/**
 * The host could not be reached or the connection broke: a machine without internet access, a
 * DNS failure, a refused or stalled connection, or the time limit ran out. The message is one
 * line; `host` and `reason` let a task add what to do ({@linkcode STALLED} and
 * {@linkcode TIME_LIMIT} are the reasons of a transfer that was stopped, not refused).
 */
export class NetworkError extends MosError {
  /** Host (and port) of the URL. */
  readonly host: string;
  /** Short cause, e.g. "DNS lookup failed" or "connection refused". */
  readonly reason: string;
  constructor(message: string, host: string, reason: string) {
    super(message, 1);
    this.name = "NetworkError";
    this.host = host;
    this.reason = reason;
  }
}

/** `NetworkError.reason` when no byte arrived for `idleTimeoutMs`. */
export const STALLED = "stalled";
/** `NetworkError.reason` when the transfer ran past `timeLimitMs`. */
export const TIME_LIMIT = "time limit reached";

/** Options of {@linkcode downloadFile}. */
export interface DownloadOptions {
  url: string;
  /** Final path; written only when the download is complete and its size checked. */
  dest: string;
  /** Exact size in bytes when known; a different size is a `DataError` (and the file is dropped). */
  expectedSize?: number;
  /**
   * The most bytes the file can be: a larger `Content-Length` is refused before the body is read,
   * and the transfer stops as soon as more arrive (the partial file is deleted).
   */
  maxBytes?: number;
  /** What the file is, for the size message (e.g. "the BiT-S-R101x1 checkpoint"). */
  what?: string;
  /**
   * What to check when the server's answer is not the published file (default "the URL"); a
   * task may name its flag too, e.g. "the URL or --mirror".
   */
  sourceHint?: string;
  /** Called as bytes arrive: bytes on disk so far and the total (null when the server omits it). */
  onProgress?: (done: number, total: number | null) => void;
  /** Abort when no byte arrives for this long (default 60 s). */
  idleTimeoutMs?: number;
  /** Abort when the whole transfer takes longer than this (default: no limit). */
  timeLimitMs?: number;
  /** Aborting stops the transfer; the partial file is kept for a later resume. */
  signal?: AbortSignal;
}

/** What {@linkcode downloadFile} did. */
export interface DownloadResult {
  path: string;
  bytes: number;
  /** Bytes already on disk from an interrupted run that this run continued from (0: fresh). */
  resumedFrom: number;
  /** True when `dest` already existed with the right size and nothing was fetched. */
  reused: boolean;
}

interface PartInfo {
  url: string;
  etag?: string;
  lastModified?: string;
  total?: number;
}

async function sizeOrNull(path: string): Promise<number | null> {
  try {
    return (await Deno.stat(path)).size;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

/** `host[:port]` of a URL, for messages. */
export function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** A short, stable cause from a fetch / body-read error (the runtime's text is long). */
export function networkReason(err: unknown): string {
  const msg = err instanceof Error ? `${err.message} ${String(err.cause ?? "")}` : String(err);
  if (/dns|lookup|name resolution|getaddrinfo|nodename/i.test(msg)) return "DNS lookup failed";
  if (/refused/i.test(msg)) return "connection refused";
  if (/unreachable/i.test(msg)) return "network unreachable";
  if (/timed? ?out|idle/i.test(msg)) return "timed out";
  if (/reset|closed|incomplete|unexpected end|eof|body|aborted/i.test(msg)) {
    return "connection closed early";
  }
  if (/certificate|tls|ssl/i.test(msg)) return "TLS error";
  return msg.split("\n")[0].trim().slice(0, 120) || "network error";
}

/** Parses `Content-Range: bytes a-b/total` (total may be `*`). */
function parseContentRange(h: string | null): { start: number; total: number | null } | null {
  const m = h ? /^bytes\s+(\d+)-\d+\/(\d+|\*)$/i.exec(h.trim()) : null;
  if (!m) return null;
  return { start: Number(m[1]), total: m[2] === "*" ? null : Number(m[2]) };
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await file.write(bytes.subarray(off));
}

async function dropPart(part: string): Promise<void> {
  await Deno.remove(part).catch(() => {});
  await Deno.remove(`${part}.json`).catch(() => {});
}

/** Seconds for messages: "0.3 s", "60 s". */
function seconds(ms: number): string {
  return `${ms < 10_000 ? Number((ms / 1000).toPrecision(2)) : Math.round(ms / 1000)} s`;
}

/**
 * Downloads `url` to `dest`, resuming a `<dest>.part` left by an interrupted run (see the module
 * doc). Throws {@linkcode NetworkError} when the host cannot be reached, the transfer breaks,
 * stalls or runs out of time (the partial file stays, so rerunning resumes), `DataError` for an
 * HTTP error status, a size mismatch or a file larger than `maxBytes` (the bad bytes are deleted),
 * and `DiskWriteError` when the disk refuses the bytes (the partial file stays).
 *
 * @example
 * ```ts
 * await downloadFile({ url: "https://example.org/a.tar.gz", dest: "data/a.tar.gz" });
 * ```
 */
export async function downloadFile(opts: DownloadOptions): Promise<DownloadResult> {
  const ctx = contextOf(opts);
  const local = await localState(ctx);
  if ("reused" in local) return local;
  const { info, have } = local;
  const limitMs = opts.timeLimitMs ?? Infinity;
  if (!(limitMs > 0)) {
    throw new NetworkError(
      `download of ${ctx.url} not started: no time left (${TIME_LIMIT}); rerun the same ` +
        "command to resume",
      ctx.host,
      TIME_LIMIT,
    );
  }
  const watch = watchTransfer(opts, limitMs);
  const res = await request(ctx, watch, have, info);
  // The open part file; `closed` once closed (by streamBody or here), so `finally` knows.
  let sink: { file: Deno.FsFile; closed: boolean } | undefined;
  try {
    const range = await rangeOf(ctx, res, have);
    if (range === null) {
      // The server's 416 shows the part does not match the file: start over.
      await dropPart(ctx.part);
      watch.stop();
      return await downloadFile(opts);
    }
    const { offset, total } = range;
    await checkAnnouncedSize(ctx, res, total);
    const keep = "the partial download is kept and resumes";
    const newInfo: PartInfo = {
      url: ctx.url,
      etag: res.headers.get("etag") ?? info?.etag ?? undefined,
      lastModified: res.headers.get("last-modified") ?? info?.lastModified ?? undefined,
      total: total ?? undefined,
    };
    try {
      await Deno.writeTextFile(`${ctx.part}.json`, JSON.stringify(newInfo) + "\n");
      const file = await Deno.open(ctx.part, { write: true, create: true, truncate: offset === 0 });
      sink = { file, closed: false };
      await file.seek(offset, Deno.SeekMode.Start);
    } catch (err) {
      await res.body?.cancel();
      throw asDiskWriteError(err, ctx.part, keep);
    }
    opts.onProgress?.(offset, total);
    const body = res.status !== 416 ? res.body : null;
    const done = body ? await streamBody(ctx, watch, body, sink!, offset, total) : offset;
    try {
      await sink!.file.sync();
    } catch (err) {
      throw asDiskWriteError(err, ctx.part, keep);
    }
    sink!.file.close();
    sink!.closed = true;
    await finishPart(ctx, done, total);
    return { path: ctx.dest, bytes: done, resumedFrom: offset, reused: false };
  } finally {
    watch.stop();
    if (sink && !sink.closed) {
      try {
        sink.file.close();
      } catch { /* closed */ }
    }
  }
}

/** What every step of one download needs to know. */
interface DownloadContext {
  opts: DownloadOptions;
  url: string;
  dest: string;
  part: string;
  host: string;
  /** `opts.maxBytes`, or Infinity. */
  max: number;
  /** "<size>, more than the <max> <what> can be", for size messages. */
  tooBig: (size: number) => string;
  /** `opts.sourceHint`, or "the URL". */
  sourceHint: string;
}

function contextOf(opts: DownloadOptions): DownloadContext {
  const max = opts.maxBytes ?? Infinity;
  const what = opts.what ?? "the file";
  return {
    opts,
    url: opts.url,
    dest: opts.dest,
    part: `${opts.dest}.part`,
    host: hostOf(opts.url),
    max,
    tooBig: (size) => `${formatBytes(size)}, more than the ${formatBytes(max)} ${what} can be`,
    sourceHint: opts.sourceHint ?? "the URL",
  };
}

/**
 * What is on disk already: a finished `dest` of the right size (returned as the result), or the
 * side file and the bytes of a `.part` this code may continue (`have`, 0 to start afresh; a part
 * that cannot be continued is deleted). A `dest` over `maxBytes`, and a `.part` without its side
 * file, are not this code's and a `DataError`.
 */
async function localState(
  ctx: DownloadContext,
): Promise<DownloadResult | { info: PartInfo | null; have: number }> {
  const { opts, dest, part, max } = ctx;
  const existing = await sizeOrNull(dest);
  if (existing !== null && existing > max) {
    // Not deleted: nothing shows that this code wrote it.
    throw new DataError(
      `${dest} is ${ctx.tooBig(existing)}; it is not that file: move it away and rerun`,
    );
  }
  if (existing !== null && (opts.expectedSize === undefined || existing === opts.expectedSize)) {
    opts.onProgress?.(existing, existing);
    return { path: dest, bytes: existing, resumedFrom: 0, reused: true };
  }
  let info: PartInfo | null = null;
  try {
    info = JSON.parse(await Deno.readTextFile(`${part}.json`));
  } catch { /* no usable side file */ }
  const partSize = await sizeOrNull(part);
  if (partSize !== null && info === null) {
    // Every .part this code writes has its side file written first; one without it is not ours.
    throw new DataError(
      `${part} exists but no ${part}.json shows it is an interrupted download of ${ctx.url}; ` +
        "move it away and rerun",
    );
  }
  let have = (info && info.url === ctx.url) ? (partSize ?? 0) : 0;
  if (have === 0) await dropPart(part);
  if (
    (opts.expectedSize !== undefined && have > opts.expectedSize) || have > max ||
    (info?.total !== undefined && info.total > max)
  ) {
    await dropPart(part);
    have = 0;
  }
  return { info, have };
}

/** The abort controller of one transfer, with its idle timer and time limit. */
interface TransferWatch {
  ctrl: AbortController;
  idleMs: number;
  /** Restarts the idle timer (call whenever bytes arrive). */
  arm(): void;
  /** Why this code aborted the transfer; null when it did not (or the caller's signal did). */
  stopped(): typeof STALLED | typeof TIME_LIMIT | null;
  /** Clears the timers and detaches from the caller's signal. */
  stop(): void;
}

function watchTransfer(opts: DownloadOptions, limitMs: number): TransferWatch {
  const idleMs = opts.idleTimeoutMs ?? 60_000;
  const ctrl = new AbortController();
  let stopped: typeof STALLED | typeof TIME_LIMIT | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = Number.isFinite(limitMs)
    ? setTimeout(() => {
      stopped ??= TIME_LIMIT;
      ctrl.abort(new Error("time limit"));
    }, limitMs)
    : undefined;
  const onAbort = () => ctrl.abort(opts.signal!.reason);
  opts.signal?.addEventListener("abort", onAbort);
  return {
    ctrl,
    idleMs,
    arm() {
      clearTimeout(timer);
      timer = setTimeout(() => {
        stopped ??= STALLED;
        ctrl.abort(new Error("idle timeout"));
      }, idleMs);
    },
    stopped: () => stopped,
    stop() {
      clearTimeout(timer);
      clearTimeout(deadline);
      opts.signal?.removeEventListener("abort", onAbort);
    },
  };
}

/** Sends the (range) request; a failure to get an answer is a `NetworkError`. */
async function request(
  ctx: DownloadContext,
  watch: TransferWatch,
  have: number,
  info: PartInfo | null,
): Promise<Response> {
  const headers: Record<string, string> = { "accept-encoding": "identity" };
  if (have > 0) {
    headers.range = `bytes=${have}-`;
    const validator = info?.etag ?? info?.lastModified;
    if (validator) headers["if-range"] = validator;
  }
  watch.arm();
  try {
    return await fetch(ctx.url, { headers, signal: watch.ctrl.signal, redirect: "follow" });
  } catch (err) {
    watch.stop();
    ctx.opts.signal?.throwIfAborted();
    if (watch.stopped() === TIME_LIMIT) {
      throw new NetworkError(
        `${ctx.host} did not answer for ${ctx.url} before the time limit ran out; rerun the ` +
          "same command to try again",
        ctx.host,
        TIME_LIMIT,
      );
    }
    const reason = watch.ctrl.signal.aborted ? "timed out" : networkReason(err);
    throw new NetworkError(`cannot reach ${ctx.host} (${reason})`, ctx.host, reason);
  }
}

/**
 * Where the answer's bytes go and the file's total: 206 continues at `have`, 200 starts over, a
 * 416 whose total equals `have` means the part is whole. Null for any other 416 (the caller
 * starts over); another status, or a 206 at the wrong offset, is a `DataError`.
 */
async function rangeOf(
  ctx: DownloadContext,
  res: Response,
  have: number,
): Promise<{ offset: number; total: number | null } | null> {
  if (res.status === 206) {
    const cr = parseContentRange(res.headers.get("content-range"));
    if (!cr || cr.start !== have) {
      await res.body?.cancel();
      throw new DataError(
        `${ctx.url}: the server answered a resume request with an unexpected range ` +
          `(${res.headers.get("content-range")}); delete ${ctx.part} and rerun`,
      );
    }
    return { offset: have, total: cr.total };
  }
  if (res.status === 416 && have > 0) {
    // Nothing left to send: the part may already be whole, else it does not match the file.
    const cr = /\/(\d+)\s*$/.exec(res.headers.get("content-range") ?? "");
    await res.body?.cancel();
    return cr && Number(cr[1]) === have ? { offset: have, total: have } : null;
  }
  if (res.status === 200) {
    // A full answer: the server ignored the range or the file changed.
    const len = res.headers.get("content-length");
    return { offset: 0, total: len !== null && /^\d+$/.test(len) ? Number(len) : null };
  }
  await res.body?.cancel();
  throw new DataError(
    `${ctx.url} answered HTTP ${res.status} ${res.statusText}; check ${ctx.sourceHint} and ` +
      "that the file is still published there",
  );
}

/** Refuses an announced total over `maxBytes` (the part is deleted) or unlike `expectedSize`. */
async function checkAnnouncedSize(
  ctx: DownloadContext,
  res: Response,
  total: number | null,
): Promise<void> {
  if (total !== null && total > ctx.max) {
    await res.body?.cancel();
    await dropPart(ctx.part);
    throw new DataError(
      `${ctx.url} announces ${ctx.tooBig(total)}; it is not the published file (check ` +
        `${ctx.sourceHint}); nothing was kept`,
    );
  }
  const expected = ctx.opts.expectedSize;
  if (expected !== undefined && total !== null && total !== expected) {
    await res.body?.cancel();
    throw new DataError(
      `${ctx.url} is ${total} bytes but ${expected} were expected; the published file ` +
        "changed or the URL points at something else",
    );
  }
}

/**
 * Appends the body to `sink.file` from byte `offset`; returns the bytes on disk. Stops with a
 * `NetworkError` when the transfer breaks (the part stays), with a `DataError` past `maxBytes`
 * (the part is deleted; `sink.closed` tells the caller the file is closed) and with a
 * `DiskWriteError` when a write fails.
 */
async function streamBody(
  ctx: DownloadContext,
  watch: TransferWatch,
  body: ReadableStream<Uint8Array>,
  sink: { file: Deno.FsFile; closed: boolean },
  offset: number,
  total: number | null,
): Promise<number> {
  const { opts, url, max } = ctx;
  let done = offset;
  const reader = body.getReader();
  try {
    for (;;) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (err) {
        opts.signal?.throwIfAborted();
        const stopped = watch.stopped();
        const reason = stopped ?? networkReason(err);
        const why = stopped === STALLED
          ? `no data for ${seconds(watch.idleMs)}`
          : stopped === TIME_LIMIT
          ? TIME_LIMIT
          : reason;
        throw new NetworkError(
          `download of ${url} broke off after ${done} of ${total ?? "?"} bytes (${why}); ` +
            "rerun the same command to resume",
          ctx.host,
          reason,
        );
      }
      if (next.done) break;
      const chunk = next.value;
      watch.arm();
      if (done + chunk.length > max) {
        await reader.cancel().catch(() => {});
        sink.file.close();
        sink.closed = true;
        await dropPart(ctx.part);
        throw new DataError(
          `${url} sent more than ${formatBytes(max)}, more than ${
            opts.what ?? "the file"
          } can be; it is not the published file (check ${ctx.sourceHint}); the partial file ` +
            "was deleted",
        );
      }
      try {
        await writeAll(sink.file, chunk);
      } catch (err) {
        await reader.cancel().catch(() => {});
        throw asDiskWriteError(err, ctx.part, "the partial download is kept and resumes");
      }
      done += chunk.length;
      opts.onProgress?.(done, total);
    }
  } finally {
    reader.releaseLock();
  }
  return done;
}

/**
 * Checks the finished part against the announced and the expected size, then renames it to
 * `dest` and removes its side file.
 */
async function finishPart(ctx: DownloadContext, done: number, total: number | null): Promise<void> {
  const { url, part, opts } = ctx;
  if (total !== null && done !== total) {
    throw new NetworkError(
      `download of ${url} ended after ${done} of ${total} bytes (connection closed early); ` +
        "rerun the same command to resume",
      ctx.host,
      "connection closed early",
    );
  }
  if (opts.expectedSize !== undefined && done !== opts.expectedSize) {
    await dropPart(part);
    throw new DataError(
      `${url} gave ${done} bytes but ${opts.expectedSize} were expected; the partial file was ` +
        "deleted, rerun to download it again",
    );
  }
  try {
    await Deno.rename(part, ctx.dest);
  } catch (err) {
    throw asDiskWriteError(err, ctx.dest, "the partial download is kept and resumes");
  }
  await Deno.remove(`${part}.json`).catch(() => {});
}
