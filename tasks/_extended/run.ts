/**
 * table1-extended's run: trains (or reuses) the heads, runs (or reuses) every detector stage per
 * seed, and stages the tables of `<out>/<protocol>/`, committed together with
 * table1_extended.csv last.
 *
 * @module
 */
import { DataError, UsageError } from "../../lib/errors.ts";
import { type Detector, detectorByKey, type Params } from "../../lib/detectors/registry.ts";
import { readHead } from "../../lib/io/head.ts";
import { hashInputs } from "../../lib/io/manifest.ts";
import { MAHALANOBIS_LAYERS } from "../../lib/detectors/multilayer_mahalanobis.ts";
import { type Table, TEST_TIME_NOTE } from "../../lib/tables/render.ts";
import type { ResultDir } from "../_shared/result_dir.ts";
import { runTrainStage } from "../_shared/stages.ts";
import { type HeadData, headData, loadData, type Loaded } from "./data.ts";
import { runDetectorStage, type StageResult } from "./detector_stage.ts";
import type { Inputs, Protocol } from "./inputs.ts";
import { type LayerViews, openLayerViews } from "./layers.ts";
import { log } from "./log.ts";
import { detectorPlan, headKindOf } from "./plan.ts";
import { extendedTables } from "./tables.ts";

/** The run's settings, all checked. */
export interface RunOptions {
  inputs: Inputs;
  protocol: Protocol;
  /** Bootstrap settings, or null without --ci. */
  ci: { resamples: number; seed: number } | null;
  nSeeds: number;
  threads?: number;
  split: { seed: number; count?: number };
  /** Whether --methods was given (then a detector that cannot run is an error, not a note). */
  requested: boolean;
  methods: string[];
  force: boolean;
  /**
   * Heads already trained on `inputs.train` (one seed, `inputs.seed`), e.g. by the paper
   * pipeline: used as they are instead of training a flat and a taxonomy head here.
   */
  heads?: { flat: string; group: string };
}

type Heads = Record<"flat" | "group", string[]>;

/** Trains (or reuses) the heads each seed needs: a flat and/or a taxonomy group head. */
async function trainHeads(out: string, o: RunOptions, seeds: number[]): Promise<Heads> {
  if (o.heads) {
    if (seeds.length !== 1) throw new UsageError("Given heads serve one seed; use --seeds 1");
    return { flat: [o.heads.flat], group: [o.heads.group] };
  }
  const heads: Heads = { flat: [], group: [] };
  const kinds = new Set(o.methods.map((m) => headKindOf(detectorByKey(m))));
  for (const s of seeds) {
    for (const [kind, groups] of [["flat", "flat"], ["group", "taxonomy"]] as const) {
      if (!kinds.has(kind)) continue;
      const headDir = `${out}/heads/${kind}-seed${s}`;
      log(`${kind} head, seed ${s} -> ${headDir}`);
      const r = await runTrainStage({
        features: o.inputs.train,
        out: headDir,
        groups,
        overrides: o.inputs.overrides,
        seed: s,
        val: o.inputs.id,
        threads: o.threads,
        force: o.force,
        label: `${kind} head (seed ${s})`,
      });
      log(
        `  ${r.skipped ? "reused" : "trained"}` +
          (r.valAccuracy === null ? "" : `, ID accuracy ${(100 * r.valAccuracy).toFixed(2)}%`),
      );
      heads[kind].push(headDir);
    }
  }
  return heads;
}

/** Why a detector cannot run on these inputs, or null when it can. */
function missingData(det: Detector<unknown, Params>, inputs: Inputs, data: Loaded): string | null {
  if (det.needs.oodVal && !inputs.oodVal) return "it needs an OOD-val set (--ood-val DIR)";
  if (det.needs.layers && !data.hasLayers) {
    return `the feature sets lack ${MAHALANOBIS_LAYERS.map((l) => `${l}.npy`).join(", ")} ` +
      "(extract with --outputs features,root,block1,block2,block3,block4)";
  }
  return null;
}

/** What the detector stages yield for the tables. */
interface StageOutcomes {
  results: Map<string, StageResult[]>;
  /** The stages' notes, then one line per method skipped for missing data. */
  notes: string[];
  /** Held-out protocol: the sizes of ID-val and ID-test. */
  split?: { val: number; test: number };
}

/** Runs (or reuses) every requested detector stage of every seed. */
async function runStages(
  out: string,
  o: RunOptions,
  seeds: number[],
  heads: Heads,
): Promise<StageOutcomes> {
  const { inputs, protocol } = o;
  let data: Loaded | undefined;
  const loaded = async () => data ??= await loadData(inputs, protocol, o.split);
  let views: LayerViews | undefined;
  const layers = async () => views ??= await openLayerViews(inputs, await loaded(), protocol);
  const inputPaths: Record<string, string> = { train: inputs.train, id: inputs.id };
  for (const s of inputs.ood) inputPaths[`ood:${s.name}`] = s.dir;
  if (inputs.oodVal) inputPaths.oodVal = inputs.oodVal;
  const dataHashes = await hashInputs(inputPaths);
  const notes = new Set<string>();
  const skipped: string[] = [];
  const results = new Map<string, StageResult[]>();
  try {
    for (let si = 0; si < seeds.length; si++) {
      const hdCache = new Map<string, Promise<HeadData>>();
      const hdFor = (kind: "flat" | "group") => {
        if (!hdCache.has(kind)) {
          hdCache.set(
            kind,
            (async () =>
              headData(await readHead(heads[kind][si]), await loaded(), protocol, o.threads))(),
          );
        }
        return hdCache.get(kind)!;
      };
      for (const key of o.methods) {
        const det = detectorByKey(key);
        const kind = headKindOf(det);
        const why = det.needs.layers || det.needs.oodVal
          ? missingData(det, inputs, await loaded())
          : null;
        if (why) {
          if (o.requested) throw new DataError(`${key}: ${why}`);
          if (si === 0) skipped.push(`${key} skipped: ${why}.`);
          continue;
        }
        const r = await runDetectorStage({
          det,
          dir: `${out}/${protocol}/seed-${seeds[si]}/${key}`,
          protocol,
          inputs,
          seed: seeds[si],
          headDir: heads[kind][si],
          dataHashes,
          split: o.split,
          force: o.force,
          prepare: async () => {
            const hd = await hdFor(kind);
            const env = { protocol, hd, data: await loaded(), inputs, seed: seeds[si], layers };
            return { hd, plan: detectorPlan(det, { ...env, threads: o.threads }) };
          },
          log,
        });
        if (r.note) notes.add(r.note);
        if (!results.has(key)) results.set(key, []);
        results.get(key)!.push(r);
      }
    }
    const d = protocol === "heldout" ? await loaded() : undefined;
    const split = d ? { val: d.valRows.length, test: d.testRows!.length } : undefined;
    return { results, notes: [...notes, ...skipped], split };
  } finally {
    views?.close();
    data?.train.close();
  }
}

/** Trains the heads, runs every detector stage and stages the tables into `dir`. */
export async function runExtended(
  dir: ResultDir,
  o: RunOptions,
): Promise<{ markdown: Table; files: string[] }> {
  const { inputs, protocol } = o;
  const seeds = Array.from({ length: o.nSeeds }, (_, i) => inputs.seed + i);
  const heads = await trainHeads(dir.out, o, seeds);
  const { results, notes, split } = await runStages(dir.out, o, seeds, heads);
  const { markdown, files } = extendedTables(
    {
      methods: o.methods,
      results,
      seeds,
      oodNames: inputs.ood.map((s) => s.name),
      oodGroups: inputs.oodGroups,
      fprConvention: inputs.fprConvention,
      ci: o.ci,
    },
    {
      protocol,
      synthetic: inputs.synthetic,
      protocolNote: protocolNote(o, split),
      notes,
      testTimeNote: TEST_TIME_NOTE,
    },
  );
  const written = await dir.commit(async (w) => {
    for (const [name, text] of files) await w.text(name, text);
  }, [`${protocol}/table1_extended.csv`]);
  return { markdown, files: written };
}

/** The table's first note: how the protocol splits and tunes. */
function protocolNote(o: RunOptions, split?: { val: number; test: number }): string {
  if (split) {
    return `Held-out protocol: ID split by a seeded permutation (seed ${o.split.seed}) into ` +
      `ID-val (${split.val} rows) and ID-test (${split.test} rows, ` +
      `the ID side of every metric); each detector's grid (OpenOOD's) searched on ID-val vs ` +
      `OOD-val by AUROC, chosen values in hyperparameters.csv; test metrics computed once.`;
  }
  return "Paper protocol: every detector at its default hyperparameters (OpenOOD's defaults; " +
    `ODIN T = ${o.inputs.odinTemperature}, Energy T = 1); the whole ID set is tested. Detectors ` +
    "that fit on ID validation data use a seeded sample of the training set.";
}
