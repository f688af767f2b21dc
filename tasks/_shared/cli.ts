/**
 * The common shell of every task: strict flag parsing with `node:util` parseArgs, `--help`,
 * validated numbers, and one-line errors with the right exit code (0 ok, 1 runtime, 2 usage).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { MosError, UsageError } from "../../lib/errors.ts";
import { cleanupLiveResources } from "../../lib/io/cleanup.ts";
import { installSignalHandlers } from "./signals.ts";

export { installSignalHandlers };

/** Bounds of a number flag. */
export interface NumberRule {
  min?: number;
  max?: number;
  integer?: boolean;
  /** Whether min is exclusive (value must be > min). */
  exclusiveMin?: boolean;
}

interface FlagDefBase {
  short?: string;
  /** Shown in `--help`, e.g. "DIR  feature set of the training split". */
  help: string;
}

/** A flag with one string value: `string` when it has a default or is required, else optional. */
export interface StringFlagDef extends FlagDefBase {
  type: "string";
  multiple?: false;
  default?: string;
  /** Refuse a run without it (UsageError naming the flag), so its value is a `string`. */
  required?: boolean;
}

/** A repeatable string flag (`--ood a --ood b`): always a `string[]`, empty when not given. */
export interface ListFlagDef extends FlagDefBase {
  type: "string";
  multiple: true;
  default?: readonly string[];
}

/** A switch: always a `boolean`, false when not given (unless its default says otherwise). */
export interface BooleanFlagDef extends FlagDefBase {
  type: "boolean";
  default?: boolean;
}

/**
 * A number flag, checked against its rule (and {@linkcode FLAG_MAX} when the rule has no `max`)
 * while the flags are parsed: `number` with a default, else `number | undefined`.
 */
export interface NumberFlagDef extends FlagDefBase, NumberRule {
  type: "number";
  default?: number;
}

/** One flag of a task. */
export type FlagDef = StringFlagDef | ListFlagDef | BooleanFlagDef | NumberFlagDef;

/** A task's interface: name (as in `deno task NAME`), summary, flags. */
export interface TaskSpec<F extends Record<string, FlagDef> = Record<string, FlagDef>> {
  name: string;
  summary: string;
  usage: string;
  flags: F;
  /** Extra lines printed at the end of `--help`. */
  notes?: readonly string[];
  /** Whether positional arguments are accepted. */
  positionals?: boolean;
}

/** Parsed flag values of a spec whose flag names are not known statically. */
export type FlagValues = Record<string, string | boolean | string[] | number | undefined>;

/** The parsed value of one flag, as std's parse_args types it. */
export type FlagValue<D> = D extends { type: "boolean" } ? boolean
  : D extends { type: "number" } ? (D extends { default: number } ? number : number | undefined)
  : D extends { multiple: true } ? string[]
  : D extends { default: string } | { required: true } ? string
  : string | undefined;

/**
 * The parsed values of a spec's flags, one typed property per flag (see {@linkcode FlagValue});
 * {@linkcode FlagValues} for a spec typed only as `Record<string, FlagDef>`.
 */
export type FlagValuesOf<F> = string extends keyof F ? FlagValues
  : { -readonly [K in keyof F]: FlagValue<F[K]> };

/**
 * Declares a task's spec with its flag types kept (`const` inference), so the task's `main`
 * receives typed values: `values.out` is `string | undefined`, `values.force` a `boolean`,
 * `values.steps` a `number` when the flag is `{ type: "number", default: 100 }`.
 */
export function defineTask<const F extends Record<string, FlagDef>>(
  spec: TaskSpec<F>,
): TaskSpec<F> {
  return spec;
}

/** Declares flags shared by several tasks, with their types kept for spreading into a spec. */
export function defineFlags<const F extends Record<string, FlagDef>>(flags: F): F {
  return flags;
}

/** Formats the `--help` text of a task. */
export function helpText<F extends Record<string, FlagDef>>(spec: TaskSpec<F>): string {
  const lines = [`${spec.summary}`, "", `Usage: ${spec.usage}`, "", "Options:"];
  const entries: [string, FlagDef][] = Object.entries(spec.flags);
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

/** The `node:util` parseArgs options of a spec (numbers are strings there, checked afterwards). */
function parseArgsOptions(spec: TaskSpec): Record<string, {
  type: "string" | "boolean";
  multiple?: boolean;
  short?: string;
  default?: string | boolean | string[];
}> {
  const options: ReturnType<typeof parseArgsOptions> = {
    help: { type: "boolean" },
    debug: { type: "boolean" },
  };
  for (const [name, def] of Object.entries(spec.flags)) {
    options[name] = { type: def.type === "boolean" ? "boolean" : "string" };
    if (def.type === "string" && def.multiple) options[name].multiple = true;
    if (def.short) options[name].short = def.short;
    if (def.type === "boolean" && def.default !== undefined) options[name].default = def.default;
    if (def.type === "string" && def.default !== undefined) {
      options[name].default = typeof def.default === "string" ? def.default : [...def.default];
    }
  }
  return options;
}

/**
 * parseArgs refuses "--steps -1" as ambiguous; joins such values ("--steps=-1") so the number
 * check reports the flag and the bad value instead.
 */
function joinNegativeValues(spec: TaskSpec, args: string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const name = args[i].startsWith("--") ? args[i].slice(2) : "";
    const next = args[i + 1];
    const type = Object.hasOwn(spec.flags, name) ? spec.flags[name].type : undefined;
    if (
      type !== undefined && type !== "boolean" && next !== undefined && /^-\d|^-\.\d/.test(next)
    ) {
      joined.push(`${args[i]}=${next}`);
      i++;
    } else joined.push(args[i]);
  }
  return joined;
}

/**
 * Gives every flag its typed value: booleans false and lists empty when not given, numbers
 * checked and converted (their default when not given), required strings present.
 */
function typedValues(spec: TaskSpec, raw: FlagValues): FlagValues {
  const values: FlagValues = { ...raw };
  for (const [name, def] of Object.entries(spec.flags)) {
    if (def.type === "boolean") values[name] = raw[name] === true;
    else if (def.type === "number") {
      values[name] = raw[name] === undefined
        ? def.default
        : parseNumber(name, raw[name] as string, def);
    } else if (def.multiple) values[name] = raw[name] ?? [];
    else if (def.required && (raw[name] === undefined || raw[name] === "")) {
      throw new UsageError(`--${name} is required; see \`deno task ${spec.name} --help\``);
    }
  }
  return values;
}

/**
 * Parses `args` against the spec; throws UsageError on unknown flags, missing values, numbers
 * outside their rule and missing required flags. The values are typed by the spec (see
 * {@linkcode FlagValuesOf}).
 */
export function parseFlags<F extends Record<string, FlagDef>>(
  spec: TaskSpec<F>,
  args: string[],
): { values: FlagValuesOf<F>; positionals: string[] } {
  let parsed: { values: FlagValues; positionals: string[] };
  try {
    parsed = parseArgs({
      args: joinNegativeValues(spec, args),
      options: parseArgsOptions(spec),
      strict: true,
      allowPositionals: spec.positionals ?? false,
    }) as { values: FlagValues; positionals: string[] };
  } catch (e) {
    const msg = e instanceof Error ? e.message.split("\n")[0] : String(e);
    throw new UsageError(`${msg.replace(/\.$/, "")}; see \`deno task ${spec.name} --help\``);
  }
  const values = typedValues(spec, parsed.values) as FlagValuesOf<F>;
  return { values, positionals: parsed.positionals };
}

/** A required string flag. */
export function requireString(values: FlagValues, name: string, taskName: string): string {
  const v = values[name];
  if (typeof v !== "string" || v === "") {
    throw new UsageError(`--${name} is required; see \`deno task ${taskName} --help\``);
  }
  return v;
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

/** Converts the text of number flag `name`, throwing UsageError naming the flag and value. */
function parseNumber(name: string, raw: string, given: NumberRule): number {
  const rule = given.max === undefined && FLAG_MAX[name] !== undefined
    ? { ...given, max: FLAG_MAX[name] }
    : given;
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

/**
 * Parses an optional number flag declared as a string, throwing UsageError naming the flag and
 * value when invalid. A flag declared `{ type: "number", ... }` arrives parsed and needs no call.
 */
export function numberFlag(
  values: FlagValues,
  name: string,
  given: NumberRule = {},
): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  if (typeof raw === "number") return raw;
  if (typeof raw !== "string") throw new UsageError(`--${name} takes a value`);
  return parseNumber(name, raw, given);
}

/**
 * The value of an optional string flag from values whose flags are not typed statically (a
 * helper shared by several tasks); UsageError when the flag was declared otherwise.
 */
export function optionalString(values: FlagValues, name: string): string | undefined {
  const v = values[name];
  if (v !== undefined && typeof v !== "string") throw new UsageError(`--${name} takes a value`);
  return v;
}

/** Parses a comma-separated list flag against allowed values. */
export function listFlag<T extends string>(
  values: FlagValues,
  name: string,
  allowed: readonly T[],
  fallback: readonly T[],
): T[] {
  const raw = values[name];
  if (raw === undefined) return [...fallback];
  if (typeof raw !== "string") throw new UsageError(`--${name} takes a value`);
  const items = raw.split(",").map((s) => s.trim().toLowerCase()).filter((s) => s !== "");
  if (items.length === 0) throw new UsageError(`--${name} is empty; give one of ${allowed}`);
  const known: readonly string[] = allowed;
  for (const item of items) {
    if (!known.includes(item)) {
      throw new UsageError(`--${name}: unknown value "${item}"; choose from ${allowed.join(", ")}`);
    }
  }
  return [...new Set(items)] as T[];
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
 * error line (stack with `--debug`) and exits 1. While it runs, SIGINT / SIGTERM release the
 * run's locks and remove its temp files before exiting 130 / 143 (see
 * {@linkcode installSignalHandlers}); a failed run removes whatever of them is still registered
 * before it exits.
 */
export async function runTask<F extends Record<string, FlagDef>>(
  spec: TaskSpec<F>,
  main: (values: FlagValuesOf<F>, positionals: string[]) => Promise<void>,
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
