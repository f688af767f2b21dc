/**
 * The live resources of this process: locks it holds, temp files it is writing, staging and other
 * scratch directories it has made. Writers register each one while it exists and deregister it when
 * they are done; a task's SIGINT / SIGTERM handler (tasks/_shared/cli.ts) then removes whatever is
 * still registered, synchronously, before the process exits. Only paths this process created are
 * ever registered, so the cleanup never touches a file it did not write.
 *
 * @module
 */

/**
 * What a registered path is. Temp files and directories are removed first, then locks released,
 * then new directories (directories this run created, removed only while empty) last.
 */
export type ResourceKind = "lock" | "temp file" | "staging dir" | "temp dir" | "new dir";

/** One registered resource. */
export interface LiveResource {
  kind: ResourceKind;
  path: string;
}

interface Entry extends LiveResource {
  /** Synchronous, idempotent; may throw (counted as a failure). */
  cleanup: () => void;
}

/** Insertion-ordered, so the newest entry (a temp file inside a staging dir) is undone first. */
const live = new Map<number, Entry>();
let nextId = 0;

/** Removes `path` (recursively for directories); a path that is already gone is fine. */
function removePath(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

/**
 * Registers a resource; returns the function that deregisters it (call it once the resource is
 * gone or handed over, e.g. a temp file renamed into place). `cleanup` defaults to removing `path`.
 *
 * @example
 * ```ts
 * const path = "out/report.json";
 * const tmp = `${path}.tmp-${Deno.pid}`;
 * const bytes = new TextEncoder().encode("{}\n");
 * const done = trackResource("temp file", tmp);
 * try {
 *   await Deno.writeFile(tmp, bytes, { createNew: true });
 *   await Deno.rename(tmp, path);
 * } finally {
 *   done();
 * }
 * ```
 */
export function trackResource(
  kind: ResourceKind,
  path: string,
  cleanup: () => void = () => removePath(path),
): () => void {
  const id = nextId++;
  live.set(id, { kind, path, cleanup });
  return () => {
    live.delete(id);
  };
}

/** Removes the directory `path` if it is empty; a missing or non-empty one is left alone. */
function removeIfEmpty(path: string): void {
  try {
    Deno.removeSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    const code = (err as { code?: string }).code;
    if (code === "ENOTEMPTY" || code === "EEXIST" || code === "ENOTDIR") return;
    throw err;
  }
}

/**
 * Creates `dir` and its missing parents, registering each one it created as a "new dir" (removed
 * by the cleanup only while empty, so an interrupted or failed start leaves no empty directory).
 * Returns the directories it created, deepest first.
 */
export async function makeDirTracked(dir: string): Promise<string[]> {
  const missing: string[] = [];
  for (let d = dir.replace(/\/+$/, "") || "/";; d = d.slice(0, d.lastIndexOf("/")) || "/") {
    try {
      await Deno.lstat(d);
      break;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) break;
      missing.push(d);
    }
    if (d === "/" || !d.includes("/")) break;
  }
  // Parents before children, so the cleanup (newest first) empties a child before its parent.
  for (const d of [...missing].reverse()) trackResource("new dir", d, () => removeIfEmpty(d));
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (err) {
    removeEmptyDirs(missing);
    throw err;
  }
  return missing;
}

/** Removes the directories `makeDirTracked` returned, each only while empty (a failed start). */
export function removeEmptyDirs(dirs: readonly string[]): void {
  for (const d of dirs) {
    try {
      removeIfEmpty(d);
    } catch { /* best effort: the error that made the start fail is the one to report */ }
  }
}

/** The resources registered now, oldest first. */
export function liveResources(): LiveResource[] {
  return [...live.values()].map(({ kind, path }) => ({ kind, path }));
}

/** What {@linkcode cleanupLiveResources} did. */
export interface CleanupReport {
  /** Locks released. */
  locks: number;
  /** Temp files and directories removed (or found already gone). */
  removed: number;
  /** `path (reason)` of each resource that could not be cleaned up. */
  failed: string[];
}

/**
 * Blocks the calling thread for `ms` milliseconds. A signal handler must stay synchronous, yet
 * file operations already handed to the runtime's worker threads (an open that creates a temp
 * file, a mkdir) may still land after the first pass; short waits and further passes catch them.
 */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Passes after the first one. Measured with a task killed 150 times inside a loop of atomic
 * writes: one pass alone left a temp file 7 times (an open completed after it); a second pass
 * 20 ms later left none. More rounds cover a loaded machine's slower worker threads.
 */
export const SETTLE_ROUNDS = 3;

/**
 * Synchronously removes every registered temp file and directory (newest first), then releases
 * every registered lock, then removes the new directories that are empty, and empties the
 * registry. Meant for a signal handler or a last-resort
 * exit path: the process must exit right after, since operations in flight lose their files.
 * `settleMs` is the wait before each of the further removal passes (0 skips them).
 */
export function cleanupLiveResources(settleMs = 20): CleanupReport {
  const report: CleanupReport = { locks: 0, removed: 0, failed: [] };
  const entries = [...live.values()].reverse();
  live.clear();
  const files = entries.filter((e) => e.kind !== "lock" && e.kind !== "new dir");
  const locks = entries.filter((e) => e.kind === "lock");
  const dirs = entries.filter((e) => e.kind === "new dir");
  const errors = new Map<Entry, string>();
  const pass = () => {
    for (const e of files) {
      try {
        e.cleanup();
        errors.delete(e);
      } catch (err) {
        errors.set(e, err instanceof Error ? err.message.split("\n")[0] : String(err));
      }
    }
  };
  pass();
  for (let round = 0; round < SETTLE_ROUNDS && files.length > 0 && settleMs > 0; round++) {
    sleepSync(settleMs);
    pass();
  }
  report.removed = files.length - errors.size;
  // Locks last: another run that takes the directory over must not find our leftovers in it.
  for (const e of locks) {
    try {
      e.cleanup();
      report.locks++;
    } catch (err) {
      errors.set(e, err instanceof Error ? err.message.split("\n")[0] : String(err));
    }
  }
  for (const e of dirs) {
    try {
      e.cleanup();
    } catch (err) {
      errors.set(e, err instanceof Error ? err.message.split("\n")[0] : String(err));
    }
  }
  for (const [e, why] of errors) report.failed.push(`${e.path} (${why})`);
  return report;
}
