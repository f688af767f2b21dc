/**
 * Progress on stderr: a redrawn bar with count, rate and ETA when stderr is a terminal, else one
 * line per ~10% so logs of batch jobs stay short. Only work that runs longer than
 * {@linkcode PROGRESS_DELAY_MS} (5 s) reports: a job that ends sooner prints no progress line at
 * all, not even the final one, since its result line says all there is to say. Silent when
 * `MOS_QUIET=1`.
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
  /** Milliseconds before anything is printed (default {@linkcode PROGRESS_DELAY_MS}). */
  delayMs?: number;
  /** Clock in milliseconds (default `performance.now`); tests pass a fake one. */
  now?: () => number;
  /** Where the text goes (default stderr). */
  write?: (text: string) => void;
  /** Whether to draw a redrawn bar (default: whether stderr is a terminal). */
  tty?: boolean;
  /** Print nothing (default: `MOS_QUIET=1`). */
  quiet?: boolean;
}

/** Work shorter than this prints no progress (milliseconds). */
export const PROGRESS_DELAY_MS = 5000;

const encoder = new TextEncoder();

function writeStderr(text: string): void {
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

/** Creates a progress reporter on stderr (see the module doc for when it prints). */
export function createProgress(opts: ProgressOptions): Progress {
  const quiet = opts.quiet ?? Deno.env.get("MOS_QUIET") === "1";
  const tty = opts.tty ?? Deno.stderr.isTerminal();
  const now = opts.now ?? (() => performance.now());
  const write = opts.write ?? writeStderr;
  const delay = opts.delayMs ?? PROGRESS_DELAY_MS;
  const unit = opts.unit ?? "it";
  const start = opts.start ?? 0;
  const t0 = now();
  let lastDraw = -Infinity;
  let lastDecile = Math.floor((start / Math.max(1, opts.total)) * 10);
  let current = start;
  let lastStatus = "";

  const line = (done: number, status: string): string => {
    const elapsed = (now() - t0) / 1000;
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
      const t = now();
      if (t - t0 < delay) return;
      if (tty) {
        if (t - lastDraw < 100 && done < opts.total) return;
        lastDraw = t;
        const width = 24;
        const filled = Math.round((width * done) / Math.max(1, opts.total));
        const bar = "#".repeat(filled) + "-".repeat(width - filled);
        write(`\r\x1b[2K[${bar}] ${line(done, status)}`);
      } else {
        // Deciles passed during the delay are not replayed: the first line after it comes at
        // the first update past the delay, then one per new decile.
        const decile = Math.floor((done / Math.max(1, opts.total)) * 10);
        if (decile > lastDecile && done < opts.total) {
          lastDecile = decile;
          write(line(done, status) + "\n");
        }
      }
    },
    finish(status?: string) {
      if (quiet || now() - t0 < delay) return;
      const text = line(current, status ?? lastStatus);
      write(tty ? `\r\x1b[2K${text}\n` : `${text}\n`);
    },
  };
}
