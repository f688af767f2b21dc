/**
 * Memory budgets: the bytes a run is about to allocate, checked against the memory the machine can
 * give before anything is allocated, so a lying header or an absurd label ends in one clear error
 * instead of an out-of-memory abort minutes later.
 *
 * @module
 */
import { DataError } from "./errors.ts";

/**
 * Bytes this process may still allocate: `MOS_MEMORY_LIMIT` (bytes, for tests and shared machines)
 * when set, else the system's available memory (MemAvailable), else 4 GiB when unknown.
 */
export function availableMemory(): number {
  const env = Deno.env.get("MOS_MEMORY_LIMIT");
  if (env !== undefined && env !== "") {
    const v = Number(env);
    if (Number.isFinite(v) && v > 0) return v;
  }
  try {
    const info = Deno.systemMemoryInfo();
    if (info.available > 0) return info.available;
  } catch { /* not available on this platform */ }
  return 4 * 2 ** 30;
}

/** Human-readable byte count, e.g. "16.0 GiB". */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

/**
 * Throws a `DataError` when `bytes` (an estimate of what `what` will allocate) exceeds the
 * available memory. `what` names the file and sizes, `fix` says what to do.
 *
 * @example
 * ```ts
 * assertFitsInMemory(1008 * 2048 * 4 * 4, "a 1008 x 2048 head", "use a smaller --batch");
 * ```
 */
export function assertFitsInMemory(bytes: number, what: string, fix: string): void {
  const avail = availableMemory();
  if (!(bytes <= avail)) {
    throw new DataError(
      `${what} needs about ${formatBytes(bytes)} of memory but only ${
        formatBytes(avail)
      } is available; ${fix}`,
    );
  }
}
