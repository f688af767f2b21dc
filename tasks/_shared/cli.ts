/**
 * The common shell of every task: strict flag parsing with `node:util` parseArgs, `--help`,
 * validated numbers, and one-line errors with the right exit code (0 ok, 1 runtime, 2 usage).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { MosError, UsageError } from "../../lib/errors.ts";
import { cleanupLiveResources } from "../../lib/io/cleanup.ts";

/** One flag of a task. */
export interface FlagDef {
  type: "string" | "boolean";
  multiple?: boolean;
  default?: string | boolean;
  short?: string;
  /** Shown in `--help`, e.g. "DIR  feature set of the training split". */
  help: string;
}

/** A task's interface: name (as in `deno task NAME`), summary, flags. */
export interface TaskSpec {
  name: string;
  summary: string;
  usage: string;
  flags: Record<string, FlagDef>;
  /** Extra lines printed at the end of `--help`. */
  notes?: string[];
  /** Whether positional arguments are accepted. */
  positionals?: boolean;
}

/** Parsed flag values. */
export type FlagValues = Record<string, string | boolean | string[] | undefined>;

/** Formats the `--help` text of a task. */
export function helpText(spec: TaskSpec): string {
  const lines = [`${spec.summary}`, "", `Usage: ${spec.usage}`, "", "Options:"];
  const entries = Object.entries(spec.flags);
  for (const [name, def] of entries) {
    const short = def.short ? `-${def.short}, ` : "    ";
    const dflt = def.default !== undefined && def.default !== false
      ? ` (default: ${def.default})`
      : "";
    lines.push(`  ${short}--${name.padEnd(18)} ${def.help}${dflt}`);
  }
  lines.push(`      --${"help".padEnd(18)} print this help`);
  lines.push(`      --${"debug".padEnd(18)} print stack traces on errors`);
  if (spec.notes?.length) lines.push("", ...spec.notes);
  return lines.join("\n");
}

/** Parses `args` against the spec; throws UsageError on unknown flags or missing values. */
export function parseFlags(
  spec: TaskSpec,
  args: string[],
): { values: FlagValues; positionals: string[] } {
  const options: Record<string, {
    type: "string" | "boolean";
    multiple?: boolean;
    short?: string;
    default?: string | boolean;
  }> = {
    help: { type: "boolean" },
    debug: { type: "boolean" },
  };
  for (const [name, def] of Object.entries(spec.flags)) {
    options[name] = { type: def.type };
    if (def.multiple) options[name].multiple = true;
    if (def.short) options[name].short = def.short;
    if (def.default !== undefined) options[name].default = def.default;
  }
  // parseArgs refuses "--steps -1" as ambiguous; join such values so the number check below
  // reports the flag and the bad value instead.
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const name = args[i].startsWith("--") ? args[i].slice(2) : "";
    const next = args[i + 1];
    if (
      spec.flags[name]?.type === "string" && next !== undefined && /^-\d|^-\.\d/.test(next)
    ) {
      joined.push(`${args[i]}=${next}`);
      i++;
    } else joined.push(args[i]);
  }
  try {
    const parsed = parseArgs({
      args: joined,
      options,
      strict: true,
      allowPositionals: spec.positionals ?? false,
    });
    return { values: parsed.values as FlagValues, positionals: parsed.positionals };
  } catch (e) {
    const msg = e instanceof Error ? e.message.split("\n")[0] : String(e);
    throw new UsageError(`${msg.replace(/\.$/, "")}; see \`deno task ${spec.name} --help\``);
  }
}

/** A required string flag. */
export function requireString(values: FlagValues, name: string, taskName: string): string {
  const v = values[name];
  if (typeof v !== "string" || v === "") {
    throw new UsageError(`--${name} is required; see \`deno task ${taskName} --help\``);
  }
  return v;
}

/** Options for number flags. */
export interface NumberRule {
  min?: number;
  max?: number;
  integer?: boolean;
  /** Whether min is exclusive (value must be > min). */
  exclusiveMin?: boolean;
}

/**
 * Upper bounds of the numeric flags that every task shares, applied when a task gives none: a value
 * past them is a typo or an attack (`--threads 100000` would start 100,000 threads), never a run.
 */
export const FLAG_MAX: Readonly<Record<string, number>> = {
  "threads": 1024,
  "batch": 65536,
  "steps": 10_000_000,
  "warmup": 10_000_000,
  "num-classes": 1_000_000,
  "k": 1_000_000,
  "dim": 65536,
  "seed": 2 ** 53 - 1,
  "ci-seed": 2 ** 53 - 1,
  "split-seed": 2 ** 53 - 1,
  "sample-seed": 2 ** 53 - 1,
  "view-seed": 2 ** 53 - 1,
  "resamples": 1_000_000,
  "seeds": 100,
  "train-per-class": 1_000_000,
  "val-per-class": 1_000_000,
  "per-class": 1_000_000,
  "total-images": 100_000_000,
  "ood-count": 100_000_000,
  "id-val-count": 100_000_000,
  "shard-count": 1_000_000,
  "lr": 1000,
  "mixup": 1000,
  "odin-temperature": 1e9,
};

/** Parses an optional number flag, throwing UsageError naming the flag and value when invalid. */
export function numberFlag(
  values: FlagValues,
  name: string,
  given: NumberRule = {},
): number | undefined {
  const rule = given.max === undefined && FLAG_MAX[name] !== undefined
    ? { ...given, max: FLAG_MAX[name] }
    : given;
  const raw = values[name];
  if (raw === undefined) return undefined;
  if (typeof raw !== "string") throw new UsageError(`--${name} takes a value`);
  const v = Number(raw);
  const what = rule.integer ? "an integer" : "a number";
  const bound = rule.min === undefined
    ? ""
    : rule.exclusiveMin
    ? ` > ${rule.min}`
    : ` >= ${rule.min}`;
  const upper = rule.max === undefined ? "" : ` and <= ${rule.max}`;
  const bad = raw.trim() === "" || !Number.isFinite(v) || (rule.integer && !Number.isInteger(v)) ||
    (rule.min !== undefined && (rule.exclusiveMin ? v <= rule.min : v < rule.min)) ||
    (rule.max !== undefined && v > rule.max);
  if (bad) throw new UsageError(`--${name} must be ${what}${bound}${upper}, got "${raw}"`);
  return v;
}

/** Parses a comma-separated list flag against allowed values. */
export function listFlag(
  values: FlagValues,
  name: string,
  allowed: readonly string[],
  fallback: readonly string[],
): string[] {
  const raw = values[name];
  if (raw === undefined) return [...fallback];
  if (typeof raw !== "string") throw new UsageError(`--${name} takes a value`);
  const items = raw.split(",").map((s) => s.trim().toLowerCase()).filter((s) => s !== "");
  if (items.length === 0) throw new UsageError(`--${name} is empty; give one of ${allowed}`);
  for (const item of items) {
    if (!allowed.includes(item)) {
      throw new UsageError(`--${name}: unknown value "${item}"; choose from ${allowed.join(", ")}`);
    }
  }
  return [...new Set(items)];
}

/** Parses a choice flag. */
export function choiceFlag<T extends string>(
  values: FlagValues,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const raw = values[name];
  if (raw === undefined) return fallback;
  if (typeof raw !== "string" || !(allowed as readonly string[]).includes(raw)) {
    throw new UsageError(`--${name} must be one of ${allowed.join(", ")}, got "${raw}"`);
  }
  return raw as T;
}

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

/**
 * Runs a task's main function with the shared error handling: `--help` prints help and exits 0;
 * a MosError prints `error: <message>` and exits with its code; anything else prints an internal
 * error line (stack with `--debug`) and exits 1. While it runs, SIGINT / SIGTERM release the
 * run's locks and remove its temp files before exiting 130 / 143 (see
 * {@linkcode installSignalHandlers}); a failed run removes whatever of them is still registered
 * before it exits.
 */
export async function runTask(
  spec: TaskSpec,
  main: (values: FlagValues, positionals: string[]) => Promise<void>,
  args: string[] = Deno.args,
): Promise<void> {
  const debug = args.includes("--debug");
  const removeHandlers = installSignalHandlers(spec.name);
  try {
    if (args.includes("--help") || args.includes("-h")) {
      console.log(helpText(spec));
      return;
    }
    const { values, positionals } = parseFlags(spec, args);
    await main(values, positionals);
  } catch (e) {
    // Every finally has run by now; anything still registered leaked (e.g. from work left in
    // flight by a rejected Promise.all) and would outlive the run.
    cleanupLiveResources(0);
    if (e instanceof MosError) {
      console.error(`error: ${e.message}`);
      if (debug && e.stack) console.error(e.stack);
      Deno.exit(e.exitCode);
    }
    const msg = e instanceof Error ? e.message.split("\n")[0] : String(e);
    console.error(`error: ${msg}${debug ? "" : " (rerun with --debug for details)"}`);
    if (debug && e instanceof Error && e.stack) console.error(e.stack);
    Deno.exit(1);
  } finally {
    removeHandlers();
  }
}
