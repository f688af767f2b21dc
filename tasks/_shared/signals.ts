/**
 * What a task does on SIGINT / SIGTERM: release its locks, remove its temp files and staging
 * directories (the registry of lib/io/cleanup.ts), print one line, and exit 130 / 143.
 *
 * @module
 */
import { cleanupLiveResources } from "../../lib/io/cleanup.ts";

/** Exit codes of an interrupted run: 128 + the signal number, as shells report them. */
const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

/** "1 lock", "2 temp files" (plural by count). */
function count(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
}

/**
 * Installs the SIGINT / SIGTERM handlers of a run: remove this process's temp files and staging
 * directories and release its locks (the registry of lib/io/cleanup.ts, synchronously), print
 * one line, exit 130 / 143. Returns the function that removes them again. The handlers do not
 * keep the process alive, and are removed when the task ends anyway.
 */
export function installSignalHandlers(taskName: string): () => void {
  const installed: [Deno.Signal, () => void][] = [];
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    const handler = () => {
      const r = cleanupLiveResources();
      const failed = r.failed.length ? `; could not remove ${r.failed.join(", ")}` : "";
      console.error(
        `interrupted: ${taskName} got ${sig}; released ${count(r.locks, "lock")}, removed ` +
          `${r.removed} temp ${r.removed === 1 ? "file or directory" : "files and directories"}` +
          `${failed}; rerun the same command to finish`,
      );
      Deno.exit(SIGNAL_EXIT[sig]);
    };
    try {
      Deno.addSignalListener(sig, handler);
      installed.push([sig, handler]);
    } catch { /* a platform without this signal (SIGTERM on Windows) */ }
  }
  return () => {
    for (const [sig, handler] of installed) Deno.removeSignalListener(sig, handler);
  };
}
