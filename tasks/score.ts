/**
 * `deno task score`: scores ID and OOD feature sets with a trained head and writes
 * `scores/<method>/<dataset>.npy`, `metrics.csv`, `timings.csv` and `manifest.json`.
 *
 * @module
 */
import { UsageError } from "../lib/errors.ts";
import { readHead } from "../lib/io/head.ts";
import { parseIntervalsCsv } from "../lib/io/score_files.ts";
import { intervalsByRow } from "../lib/tables/interval_tables.ts";
import { renderTerminal } from "../lib/tables/terminal.ts";
import {
  FLAT_METHODS,
  GROUP_METHODS,
  type MethodKey,
  PAPER_METHODS,
} from "../lib/scoring/methods.ts";
import type { KlVariant } from "../lib/scoring/score_sets.ts";
import {
  metricsConventionFlag,
  metricsConventionFlags,
} from "./_shared/metrics_convention_flag.ts";
import { runScoreStage } from "./_shared/stages.ts";
import {
  choiceFlag,
  type FlagValues,
  listFlag,
  numberFlag,
  requireString,
  runTask,
  type TaskSpec,
} from "./_shared/cli.ts";

export const SPEC: TaskSpec = {
  name: "score",
  summary: "Score ID and OOD feature sets with a head; write per-sample scores and metrics.csv.",
  usage: "deno task score --head DIR --id [NAME=]DIR --ood NAME=DIR [--ood NAME=DIR ...] " +
    "[--train DIR] [--methods LIST] [--out DIR]",
  flags: {
    head: { type: "string", help: "DIR   head directory (weight.npy, bias.npy, head.json)" },
    id: { type: "string", help: "[NAME=]DIR   in-distribution feature set (name default: id)" },
    ood: { type: "string", multiple: true, help: "NAME=DIR   an OOD feature set (repeatable)" },
    train: {
      type: "string",
      help: "DIR   training features (Mahalanobis statistics; clean KL templates)",
    },
    methods: {
      type: "string",
      help: `LIST  comma-separated, from ${PAPER_METHODS.join(",")} ` +
        "(default: every method that fits the head: flat -> msp,odin,mahalanobis,energy,kl; " +
        "group -> mos; mahalanobis only with --train)",
    },
    "kl-variant": {
      type: "string",
      default: "paper",
      help: "paper|clean   KL templates from the ID set's labels (paper) or --train predictions",
    },
    ...metricsConventionFlags("paper"),
    "odin-temperature": { type: "string", default: "1000", help: "T   ODIN temperature" },
    out: { type: "string", help: "DIR   output directory (default: results/score)" },
    threads: { type: "string", help: "N   onnxruntime threads (default: all cores)" },
    force: { type: "boolean", help: "recompute even when manifest.json matches" },
    ci: {
      type: "boolean",
      help: "bootstrap 95% intervals into metrics_ci.csv; stdout shows them instead of metrics.csv",
    },
    resamples: { type: "string", default: "1000", help: "N   bootstrap resamples (with --ci)" },
    "ci-seed": { type: "string", default: "0", help: "N   bootstrap seed (with --ci)" },
  },
  notes: [
    "ODIN runs without input perturbation (eps = 0, as the paper's released code did).",
    "Scores: higher = more in-distribution. metrics.csv values are percent.",
  ],
};

function parseNamed(
  raw: string,
  flag: string,
  defaultName?: string,
): { name: string; dir: string } {
  const eq = raw.indexOf("=");
  if (eq === -1) {
    if (defaultName) return { name: defaultName, dir: raw };
    throw new UsageError(`--${flag} "${raw}" must be NAME=DIR, e.g. --${flag} sun=features/sun`);
  }
  const name = raw.slice(0, eq);
  const dir = raw.slice(eq + 1);
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name) || dir === "") {
    throw new UsageError(
      `--${flag} "${raw}": NAME must be letters, digits, "_", "-" or "." and DIR non-empty`,
    );
  }
  return { name, dir };
}

/** Parses and validates the score flags; exported for tests. */
export function parseScoreFlags(values: FlagValues) {
  const headDir = requireString(values, "head", SPEC.name);
  const id = parseNamed(requireString(values, "id", SPEC.name), "id", "id");
  const oodRaw = (values.ood as string[] | undefined) ?? [];
  if (oodRaw.length === 0) {
    throw new UsageError("--ood NAME=DIR is required (at least one OOD set)");
  }
  const ood = oodRaw.map((r) => parseNamed(r, "ood"));
  const names = [id.name, ...ood.map((o) => o.name)];
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new UsageError(`Dataset name "${dup}" is used twice; give each set its own NAME`);
  const explicit = values.methods !== undefined;
  const methods = listFlag(values, "methods", PAPER_METHODS, PAPER_METHODS) as MethodKey[];
  return {
    headDir,
    id,
    ood,
    train: values.train as string | undefined,
    methods,
    explicitMethods: explicit,
    klVariant: choiceFlag<KlVariant>(values, "kl-variant", ["paper", "clean"], "paper"),
    fprConvention: metricsConventionFlag(values, "paper"),
    odinTemperature: numberFlag(values, "odin-temperature", { min: 0, exclusiveMin: true })!,
    out: (values.out as string | undefined) ?? "results/score",
    threads: numberFlag(values, "threads", { min: 1, integer: true }),
    force: values.force === true,
    ci: values.ci === true
      ? {
        resamples: numberFlag(values, "resamples", { min: 1, integer: true, max: 1e6 })!,
        seed: numberFlag(values, "ci-seed", { min: 0, integer: true, max: 2 ** 53 - 1 })!,
      }
      : undefined,
  };
}

async function main(values: FlagValues): Promise<void> {
  const opts = parseScoreFlags(values);
  let methods = opts.methods;
  if (!opts.explicitMethods) {
    const head = await readHead(opts.headDir);
    methods = [...(head.info.kind === "group" ? GROUP_METHODS : FLAT_METHODS)];
    if (!opts.train) methods = methods.filter((m) => m !== "mahalanobis");
    if (opts.klVariant === "clean" && !opts.train) methods = methods.filter((m) => m !== "kl");
  }
  const { result, skipped } = await runScoreStage({
    head: opts.headDir,
    id: opts.id,
    ood: opts.ood,
    train: opts.train,
    methods,
    klVariant: opts.klVariant,
    fprConvention: opts.fprConvention,
    odinTemperature: opts.odinTemperature,
    out: opts.out,
    threads: opts.threads,
    force: opts.force,
    ci: opts.ci,
    onStep: (step) => {
      if (Deno.env.get("MOS_QUIET") !== "1") console.error(`score: ${step}`);
    },
  });
  if (skipped) {
    console.error(`score: ${opts.out} is up to date (manifest matches); --force recomputes`);
  } else if (result) {
    for (const n of new Set(result.notes)) console.error(`note: ${n}`);
    for (const [m, s] of Object.entries(result.seconds)) {
      console.error(`time: ${m} ${s.toFixed(2)} s`);
    }
  }
  if (!skipped) console.error(`score: wrote ${opts.out}/metrics.csv and ${opts.out}/scores/`);
  if (opts.ci) {
    // The intervals, one row per method and set (narrow whatever the number of sets); the
    // AUPR intervals stay in metrics_ci.csv.
    const path = `${opts.out}/metrics_ci.csv`;
    console.log(
      renderTerminal(intervalsByRow(parseIntervalsCsv(await Deno.readTextFile(path), path))),
    );
  } else {
    console.log((await Deno.readTextFile(`${opts.out}/metrics.csv`)).trimEnd());
  }
}

if (import.meta.main) await runTask(SPEC, main);
