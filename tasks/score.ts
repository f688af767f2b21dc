/**
 * `deno task score`: scores ID and OOD feature sets with a trained head and writes
 * `scores/<method>/<dataset>.npy`, `metrics.csv`, `timings.csv` and `manifest.json`.
 *
 * @module
 */
import { THREADS_FLAG } from "./_shared/common_flags.ts";
import { DEFAULT_KL_BLOCK_MB } from "../lib/ort/kl_kernel.ts";
import { DEFAULT_MAHALANOBIS_BLOCK_MB } from "../lib/ort/mahalanobis_kernel.ts";
import { readHead } from "../lib/io/head.ts";
import { labelRangeWarnings } from "../lib/extract/label_range.ts";
import { type NamedArg, parseIdAndOod } from "./_shared/named_paths.ts";
import { parseIntervalsCsv } from "../lib/scoring/score_files.ts";
import { intervalsByRow } from "../lib/tables/interval_tables.ts";
import { renderTerminal } from "../lib/tables/terminal.ts";
import {
  defaultMethods,
  detectorNote,
  PAPER_METHODS,
  scoreableMethods,
} from "../lib/detectors/registry.ts";
import { ODIN_DETECTOR as ODIN } from "../lib/detectors/paper_logit.ts";
import { DEFAULT_MAX_LOGITS_MB, type KlVariant } from "../lib/scoring/score_sets.ts";
import {
  metricsConventionFlag,
  metricsConventionFlags,
} from "./_shared/metrics_convention_flag.ts";
import { runScoreStage } from "./_shared/stages.ts";
import { INTERVALS_FLAG_WORDING } from "./_shared/interval_note.ts";
import { choiceFlag, defineTask, type FlagValuesOf, listFlag, runTask } from "./_shared/cli.ts";

/** Methods score can run: the paper's six and every detector that needs no ID-val / OOD-val. */
const SCOREABLE = scoreableMethods();

export const SPEC = defineTask({
  name: "score",
  summary: "Score ID and OOD feature sets with a head; write per-sample scores and metrics.csv.",
  usage: "deno task score --head DIR --id [NAME=]DIR --ood NAME=DIR [--ood NAME=DIR ...] " +
    "[--train DIR] [--methods LIST] [--out DIR]",
  flags: {
    head: {
      type: "string",
      required: true,
      help: "DIR   head directory (weight.npy, bias.npy, head.json)",
    },
    id: {
      type: "string",
      required: true,
      help: "[NAME=]DIR   in-distribution feature set (name default: id)",
    },
    ood: { type: "string", multiple: true, help: "NAME=DIR   an OOD feature set (repeatable)" },
    train: {
      type: "string",
      help: "DIR   training features (Mahalanobis statistics; clean KL templates)",
    },
    methods: {
      type: "string",
      help: `LIST  comma-separated, from ${SCOREABLE.join(",")} ` +
        `(default: every method that fits the head: flat -> ${
          defaultMethods("flat", true).join(",")
        }; group -> ${defaultMethods("group", true).join(",")}; mahalanobis only with --train)`,
    },
    "kl-variant": {
      type: "string",
      default: "paper",
      help: "paper|clean   KL templates from the ID set's labels (paper) or --train predictions",
    },
    ...metricsConventionFlags("paper"),
    "odin-temperature": {
      type: "number",
      default: ODIN.hyperparameters.temperature.default,
      min: 0,
      exclusiveMin: true,
      help: "T   ODIN temperature",
    },
    out: { type: "string", default: "results/score", help: "DIR   output directory" },
    threads: THREADS_FLAG,
    "block-mb": {
      type: "number",
      min: 1,
      integer: true,
      max: 65536,
      help: `MB   bound of KL's template blocks and Mahalanobis's class-mean blocks (default ` +
        `${DEFAULT_KL_BLOCK_MB} / ${DEFAULT_MAHALANOBIS_BLOCK_MB}); lower it for 21k-class heads`,
    },
    "max-logits-mb": {
      type: "number",
      min: 0,
      exclusiveMin: true,
      max: 1048576,
      default: DEFAULT_MAX_LOGITS_MB,
      help: "MB   most logits held in memory; past it msp/odin/energy/mos score straight from " +
        "features (same scores; a 100,000-row set on a 21,843-way head has 8,332 MB)",
    },
    force: { type: "boolean", help: "recompute even when manifest.json matches" },
    ci: {
      type: "boolean",
      help: "bootstrap 95% intervals into metrics_ci.csv; stdout shows them instead of metrics.csv",
    },
    resamples: {
      type: "number",
      default: 1000,
      min: 1,
      integer: true,
      max: 1e6,
      help: "N   bootstrap resamples (with --ci)",
    },
    "ci-seed": {
      type: "number",
      default: 0,
      min: 0,
      integer: true,
      max: 2 ** 53 - 1,
      help: "N   bootstrap seed (with --ci)",
    },
  },
  notes: [
    `${detectorNote(ODIN)}.`,
    "Scores: higher = more in-distribution. metrics.csv values are percent.",
  ],
});

type ScoreFlags = FlagValuesOf<typeof SPEC.flags>;

/** Parses and validates the score flags; exported for tests. */
export function parseScoreFlags(values: ScoreFlags) {
  const sets = parseIdAndOod(values.id, values.ood, "DIR", "features/sun");
  const asDir = (s: NamedArg) => ({ name: s.name, dir: s.path });
  const [id, ood] = [asDir(sets.id), sets.ood.map(asDir)];
  return {
    headDir: values.head,
    id,
    ood,
    train: values.train,
    methods: listFlag(values, "methods", SCOREABLE, PAPER_METHODS),
    explicitMethods: values.methods !== undefined,
    klVariant: choiceFlag<KlVariant>(values, "kl-variant", ["paper", "clean"], "paper"),
    fprConvention: metricsConventionFlag(values, "paper"),
    odinTemperature: values["odin-temperature"],
    out: values.out,
    threads: values.threads,
    blockMb: values["block-mb"],
    maxLogitsMb: values["max-logits-mb"],
    force: values.force,
    ci: values.ci ? { resamples: values.resamples, seed: values["ci-seed"] } : undefined,
  };
}

async function main(values: ScoreFlags): Promise<void> {
  const opts = parseScoreFlags(values);
  for (const w of await labelRangeWarnings(opts.headDir, [opts.id.dir])) {
    console.error(`warning: ${w}`);
  }
  let methods = opts.methods;
  if (!opts.explicitMethods) {
    const head = await readHead(opts.headDir);
    methods = defaultMethods(head.info.kind, opts.train !== undefined);
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
    blockMb: opts.blockMb,
    maxLogitsMb: opts.maxLogitsMb,
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
      renderTerminal(
        intervalsByRow(
          parseIntervalsCsv(await Deno.readTextFile(path), path),
          undefined,
          INTERVALS_FLAG_WORDING,
        ),
      ),
    );
  } else {
    console.log((await Deno.readTextFile(`${opts.out}/metrics.csv`)).trimEnd());
  }
}

if (import.meta.main) await runTask(SPEC, main);
