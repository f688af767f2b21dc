/**
 * Progress on stderr: a redrawn bar with count, rate and ETA when stderr is a terminal, else one
 * line per ~10% so logs of batch jobs stay short. Silent when `MOS_QUIET=1`.
 *
 * @module
 */

/** A progress reporter. */
export interface Progress {
  /** Sets the absolute position and an optional status text (e.g. "loss 0.412"). */
  update(done: number, status?: string): void;
  /** Prints the final line. */
  finish(status?: string): void;
}

/** Options for {@linkcode createProgress}. */
export interface ProgressOptions {
  label: string;
  total: number;
  unit?: string;
  /** Position at which this run starts (resumed work), so the rate counts only new work. */
  start?: number;
}

const encoder = new TextEncoder();

function write(text: string): void {
  Deno.stderr.writeSync(encoder.encode(text));
}

/** Formats seconds as "1h02m", "3m05s" or "12s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s >= 3600) {
    return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
  }
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

/** Creates a progress reporter on stderr. */
export function createProgress(opts: ProgressOptions): Progress {
  const quiet = Deno.env.get("MOS_QUIET") === "1";
  const tty = Deno.stderr.isTerminal();
  const unit = opts.unit ?? "it";
  const start = opts.start ?? 0;
  const t0 = performance.now();
  let lastDraw = 0;
  let lastDecile = Math.floor((start / Math.max(1, opts.total)) * 10);
  let current = start;
  let lastStatus = "";

  const line = (done: number, status: string): string => {
    const elapsed = (performance.now() - t0) / 1000;
    const rate = elapsed > 0 ? (done - start) / elapsed : 0;
    const eta = rate > 0 ? (opts.total - done) / rate : NaN;
    const pct = opts.total > 0 ? (100 * done) / opts.total : 100;
    const rateText = rate >= 10 ? rate.toFixed(0) : rate.toFixed(1);
    return `${opts.label} ${done}/${opts.total} ${unit} (${pct.toFixed(0)}%) ` +
      `${rateText} ${unit}/s, elapsed ${formatDuration(elapsed)}, ETA ${formatDuration(eta)}` +
      (status ? `, ${status}` : "");
  };

  return {
    update(done: number, status = "") {
      current = done;
      lastStatus = status;
      if (quiet) return;
      const now = performance.now();
      if (tty) {
        if (now - lastDraw < 100 && done < opts.total) return;
        lastDraw = now;
        const width = 24;
        const filled = Math.round((width * done) / Math.max(1, opts.total));
        const bar = "#".repeat(filled) + "-".repeat(width - filled);
        write(`\r\x1b[2K[${bar}] ${line(done, status)}`);
      } else {
        const decile = Math.floor((done / Math.max(1, opts.total)) * 10);
        if (decile > lastDecile && done < opts.total) {
          lastDecile = decile;
          write(line(done, status) + "\n");
        }
      }
    },
    finish(status?: string) {
      if (quiet) return;
      const text = line(current, status ?? lastStatus);
      write(tty ? `\r\x1b[2K${text}\n` : `${text}\n`);
    },
  };
}
