/**
 * The common shell of every task: strict flag parsing with `node:util` parseArgs, `--help`,
 * validated numbers, and one-line errors with the right exit code (0 ok, 1 runtime, 2 usage).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { MosError, UsageError } from "../../lib/errors.ts";

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

/** Parses an optional number flag, throwing UsageError naming the flag and value when invalid. */
export function numberFlag(
  values: FlagValues,
  name: string,
  rule: NumberRule = {},
): number | undefined {
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

/**
 * Runs a task's main function with the shared error handling: `--help` prints help and exits 0;
 * a MosError prints `error: <message>` and exits with its code; anything else prints an internal
 * error line (stack with `--debug`) and exits 1.
 */
export async function runTask(
  spec: TaskSpec,
  main: (values: FlagValues, positionals: string[]) => Promise<void>,
  args: string[] = Deno.args,
): Promise<void> {
  const debug = args.includes("--debug");
  try {
    if (args.includes("--help") || args.includes("-h")) {
      console.log(helpText(spec));
      return;
    }
    const { values, positionals } = parseFlags(spec, args);
    await main(values, positionals);
  } catch (e) {
    if (e instanceof MosError) {
      console.error(`error: ${e.message}`);
      if (debug && e.stack) console.error(e.stack);
      Deno.exit(e.exitCode);
    }
    const msg = e instanceof Error ? e.message.split("\n")[0] : String(e);
    console.error(`error: ${msg}${debug ? "" : " (rerun with --debug for details)"}`);
    if (debug && e instanceof Error && e.stack) console.error(e.stack);
    Deno.exit(1);
  }
}
