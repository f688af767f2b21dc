/**
 * The typed flag spec: the value types inferred from a spec (checked at compile time by
 * `deno check` / `deno test`, which type-checks this file) and the values parsed at run time.
 */
import assert from "node:assert/strict";
import { UsageError } from "../../lib/errors.ts";
import {
  defineFlags,
  defineTask,
  type FlagDef,
  type FlagValues,
  type FlagValuesOf,
  helpText,
  numberFlag,
  parseFlags,
  type TaskSpec,
} from "./cli.ts";

/** True when A and B are the same type (not merely assignable either way). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false;

const SHARED = defineFlags({
  "time-limit": { type: "number", min: 1, integer: true, default: 7200, help: "SECONDS" },
});

const SPEC = defineTask({
  name: "typed",
  summary: "A task to test the flag types.",
  usage: "deno task typed --features DIR",
  flags: {
    features: { type: "string", required: true, help: "DIR   training set" },
    out: { type: "string", help: "DIR   output" },
    groups: { type: "string", default: "flat", help: "flat|taxonomy" },
    ood: { type: "string", multiple: true, help: "NAME=DIR   repeatable" },
    force: { type: "boolean", help: "recompute" },
    steps: { type: "number", min: 1, integer: true, help: "N   steps" },
    seed: { type: "number", min: 0, integer: true, default: 0, help: "N   seed" },
    lr: { type: "number", min: 0, exclusiveMin: true, help: "X   learning rate" },
    ...SHARED,
  },
});

type Values = FlagValuesOf<typeof SPEC.flags>;

// Compile-time checks: each line fails `deno check` when an inferred type changes.
const typeChecks: [
  Equal<Values["features"], string>,
  Equal<Values["out"], string | undefined>,
  Equal<Values["groups"], string>,
  Equal<Values["ood"], string[]>,
  Equal<Values["force"], boolean>,
  Equal<Values["steps"], number | undefined>,
  Equal<Values["seed"], number>,
  Equal<Values["time-limit"], number>,
  // A spec typed only as Record<string, FlagDef> keeps the untyped record of before.
  Equal<FlagValuesOf<Record<string, FlagDef>>, FlagValues>,
] = [true, true, true, true, true, true, true, true, true];

function typedUse(values: Values): string {
  // @ts-expect-error: a flag the spec does not declare is a compile error.
  void values.nope;
  // No casts: string methods on strings, arithmetic on numbers, array methods on lists.
  return `${values.features.length} ${values.out?.length ?? 0} ${values.seed + 1} ` +
    `${values.ood.join(",")} ${values.force ? 1 : 0} ${(values.steps ?? 0) * 2}`;
}

Deno.test("parseFlags: typed values, defaults, empty lists and false switches", () => {
  assert.deepEqual(typeChecks, Array(9).fill(true));
  const { values } = parseFlags(SPEC, ["--features", "f"]);
  assert.equal(values.out, undefined);
  assert.deepEqual(values, {
    features: "f",
    groups: "flat",
    ood: [],
    force: false,
    steps: undefined,
    seed: 0,
    lr: undefined,
    "time-limit": 7200,
  });
  assert.equal(typedUse(values), "1 0 1  0 0");
  const full = parseFlags(SPEC, [
    "--features=f",
    "--out",
    "o",
    "--groups",
    "taxonomy",
    "--ood",
    "a=1",
    "--ood",
    "b=2",
    "--force",
    "--steps",
    "30",
    "--seed",
    "7",
    "--lr",
    "0.25",
    "--time-limit",
    "60",
  ]).values;
  assert.deepEqual(full, {
    features: "f",
    out: "o",
    groups: "taxonomy",
    ood: ["a=1", "b=2"],
    force: true,
    steps: 30,
    seed: 7,
    lr: 0.25,
    "time-limit": 60,
  });
  assert.equal(typedUse(full), "1 1 8 a=1,b=2 1 60");
});

Deno.test("parseFlags: number rules, FLAG_MAX, negative values and required flags", () => {
  const usage = (args: string[], message: string) =>
    assert.throws(() => parseFlags(SPEC, args), (e: unknown) => {
      assert.ok(e instanceof UsageError);
      assert.equal(e.message, message);
      return true;
    });
  usage(
    ["--features", "f", "--steps", "0"],
    '--steps must be an integer >= 1 and <= 10000000, got "0"',
  );
  usage(
    ["--features", "f", "--steps", "-1"],
    '--steps must be an integer >= 1 and <= 10000000, got "-1"',
  );
  usage(
    ["--features", "f", "--steps", "2.5"],
    '--steps must be an integer >= 1 and <= 10000000, got "2.5"',
  );
  usage(["--features", "f", "--lr", "0"], '--lr must be a number > 0 and <= 1000, got "0"');
  usage(["--features", "f", "--lr", "x"], '--lr must be a number > 0 and <= 1000, got "x"');
  usage(["--features", "f", "--time-limit", " "], '--time-limit must be an integer >= 1, got " "');
  usage([], "--features is required; see `deno task typed --help`");
  usage(["--features", ""], "--features is required; see `deno task typed --help`");
  assert.throws(() => parseFlags(SPEC, ["--features", "f", "--bogus"]), UsageError);
});

Deno.test("untyped specs keep working: string numbers through numberFlag, optional switches", () => {
  const old: TaskSpec = {
    name: "old",
    summary: "An untyped spec.",
    usage: "deno task old",
    flags: {
      steps: { type: "string", help: "N" },
      force: { type: "boolean", help: "recompute" },
    },
  };
  const { values } = parseFlags(old, ["--steps", "12"]);
  assert.deepEqual(values, { steps: "12", force: false });
  assert.equal(numberFlag(values, "steps", { min: 1, integer: true }), 12);
  assert.equal(numberFlag({ steps: 5 }, "steps"), 5);
  assert.equal(numberFlag({}, "steps"), undefined);
});

Deno.test("helpText shows number, list and string defaults", () => {
  const text = helpText(SPEC);
  assert.match(text, /--seed {15}N {3}seed \(default: 0\)/);
  assert.match(text, /--time-limit {9}SECONDS \(default: 7200\)/);
  assert.match(text, /--groups {13}flat\|taxonomy \(default: flat\)/);
  assert.doesNotMatch(text, /--force.*default/);
});
