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
import type { KlVariant } from "../../lib/scoring/score_sets.ts";
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
  for (const [kind, groups] of [["flat", "flat"], ["group", "taxonomy"]] as const) {
    o.log(`training the ${kind} head (${groups}) -> ${heads[kind]}`);
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
  o.log(`scoring MSP, ODIN, Mahalanobis, Energy, KL matching -> ${scoreDirs.flat}`);
  const flat = await runScoreStage({
    ...common,
    head: heads.flat,
    methods: ["msp", "odin", "mahalanobis", "energy", "kl"],
    out: scoreDirs.flat,
    onStep: (s) => o.log(`  ${s}`),
  });
  if (flat.skipped) o.log("  reused (manifest matches)");
  o.log(`scoring MOS -> ${scoreDirs.group}`);
  const group = await runScoreStage({
    ...common,
    head: heads.group,
    methods: ["mos"],
    out: scoreDirs.group,
    onStep: (s) => o.log(`  ${s}`),
  });
  if (group.skipped) o.log("  reused (manifest matches)");
  const notes = [...(o.notes ?? [])];
  const all = [...(flat.result?.notes ?? []), ...(group.result?.notes ?? [])];
  if (all.length === 0) {
    notes.push(
      "odin: temperature 1000 without input perturbation (as the released code ran it)",
    );
  } else notes.push(...new Set(all));
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
