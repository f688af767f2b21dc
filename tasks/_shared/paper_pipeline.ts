/**
 * The paper's main experiment as one pipeline: train the flat and the group (taxonomy) head,
 * score the five flat-head methods and MOS, render Table 1 and Table 3. Used by `deno task demo`
 * (synthetic data) and `deno task table1` (real features). Every stage is reused when its
 * manifest matches. The output directory is locked for the whole run and the tables are staged and
 * committed together (tasks/_shared/result_dir.ts).
 *
 * @module
 */
import type { OodGroups } from "../../lib/config/ood_groups.ts";
import type { FprConvention } from "../../lib/metrics/fpr95.ts";
import { defaultMethods, methodLabel } from "../../lib/detectors/registry.ts";
import { type KlVariant, scoreNotes } from "../../lib/scoring/score_sets.ts";
import type { HyperRuleOverrides } from "../../lib/train/hyperrule.ts";
import {
  buildPaperTables,
  type PaperTablesOptions,
  type PaperTablesResult,
  stagePaperTables,
  TABLES_MARKERS,
} from "./paper_tables.ts";
import type { ResultDir } from "./result_dir.ts";
import { runScoreStage, runTrainStage } from "./stages.ts";

/** Inputs of {@linkcode runPaperPipeline}. */
export interface PaperPipelineOptions {
  train: string;
  id: { name: string; dir: string };
  ood: { name: string; dir: string }[];
  /** The locked output directory (withResultDir): heads, scores and the tables go there. */
  dir: ResultDir;
  overrides: HyperRuleOverrides;
  seed: number;
  klVariant: KlVariant;
  fprConvention: FprConvention;
  odinTemperature: number;
  threads?: number;
  force?: boolean;
  comparePaper?: boolean;
  paperMap?: Record<string, string>;
  /**
   * Groups of the group head: a label space's level 0 computed in code (e.g. ImageNet-21k's);
   * default "taxonomy", the ImageNet-1k super-classes of the class table.
   */
  groups?: number[][];
  /** Near-OOD / far-OOD sets of the config: their averages in the tables. */
  oodGroups?: OodGroups;
  title?: string;
  notes?: string[];
  /** Stage announcements (stderr). */
  log: (message: string) => void;
}

/** Runs the pipeline; returns the rendered tables. */
export async function runPaperPipeline(o: PaperPipelineOptions): Promise<PaperTablesResult> {
  const tables = await buildPaperTables(await runStages(o));
  const files = await o.dir.commit((w) => stagePaperTables(w, tables), TABLES_MARKERS);
  return { ...tables, files };
}

/** Trains and scores both heads; returns what the table builder needs. */
async function runStages(o: PaperPipelineOptions): Promise<PaperTablesOptions> {
  const out = o.dir.out;
  const heads = { flat: `${out}/heads/flat`, group: `${out}/heads/group` };
  const taxonomy = o.groups ?? "taxonomy";
  for (const [kind, groups] of [["flat", "flat"], ["group", taxonomy]] as const) {
    const what = typeof groups === "string" ? groups : `${groups.length} groups`;
    o.log(`training the ${kind} head (${what}) -> ${heads[kind]}`);
    const r = await runTrainStage({
      features: o.train,
      out: heads[kind],
      groups,
      overrides: o.overrides,
      seed: o.seed,
      val: o.id.dir,
      threads: o.threads,
      force: o.force,
      label: `${kind} head`,
    });
    const acc = r.valAccuracy === null ? "" : `, ID accuracy ${(100 * r.valAccuracy).toFixed(2)}%`;
    o.log(`${kind} head ${r.skipped ? "reused (manifest matches)" : "trained"}${acc}`);
  }
  const scoreDirs = { flat: `${out}/scores/flat`, group: `${out}/scores/group` };
  const common = {
    id: o.id,
    ood: o.ood,
    train: o.train,
    klVariant: o.klVariant,
    fprConvention: o.fprConvention,
    odinTemperature: o.odinTemperature,
    threads: o.threads,
    force: o.force,
  };
  // The paper's six methods, split by the head each one reads (registry order = Table 1's).
  const methods = { flat: defaultMethods("flat", true), group: defaultMethods("group", true) };
  o.log(`scoring ${methods.flat.map(methodLabel).join(", ")} -> ${scoreDirs.flat}`);
  const flat = await runScoreStage({
    ...common,
    head: heads.flat,
    methods: methods.flat,
    out: scoreDirs.flat,
    onStep: (s) => o.log(`  ${s}`),
  });
  if (flat.skipped) o.log("  reused (manifest matches)");
  o.log(`scoring ${methods.group.map(methodLabel).join(", ")} -> ${scoreDirs.group}`);
  const group = await runScoreStage({
    ...common,
    head: heads.group,
    methods: methods.group,
    out: scoreDirs.group,
    onStep: (s) => o.log(`  ${s}`),
  });
  if (group.skipped) o.log("  reused (manifest matches)");
  // From the registry and the options alone: a reused score stage gets the same notes.
  const scored = { ...common, methods: [...methods.flat, ...methods.group] };
  const notes = [...(o.notes ?? []), ...new Set(scoreNotes(scored))];
  return {
    scoreDirs: [scoreDirs.flat, scoreDirs.group],
    flatHead: heads.flat,
    groupHead: heads.group,
    datasets: o.ood.map((s) => s.name),
    comparePaper: o.comparePaper,
    paperMap: o.paperMap,
    oodGroups: o.oodGroups,
    title: o.title,
    notes,
  };
}
