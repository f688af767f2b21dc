/**
 * Output directories that a failed run does not leave behind: {@linkcode prepareOutDir} records
 * which directories it had to create, and {@linkcode removeFreshOutDir} takes exactly those away
 * again after a failure, provided they hold nothing but the run's own bookkeeping. An --out that
 * existed before the run is never removed.
 *
 * @module
 */
import { ensureWritableDir } from "./atomic.ts";

/** An output directory made ready for writing. */
export interface OutDir {
  path: string;
  /** Directories this run created, deepest first (`path` itself, then new parents). */
  created: string[];
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes `dir` a writable directory (see `ensureWritableDir`; `flagName` names it in errors) and
 * remembers which of it and its parents did not exist before.
 */
export async function prepareOutDir(dir: string, flagName: string): Promise<OutDir> {
  const created: string[] = [];
  let p = dir.replace(/\/+$/, "") || "/";
  while (p !== "" && p !== "." && p !== "/" && !(await exists(p))) {
    created.push(p);
    const slash = p.lastIndexOf("/");
    p = slash <= 0 ? (slash === 0 ? "/" : "") : p.slice(0, slash);
  }
  await ensureWritableDir(dir, flagName);
  return { path: dir, created };
}

/** Entries a run may leave in a fresh output directory before failing: its lock, checkpoint, temps. */
function isBookkeeping(name: string): boolean {
  return name === ".lock" || name === ".checkpoint" || /\.tmp-\d+-[0-9a-z]+$/.test(name);
}

/** Options of {@linkcode removeFreshOutDir}. */
export interface RemoveFreshOptions {
  /**
   * Whether the failed run held the directory's lock. When it did not (its lock was refused),
   * the bookkeeping in the directory belongs to the run that holds it, started at the same
   * moment, which may have created the directory too: only empty directories are removed then.
   */
  ownsLock?: boolean;
}

/**
 * After a failed run: removes the directories `out` created, deepest first, if each holds only
 * bookkeeping entries (lock, checkpoint, temp files, staging) of this run. Anything else (a file
 * someone put there meanwhile) keeps the directory. Best effort; never throws.
 */
export async function removeFreshOutDir(
  out: OutDir,
  options: RemoveFreshOptions = {},
): Promise<void> {
  const ours = options.ownsLock ?? true;
  for (const dir of out.created) {
    try {
      const names: string[] = [];
      for await (const e of Deno.readDir(dir)) names.push(e.name);
      if (!names.every((n) => ours && isBookkeeping(n))) return;
      for (const n of names) await Deno.remove(`${dir}/${n}`, { recursive: true });
      await Deno.remove(dir);
    } catch {
      return;
    }
  }
}
