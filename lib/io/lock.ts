/**
 * Advisory directory locks, so two runs never write the same result directory at once. The lock
 * is `<dir>/.lock` holding `{pid, host, started, purpose}`; a lock whose process is gone (same
 * host) is stale and taken over.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import { diskError } from "./atomic.ts";
import { makeDirTracked, removeEmptyDirs, trackResource } from "./cleanup.ts";

/** A held lock; `release` is idempotent. */
export interface Lock {
  path: string;
  release(): void;
}

/** Contents of `.lock`. */
export interface LockInfo {
  pid: number;
  host: string;
  /** ISO 8601 time the lock was taken. */
  started: string;
  purpose: string;
}

/** Whether process `pid` exists on this machine (zombies count as gone). */
export function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  if (pid === Deno.pid) return true;
  try {
    // Linux: /proc/<pid>/stat is "pid (comm) S ..."; comm may contain ')' so split at the last.
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch (err) {
    if (err instanceof Deno.errors.NotFound && procAvailable()) return false;
  }
  // No /proc (macOS, BSD): `kill -0` tests existence without sending a signal.
  const res = new Deno.Command("kill", { args: ["-0", String(pid)], stderr: "null" }).outputSync();
  return res.success;
}

let procChecked: boolean | undefined;
function procAvailable(): boolean {
  if (procChecked === undefined) {
    try {
      Deno.statSync(`/proc/${Deno.pid}`);
      procChecked = true;
    } catch {
      procChecked = false;
    }
  }
  return procChecked;
}

function readInfo(path: string): LockInfo | null {
  try {
    const v = JSON.parse(Deno.readTextFileSync(path));
    if (typeof v?.pid !== "number" || typeof v?.host !== "string") return null;
    return v as LockInfo;
  } catch {
    return null;
  }
}

/**
 * Creates `path` holding `bytes`; false if it exists. A file it created but could not fill (a full
 * disk) is removed again before the error is rethrown, so no empty lock or temp file stays behind.
 */
function writeNew(path: string, bytes: Uint8Array): boolean {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { write: true, createNew: true });
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) return false;
    throw err;
  }
  try {
    for (let off = 0; off < bytes.length;) off += file.writeSync(bytes.subarray(off));
  } catch (err) {
    // Remove it only while it is still the file we created (a racing run may have moved an
    // empty lock aside as stale and taken the name meanwhile).
    try {
      if (Deno.lstatSync(path).ino === file.statSync().ino) Deno.removeSync(path);
    } catch { /* gone already */ }
    throw err;
  } finally {
    file.close();
  }
  return true;
}

/**
 * Creates `path` holding `text`, failing if it exists. Written to a temp file first and
 * hard-linked into place, so the lock never exists empty (a reader could otherwise take a
 * half-written lock for stale). Disk errors become a `DataError` naming the lock.
 */
function createExclusive(path: string, text: string): boolean {
  const tmp = `${path}.tmp-${Deno.pid}-${crypto.getRandomValues(new Uint32Array(1))[0]}`;
  const bytes = new TextEncoder().encode(text);
  const untrack = trackResource("temp file", tmp);
  try {
    if (!writeNew(tmp, bytes)) throw new Deno.errors.AlreadyExists(`${tmp} exists`);
    try {
      Deno.linkSync(tmp, path);
      return true;
    } catch (err) {
      if (err instanceof Deno.errors.AlreadyExists) return false;
      // File systems without hard links: fall back to an exclusive create.
      return writeNew(path, bytes);
    }
  } catch (err) {
    throw diskError(err, path);
  } finally {
    try {
      Deno.removeSync(tmp);
    } catch { /* never created, or gone */ }
    untrack();
  }
}

/**
 * Removes the temp files (`<name>.tmp-<pid>-<rand>`, see lib/io/atomic.ts) that processes which
 * no longer exist left under `dir`, `depth` levels deep: a SIGKILLed write never cleans up after
 * itself. Only called with the lock held, so no live writer of ours can be using them.
 */
function removeDeadTemps(dir: string, depth: number): void {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch {
    return;
  }
  for (const e of entries) {
    const path = `${dir}/${e.name}`;
    const m = /\.tmp-(\d+)-[0-9a-z]+$/.exec(e.name);
    if (m && !processAlive(Number(m[1]))) {
      // Temp files, and staging directories (lib/io/staging.ts), of killed writers.
      try {
        Deno.removeSync(path, { recursive: true });
      } catch { /* gone already */ }
      continue;
    }
    if (e.isDirectory && depth > 1) removeDeadTemps(path, depth - 1);
  }
}

/**
 * Takes `<dir>/.lock` for `purpose` (e.g. "score"). Throws a `DataError` if a live process on this
 * host, or any process on another host, holds it; removes a stale lock left by a dead process.
 *
 * @example
 * ```ts
 * const lock = await acquireLock("results/table1", "table1");
 * try {
 *   // ... write results ...
 * } finally {
 *   lock.release();
 * }
 * ```
 */
export async function acquireLock(dir: string, purpose: string): Promise<Lock> {
  let created: string[] = [];
  try {
    created = await makeDirTracked(dir);
  } catch (err) {
    throw diskError(err, dir);
  }
  try {
    return takeLock(dir, purpose);
  } catch (err) {
    // A failed start leaves nothing behind: not the directories it made for the lock either.
    removeEmptyDirs(created);
    throw err;
  }
}

/** Takes `<dir>/.lock` in the existing `dir` (synchronous, so no signal lands half-way). */
function takeLock(dir: string, purpose: string): Lock {
  const path = `${dir}/.lock`;
  const host = Deno.hostname();
  const mine: LockInfo = { pid: Deno.pid, host, started: new Date().toISOString(), purpose };
  const text = JSON.stringify(mine) + "\n";
  for (let attempt = 0; attempt < 3; attempt++) {
    if (createExclusive(path, text)) {
      let held = true;
      const release = () => {
        if (!held) return;
        held = false;
        untrack();
        // Only remove the lock if it is still ours (never someone else's after a takeover).
        if (readInfo(path)?.pid === Deno.pid) {
          try {
            Deno.removeSync(path);
          } catch (err) {
            if (!(err instanceof Deno.errors.NotFound)) throw err;
          }
        }
      };
      const untrack = trackResource("lock", path, release);
      try {
        removeDeadTemps(dir, 3);
      } catch (err) {
        release(); // the caller never gets the lock, so nobody else would release it
        throw err;
      }
      return { path, release };
    }
    const info = readInfo(path);
    if (info && (info.host !== host || processAlive(info.pid))) {
      const where = info.host === host ? "" : ` on ${info.host}`;
      throw new DataError(
        `${dir} is in use by process ${info.pid}${where} (${info.purpose}) since ` +
          `${info.started}; wait for it or remove ${path} if that process is gone`,
      );
    }
    // Stale (dead pid) or unreadable. Move it aside, then make sure what we moved is what we
    // judged stale: a racing process may have replaced it with a live lock meanwhile.
    const aside = `${path}.stale-${Deno.pid}`;
    try {
      Deno.renameSync(path, aside);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) continue;
      throw err;
    }
    try {
      const moved = readInfo(aside);
      const replaced = moved &&
        (!info || moved.pid !== info.pid || moved.started !== info.started);
      if (moved && replaced && processAlive(moved.pid)) {
        try {
          Deno.linkSync(aside, path); // put the live lock back
        } catch { /* someone else holds it now; the next attempt reports them */ }
      }
    } finally {
      try {
        Deno.removeSync(aside);
      } catch { /* gone already */ }
    }
  }
  throw new DataError(`Could not take ${path} after 3 attempts; another process keeps taking it`);
}
