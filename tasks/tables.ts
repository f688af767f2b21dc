/**
 * `deno task tables`: the only table builder. Reads raw score results (metrics.csv and
 * timings.csv of one or more score directories, head.json accuracies) and renders the paper's
 * Table 1 and Table 3 as CSV and Markdown, optionally beside the published numbers.
 *
 * @module
 */
import { UsageError } from "../lib/errors.ts";
import type { NamedPath } from "../lib/io/containment.ts";
import type { OodGroups } from "../lib/config/ood_groups.ts";
import { PAPER_DATASETS } from "../lib/tables/paper_reference.ts";
import { renderTerminal } from "../lib/tables/terminal.ts";
import { defineTask, type FlagValuesOf, runTask } from "./_shared/cli.ts";
import { writePaperTables } from "./_shared/paper_tables.ts";

export {
  buildPaperTables,
  type PaperTables,
  type PaperTablesOptions,
  type PaperTablesResult,
  stagePaperTables,
  TABLES_MARKERS,
  writePaperTables,
} from "./_shared/paper_tables.ts";

export const SPEC = defineTask({
  name: "tables",
  summary: "Render the paper's Table 1 and Table 3 (CSV + Markdown) from score results.",
  usage: "deno task tables --scores DIR [--scores DIR ...] --out DIR [--flat-head DIR] " +
    "[--group-head DIR] [--datasets LIST] [--near LIST --far LIST] [--compare-paper] " +
    "[--paper-map ours=paper,...]",
  flags: {
    scores: {
      type: "string",
      multiple: true,
      help: "DIR   a score output directory (metrics.csv, timings.csv); repeatable",
    },
    out: {
      type: "string",
      required: true,
      help: "DIR   where table1.{csv,md} and table3.{csv,md} go",
    },
    "flat-head": { type: "string", help: "DIR   flat head (its val accuracy goes in the notes)" },
    "group-head": { type: "string", help: "DIR   group head (its val accuracy)" },
    datasets: { type: "string", help: "LIST  OOD sets in column order (default: as found)" },
    "compare-paper": {
      type: "boolean",
      help: "put the paper's numbers and the differences beside",
    },
    "paper-map": {
      type: "string",
      help: "LIST  ours=paper pairs for comparing sets with other names (e.g. sun-like=sun)",
    },
    title: { type: "string", help: "TEXT  title suffix (e.g. the backbone or 'synthetic data')" },
    near: {
      type: "string",
      help: "LIST  near-OOD sets: adds Near-OOD / Far-OOD averages (with --far), as OpenOOD",
    },
    far: { type: "string", help: "LIST  far-OOD sets (with --near)" },
    ci: {
      type: "boolean",
      help: "also write table1_ci.{csv,md} from metrics_ci.csv (score --ci) of each --scores DIR",
    },
  },
});

type Values = FlagValuesOf<typeof SPEC.flags>;

/** A comma-separated list flag's items, undefined when the flag is not given. */
function items(raw: string | undefined): string[] | undefined {
  return raw?.split(",").map((s) => s.trim()).filter(Boolean);
}

/** `--near` / `--far` as OOD groups (both or neither); checked against the sets later. */
function parseGroupFlags(values: Values): OodGroups | undefined {
  const near = items(values.near);
  const far = items(values.far);
  if (near === undefined && far === undefined) return undefined;
  if (near === undefined || far === undefined) {
    throw new UsageError(
      `--${near === undefined ? "far" : "near"} needs --${near === undefined ? "near" : "far"} ` +
        "too: give both lists, e.g. --near sun,places --far inaturalist,textures",
    );
  }
  return { near, far };
}

function parseMap(raw: string | undefined): Record<string, string> | undefined {
  if (!raw) return undefined;
  const map: Record<string, string> = {};
  for (const pair of raw.split(",")) {
    const [ours, theirs] = pair.split("=");
    if (!ours || !theirs) {
      throw new UsageError(
        `--paper-map "${pair}" must be ours=paper, e.g. novel-groups=inaturalist`,
      );
    }
    if (!PAPER_DATASETS.includes(theirs)) {
      throw new UsageError(
        `--paper-map: "${theirs}" is not a paper set; use one of ${PAPER_DATASETS.join(", ")}`,
      );
    }
    map[ours] = theirs;
  }
  return map;
}

async function main(values: Values): Promise<void> {
  const scoreDirs = values.scores;
  const flatHead = values["flat-head"];
  const groupHead = values["group-head"];
  // Score and head directories are inputs: --out may not be, contain or lie inside one (the
  // pipelines, which write their own score directories under their --out, skip this check).
  const inputs: NamedPath[] = scoreDirs.map((path) => ({ label: "--scores", path }));
  if (flatHead) inputs.push({ label: "--flat-head", path: flatHead });
  if (groupHead) inputs.push({ label: "--group-head", path: groupHead });
  const r = await writePaperTables({
    scoreDirs,
    out: values.out,
    inputs,
    flatHead,
    groupHead,
    datasets: items(values.datasets),
    comparePaper: values["compare-paper"],
    paperMap: parseMap(values["paper-map"]),
    title: values.title,
    ci: values.ci,
    oodGroups: parseGroupFlags(values),
  });
  console.error(`tables: wrote ${r.files.join(", ")}`);
  console.log(renderTerminal(r.table1));
  if (r.ci) console.log(renderTerminal(r.ci));
}

if (import.meta.main) await runTask(SPEC, main);
