/**
 * A local HTTP file server on 127.0.0.1 (random port) for download tests: serves byte arrays with
 * ETag, `Range` / `If-Range` (206 partial answers), and can cut a response short, ignore ranges,
 * trickle, stall, omit or lie about its Content-Length, to play a broken, slow, simple or hostile
 * server. Records every request's path and headers.
 *
 * @module
 */

/** One served file. */
export interface ServedFile {
  bytes: Uint8Array;
  etag?: string;
  /** Cut the next `cuts` responses after `cutAfter` body bytes (the connection ends early). */
  cutAfter?: number;
  cuts?: number;
  /** Answer every request with the whole file (200), as servers without range support do. */
  ignoreRange?: boolean;
  /** Send the body `bytes` at a time, one piece every `everyMs` (a slow server). */
  trickle?: { bytes: number; everyMs: number };
  /** Send this many body bytes, then nothing more, keeping the connection open (a stall). */
  stallAfter?: number;
  /** Content-Length to announce instead of the true one (a lying or oversized answer). */
  claimLength?: number;
  /** Send no Content-Length (chunked), as servers streaming generated data do. */
  noLength?: boolean;
}

/** A request as the server saw it. */
export interface SeenRequest {
  path: string;
  range: string | null;
  ifRange: string | null;
  status: number;
}

/** A running fixture server. */
export interface FileServer {
  /** `http://127.0.0.1:<port>`. */
  base: string;
  files: Map<string, ServedFile>;
  requests: SeenRequest[];
  close(): Promise<void>;
}

/** Starts the server; `files` maps URL paths (`/name.tar.gz`) to contents. */
export function serveFiles(files: Map<string, ServedFile>): FileServer {
  const requests: SeenRequest[] = [];
  // Bodies still being sent (stalled or trickling): ended by close(), so shutdown never waits.
  const open = new Set<() => void>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    const f = files.get(path);
    const range = req.headers.get("range");
    const ifRange = req.headers.get("if-range");
    const note = (status: number) => requests.push({ path, range, ifRange, status });
    if (!f) {
      note(404);
      return new Response("not found", { status: 404 });
    }
    const etag = f.etag ?? '"v1"';
    const total = f.bytes.length;
    let start = 0;
    let status = 200;
    const m = range ? /^bytes=(\d+)-$/.exec(range) : null;
    if (m && !f.ignoreRange && (ifRange === null || ifRange === etag)) {
      start = Number(m[1]);
      if (start >= total) {
        note(416);
        return new Response(null, {
          status: 416,
          headers: { "content-range": `bytes */${total}` },
        });
      }
      status = 206;
    }
    const body = f.bytes.subarray(start);
    const headers: Record<string, string> = {
      etag,
      "accept-ranges": "bytes",
      "content-length": String(f.claimLength ?? body.length),
    };
    if (f.noLength) delete headers["content-length"];
    if (status === 206) headers["content-range"] = `bytes ${start}-${total - 1}/${total}`;
    note(status);
    if (f.trickle || f.stallAfter !== undefined || f.noLength || f.claimLength !== undefined) {
      const piece = f.trickle?.bytes ?? 64 << 10;
      const every = f.trickle?.everyMs ?? 0;
      const until = Math.min(body.length, f.stallAfter ?? body.length);
      let sent = 0;
      let timer: ReturnType<typeof setTimeout> | undefined;
      let end = () => {};
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          end = () => {
            clearTimeout(timer);
            open.delete(end);
            try {
              c.close();
            } catch { /* closed or cancelled */ }
          };
          open.add(end);
        },
        pull(c) {
          if (sent >= until) {
            // The body is done; a stall instead sends nothing more and never ends it.
            if (f.stallAfter === undefined) return end();
            return new Promise<void>(() => {});
          }
          return new Promise<void>((resolve) => {
            timer = setTimeout(() => {
              const n = Math.min(piece, until - sent);
              c.enqueue(body.slice(sent, sent + n));
              sent += n;
              resolve();
            }, every);
          });
        },
        cancel() {
          clearTimeout(timer);
          open.delete(end);
        },
      });
      return new Response(stream, { status, headers });
    }
    if (f.cuts && f.cuts > 0 && f.cutAfter !== undefined && f.cutAfter < body.length) {
      f.cuts--;
      const part = body.subarray(0, f.cutAfter);
      // Content-Length promises more than is sent: the client sees the connection end early.
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(part);
          c.close();
        },
      });
      return new Response(stream, { status, headers });
    }
    return new Response(body.slice(), { status, headers });
  });
  return {
    base: `http://127.0.0.1:${server.addr.port}`,
    files,
    requests,
    close: () => {
      for (const end of [...open]) end();
      return server.shutdown();
    },
  };
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
export function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Builds a `.tar.gz` of `files` (relative path -> bytes) with GNU tar, an independent writer. */
export async function makeTarGz(
  dir: string,
  name: string,
  files: Record<string, Uint8Array>,
): Promise<Uint8Array> {
  const src = `${dir}/${name}.src`;
  for (const [rel, bytes] of Object.entries(files)) {
    const p = `${src}/${rel}`;
    await Deno.mkdir(p.slice(0, p.lastIndexOf("/")), { recursive: true });
    await Deno.writeFile(p, bytes);
  }
  const out = `${dir}/${name}.tar.gz`;
  const r = await new Deno.Command("tar", { args: ["-czf", out, "-C", src, "."] }).output();
  if (!r.success) throw new Error(`tar failed: ${new TextDecoder().decode(r.stderr)}`);
  await Deno.remove(src, { recursive: true });
  const bytes = await Deno.readFile(out);
  await Deno.remove(out);
  return bytes;
}

/**
 * Builds a `.tar.gz` whose members are runs of zero bytes (relative path -> size), as a gzip bomb
 * is: the files are created sparse (no disk blocks) and piped through GNU tar and `gzip -1`, so a
 * 256 MiB bomb costs about a megabyte of disk and memory to make.
 */
export async function makeZeroTarGz(
  dir: string,
  name: string,
  files: Record<string, number>,
): Promise<Uint8Array> {
  const src = `${dir}/${name}.zsrc`;
  for (const [rel, size] of Object.entries(files)) {
    const p = `${src}/${rel}`;
    await Deno.mkdir(p.slice(0, p.lastIndexOf("/")), { recursive: true });
    await Deno.writeFile(p, new Uint8Array(0));
    await Deno.truncate(p, size);
  }
  const out = `${dir}/${name}.tar.gz`;
  const r = await new Deno.Command("sh", {
    args: ["-c", 'tar -c -C "$1" . | gzip -1 > "$2"', "sh", src, out],
  }).output();
  if (!r.success) throw new Error(`tar | gzip failed: ${new TextDecoder().decode(r.stderr)}`);
  await Deno.remove(src, { recursive: true });
  const bytes = await Deno.readFile(out);
  await Deno.remove(out);
  return bytes;
}
