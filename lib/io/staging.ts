/**
 * Staged replacement of a result directory's files, so a failed rerun (a full disk, a crash)
 * leaves the previous result intact: new files are written under `<out>/.staging.tmp-<pid>-<r>`,
 * and only when all of them exist are the old completion markers removed and the new files renamed
 * into place (renames need no space). A staging directory of a killed process is removed by the
 * next `acquireLock` on `<out>`; one of an interrupted process (SIGINT / SIGTERM) by its own
 * signal handler, through the registry of lib/io/cleanup.ts.
 *
 * @module
 */
import { trackResource } from "./cleanup.ts";

/** Deregistration functions of this process's live staging directories. */
const untrackers = new Map<string, () => void>();

/** Creates an empty staging directory inside `out` (which must exist). */
export async function createStaging(out: string): Promise<string> {
  const rand = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  const dir = `${out}/.staging.tmp-${Deno.pid}-${rand}`;
  // Registered before the mkdir lands, so a signal during it still removes the directory.
  untrackers.set(dir, trackResource("staging dir", dir));
  try {
    await Deno.mkdir(dir);
  } catch (err) {
    untrack(dir);
    throw err;
  }
  return dir;
}

function untrack(staging: string): void {
  untrackers.get(staging)?.();
  untrackers.delete(staging);
}

async function listFiles(root: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(rel ? `${root}/${rel}` : root)) {
    const path = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory) out.push(...await listFiles(root, path));
    else out.push(path);
  }
  return out.sort();
}

/**
 * Moves every file of `staging` into `out` (same relative paths, replacing existing files), then
 * removes `staging`. `markers` (relative paths, e.g. ["manifest.json", "head.json"]) are removed
 * from `out` first and moved last, in the given order, so a reader that trusts them never sees a
 * mix of old and new files.
 */
export async function commitStaging(
  staging: string,
  out: string,
  markers: readonly string[],
): Promise<void> {
  for (const m of markers) await Deno.remove(`${out}/${m}`).catch(() => {});
  const files = await listFiles(staging);
  const ordered = [
    ...files.filter((f) => !markers.includes(f)),
    ...markers.filter((m) => files.includes(m)),
  ];
  const made = new Set<string>();
  for (const f of ordered) {
    const slash = f.lastIndexOf("/");
    if (slash !== -1) {
      const dir = `${out}/${f.slice(0, slash)}`;
      if (!made.has(dir)) {
        await Deno.mkdir(dir, { recursive: true });
        made.add(dir);
      }
    }
    await Deno.rename(`${staging}/${f}`, `${out}/${f}`);
  }
  await Deno.remove(staging, { recursive: true });
  untrack(staging);
}

/** Removes a staging directory after a failure (best effort). */
export async function discardStaging(staging: string): Promise<void> {
  await Deno.remove(staging, { recursive: true }).catch(() => {});
  untrack(staging);
}
