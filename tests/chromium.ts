/**
 * A headless Chromium driven over the DevTools protocol (a WebSocket, no npm package and so no
 * browser download), for tests that must see a page as a browser renders it. The browser runs
 * with a fresh profile in a temp directory and every background service off, so the only network
 * traffic a page can cause is its own, and that is recorded.
 *
 * @module
 */

/** The Chromium flags of every run (besides the profile directory and the debugging port). */
export const CHROMIUM_FLAGS: readonly string[] = Object.freeze([
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
]);

/**
 * Path of a Chromium executable: `$MOS_CHROMIUM` when set, else the first of chromium,
 * chromium-browser, google-chrome, google-chrome-stable on PATH; null when there is none.
 */
export async function findChromium(): Promise<string | null> {
  const env = Deno.env.get("MOS_CHROMIUM");
  if (env) return env;
  const dirs = (Deno.env.get("PATH") ?? "").split(":").filter((d) => d !== "");
  for (const name of ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]) {
    for (const d of dirs) {
      try {
        const info = await Deno.stat(`${d}/${name}`);
        if (info.isFile && info.mode !== null && (info.mode & 0o111) !== 0) return `${d}/${name}`;
      } catch { /* not here */ }
    }
  }
  return null;
}

/** What a page did while it loaded. */
export interface PageLog {
  /** Console messages of level error, uncaught exceptions, and browser log errors (CSP, ...). */
  errors: string[];
  /** URLs the page requested, the page itself first. */
  requests: string[];
  /** Requests that failed or answered with a status >= 400. */
  failed: string[];
}

type Handler = (params: Record<string, unknown>, sessionId?: string) => void;

/** A DevTools protocol connection. */
export interface Cdp {
  send(
    method: string,
    params?: Record<string, unknown>,
    sessionId?: string,
  ): Promise<Record<string, unknown>>;
  on(event: string, handler: Handler): void;
}

/**
 * Reads chromium's stderr until it names its DevTools URL; the rest of stderr is drained in the
 * background (so the browser never blocks on a full pipe) by `drained`, which settles when the
 * stream ends.
 */
async function readDevToolsUrl(
  stderr: ReadableStream<Uint8Array>,
): Promise<{ url: string; drained: Promise<void> }> {
  const reader = stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
    const m = /DevTools listening on (ws:\/\/\S+)/.exec(text);
    if (m) {
      const drained = (async () => {
        try {
          while (!(await reader.read()).done) { /* discard */ }
        } catch { /* closed */ }
      })();
      return { url: m[1], drained };
    }
  }
  throw new Error(`chromium did not print its DevTools URL; stderr:\n${text.slice(-2000)}`);
}

function connect(url: string): Promise<{ cdp: Cdp; close: () => void }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    let next = 0;
    const pending = new Map<
      number,
      { ok: (v: Record<string, unknown>) => void; fail: (e: Error) => void }
    >();
    const handlers = new Map<string, Handler[]>();
    ws.onmessage = (e) => {
      const msg = JSON.parse(String(e.data));
      if (typeof msg.id === "number") {
        const p = pending.get(msg.id);
        pending.delete(msg.id);
        if (msg.error) p?.fail(new Error(`${msg.error.message} (${msg.error.code})`));
        else p?.ok(msg.result ?? {});
      } else if (typeof msg.method === "string") {
        for (const h of handlers.get(msg.method) ?? []) h(msg.params ?? {}, msg.sessionId);
      }
    };
    ws.onerror = () => reject(new Error(`cannot connect to ${url}`));
    ws.onclose = () => {
      for (const p of pending.values()) p.fail(new Error("DevTools connection closed"));
      pending.clear();
    };
    ws.onopen = () => {
      const cdp: Cdp = {
        send(method, params = {}, sessionId) {
          const id = ++next;
          return new Promise((ok, fail) => {
            pending.set(id, { ok, fail });
            ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
          });
        },
        on(event, handler) {
          if (!handlers.has(event)) handlers.set(event, []);
          handlers.get(event)!.push(handler);
        },
      };
      resolve({ cdp, close: () => ws.close() });
    };
  });
}

/** A page opened in the browser, attached for the calls below. */
export interface Page {
  /** Loads `url` and waits for its load event; returns what happened meanwhile. */
  load(url: string): Promise<PageLog>;
  /** Evaluates `expression` in the page and returns its JSON value. */
  evaluate<T>(expression: string): Promise<T>;
  /** A PNG of the whole page at `width` CSS pixels (device scale 1). */
  screenshot(width: number): Promise<Uint8Array>;
}

/**
 * Starts Chromium (`path`) headless with {@linkcode CHROMIUM_FLAGS} and a fresh profile, opens
 * one page at a `width` x 900 viewport, runs `body`, and always closes the browser and removes
 * the profile.
 */
export async function withChromium<T>(
  path: string,
  width: number,
  body: (page: Page) => Promise<T>,
): Promise<T> {
  const profile = await Deno.makeTempDir({ prefix: "mos_chromium_" });
  const child = new Deno.Command(path, {
    args: [
      ...CHROMIUM_FLAGS,
      `--user-data-dir=${profile}`,
      "--remote-debugging-port=0",
      "about:blank",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let conn: { cdp: Cdp; close: () => void } | undefined;
  let drained: Promise<void> | undefined;
  try {
    const devtools = await readDevToolsUrl(child.stderr);
    drained = devtools.drained;
    conn = await connect(devtools.url);
    const { cdp } = conn;
    const { targetId } = await cdp.send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await cdp.send("Target.attachToTarget", { targetId, flatten: true }) as {
      sessionId: string;
    };
    const s = (method: string, params: Record<string, unknown> = {}) =>
      cdp.send(method, params, sessionId);
    let log: PageLog = { errors: [], requests: [], failed: [] };
    let loaded: (() => void) | undefined;
    cdp.on("Page.loadEventFired", (_p, sid) => {
      if (sid === sessionId) loaded?.();
    });
    cdp.on("Runtime.consoleAPICalled", (p, sid) => {
      if (sid !== sessionId || !["error", "assert"].includes(String(p.type))) return;
      const args = (p.args as { value?: unknown; description?: string }[] | undefined) ?? [];
      log.errors.push(`console.${p.type}: ${args.map((a) => a.value ?? a.description).join(" ")}`);
    });
    cdp.on("Runtime.exceptionThrown", (p, sid) => {
      if (sid !== sessionId) return;
      const d = p.exceptionDetails as { text?: string; exception?: { description?: string } };
      log.errors.push(`exception: ${d.exception?.description ?? d.text}`);
    });
    cdp.on("Log.entryAdded", (p, sid) => {
      const e = p.entry as { level: string; text: string; source: string; url?: string };
      if (sid === sessionId && e.level === "error") {
        log.errors.push(`${e.source}: ${e.text}${e.url ? ` (${e.url})` : ""}`);
      }
    });
    const urls = new Map<string, string>();
    cdp.on("Network.requestWillBeSent", (p, sid) => {
      if (sid !== sessionId) return;
      const url = String((p.request as { url: string }).url);
      urls.set(String(p.requestId), url);
      log.requests.push(url);
    });
    cdp.on("Network.loadingFailed", (p, sid) => {
      if (sid === sessionId) {
        const url = urls.get(String(p.requestId)) ?? `request ${p.requestId}`;
        const why = [p.errorText, p.blockedReason && `blocked: ${p.blockedReason}`].filter(Boolean);
        log.failed.push(`${url}: ${why.join(", ") || "failed"}`);
      }
    });
    cdp.on("Network.responseReceived", (p, sid) => {
      const r = p.response as { url: string; status: number };
      if (sid === sessionId && r.status >= 400) log.failed.push(`${r.url}: HTTP ${r.status}`);
    });
    for (const domain of ["Page", "Runtime", "Log", "Network"]) await s(`${domain}.enable`);
    await s("Emulation.setDeviceMetricsOverride", {
      width,
      height: 900,
      deviceScaleFactor: 1,
      mobile: false,
    });
    const page: Page = {
      async load(url) {
        log = { errors: [], requests: [], failed: [] };
        const done = new Promise<void>((ok) => (loaded = ok));
        const nav = await s("Page.navigate", { url });
        if (nav.errorText) throw new Error(`cannot open ${url}: ${nav.errorText}`);
        await done;
        // Console and log events of the load may trail the load event by a task or two.
        await new Promise((r) => setTimeout(r, 300));
        return log;
      },
      async evaluate<T>(expression: string) {
        const r = await s("Runtime.evaluate", { expression, returnByValue: true });
        if (r.exceptionDetails) {
          throw new Error(`evaluate failed: ${JSON.stringify(r.exceptionDetails)}`);
        }
        return (r.result as { value: T }).value;
      },
      async screenshot(w) {
        const height = await page.evaluate<number>(
          "Math.ceil(document.documentElement.scrollHeight)",
        );
        const r = await s("Page.captureScreenshot", {
          format: "png",
          captureBeyondViewport: true,
          clip: { x: 0, y: 0, width: w, height, scale: 1 },
        });
        return Uint8Array.from(atob(String(r.data)), (c) => c.charCodeAt(0));
      },
    };
    const result = await body(page);
    await cdp.send("Browser.close").catch(() => {});
    return result;
  } finally {
    conn?.close();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exited = await Promise.race([
      child.status.then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 10_000))),
    ]);
    clearTimeout(timer);
    if (!exited) {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await child.status;
    }
    if (drained) await drained;
    else await child.stderr.cancel().catch(() => {});
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}
