/**
 * One detector stage of table1-extended: a detector's scores for one head seed under one protocol,
 * in `<out>/<protocol>/seed-<s>/<method>/` (scores/<set>.npy, result.json, manifest.json), run or
 * reused through the stage runner (lib/io/stage.ts).
 *
 * @module
 */
import { type Detector, fitDataOf, needsOf, type Params } from "../../lib/detectors/registry.ts";
import { writeJsonAtomic } from "../../lib/io/atomic.ts";
import { readNpy, writeNpy } from "../../lib/io/npy.ts";
import { runStage } from "../../lib/io/stage.ts";
import {
  type DetectorSites,
  fixedEvaluate,
  heldoutEvaluate,
  type Trial,
  type ValData,
} from "../../lib/scoring/heldout.ts";
import type { HeadData, SetData } from "./data.ts";
import type { Inputs, Protocol } from "./inputs.ts";
import type { DetectorPlan } from "./plan.ts";

/**
 * Bumped when a stage's bytes change for the same config (2: Mahalanobis scores at the authors'
 * -0.5 scale; Residual fitted on ID-val under the held-out protocol; 3: result.json's seconds
 * include the head's forward pass for methods that read logits, as Table 1's test time does;
 * 4: labels, notes and grids from the detector registry).
 */
const STAGE_VERSION = 4;

/** A detector stage's outcome. */
export interface StageResult {
  label: string;
  note: string | null;
  chosen: Params;
  trials: Trial<Params>[];
  seconds: number;
  id: Float32Array;
  ood: Map<string, Float32Array>;
}

/** Reads a stage's result.json and scores. */
export async function readStage(dir: string, oodNames: string[]): Promise<StageResult> {
  const info = JSON.parse(await Deno.readTextFile(`${dir}/result.json`));
  const read = async (name: string) => {
    const a = await readNpy(`${dir}/scores/${name}.npy`);
    return a.data as Float32Array;
  };
  const ood = new Map<string, Float32Array>();
  for (const n of oodNames) ood.set(n, await read(n));
  return {
    label: info.label,
    note: info.note ?? null,
    chosen: info.chosen,
    trials: info.trials,
    seconds: info.seconds,
    id: await read("id"),
    ood,
  };
}

/** What a detector stage needs. */
export interface DetectorStageOptions {
  det: Detector<unknown, Params>;
  /** `<out>/<protocol>/seed-<s>/<method>`. */
  dir: string;
  protocol: Protocol;
  inputs: Inputs;
  seed: number;
  headDir: string;
  /** Hashes of the feature sets (train, id, ood:<name>, oodVal). */
  dataHashes: Record<string, string>;
  split: { seed: number; count?: number };
  force: boolean;
  /** The head's data and the detector's plan, built only when the stage runs. */
  prepare(): Promise<{ hd: HeadData; plan: DetectorPlan }>;
  log(message: string): void;
}

/** Runs (or reuses) one detector stage. */
export async function runDetectorStage(o: DetectorStageOptions): Promise<StageResult> {
  const { det, protocol, inputs } = o;
  const config = {
    version: STAGE_VERSION,
    method: det.key,
    protocol,
    split: protocol === "heldout" || needsOf(det).idVal
      ? { seed: o.split.seed, count: o.split.count ?? "default" }
      : null,
    defaults: inputs.methodDefaults?.[det.key] ?? null,
    hyperparameters: det.hyperparameters,
    seed: o.seed,
  };
  const oodNames = inputs.ood.map((s) => s.name);
  const run = await runStage({
    dir: o.dir,
    stage: "detector",
    purpose: "table1-extended",
    label: "--out",
    config,
    seed: o.seed,
    hashes: o.dataHashes,
    inputs: { head: o.headDir },
    force: o.force,
    markers: ["result.json"],
    reuse: () => readStage(o.dir, oodNames),
    compute: async () => {
      const { hd, plan } = await o.prepare();
      o.log(`seed ${o.seed} ${det.key}: ${plan.candidates.length} candidate(s)`);
      return await evaluatePlan(plan, hd, protocol, inputs, det);
    },
    write: async (w, r) => {
      const write = (name: string, s: Float32Array) =>
        writeNpy(`${w.path}/scores/${name}.npy`, { dtype: "<f4", shape: [s.length], data: s });
      await Deno.mkdir(`${w.path}/scores`);
      await write("id", r.id);
      for (const [n, s] of r.ood) await write(n, s);
      await writeJsonAtomic(`${w.path}/result.json`, {
        method: det.key,
        label: r.label,
        protocol,
        chosen: r.chosen,
        trials: r.trials,
        seconds: r.seconds,
        note: r.note,
      });
    },
    wallSeconds: (r) => r.seconds,
  });
  if (run.reused) o.log(`seed ${o.seed} ${det.key}: reused`);
  return run.result;
}

/** The input file of each evaluated set, for the overflow guard's messages. */
function fileOf(name: string, protocol: Protocol, inputs: Inputs): string {
  const dir = name === "id" || (name === "id-val" && protocol === "heldout")
    ? inputs.id
    : name === "id-val"
    ? inputs.train
    : name === "ood-val"
    ? inputs.oodVal
    : inputs.ood.find((s) => s.name === name)?.dir;
  return `${dir}/features.npy`;
}

/**
 * Fits and scores the plan: under the held-out protocol, its grid searched on ID-val vs OOD-val;
 * under the paper's, its defaults fitted on the training sample (and OOD-val where needed).
 */
async function evaluatePlan(
  plan: DetectorPlan,
  hd: HeadData,
  protocol: Protocol,
  inputs: Inputs,
  det: Detector<unknown, Params>,
): Promise<StageResult> {
  // Test time as Table 1 defines it (lib/tables/render.ts TEST_TIME_NOTE): the head's forward
  // pass, computed once per head in headData, counts for every method that reads the logits.
  const readsLogits = needsOf(det).logits === true;
  const t0 = performance.now() - (readsLogits ? 1000 * hd.logitsSeconds : 0);
  const sites: DetectorSites<SetData> = {
    method: plan.key,
    describe: (d) => ({ set: d.name, file: fileOf(d.name, protocol, inputs) }),
    fit: fitDataOf(det, protocol) === "train"
      ? { set: "train", file: `${inputs.train}/features.npy` }
      : undefined,
  };
  const test = { id: hd.idTest, ood: hd.ood.map((s) => ({ name: s.name, data: s })) };
  const done = (
    chosen: Params,
    trials: Trial<Params>[],
    id: Float32Array,
    ood: Map<string, Float32Array>,
  ): StageResult => ({
    label: plan.label,
    note: plan.noteFor(chosen) ?? null,
    chosen,
    trials,
    seconds: (performance.now() - t0) / 1000,
    id,
    ood,
  });
  if (protocol === "heldout") {
    const val: ValData<SetData> = { id: hd.idVal, ood: hd.oodVal! };
    const r = await heldoutEvaluate(plan.tunable, val, test, sites);
    return done(r.search.best, r.search.trials, r.scores.id, r.scores.ood);
  }
  const chosen = plan.candidates[0];
  const val = { id: hd.idVal, ood: hd.oodVal ?? hd.idVal };
  const { scores } = await fixedEvaluate(plan.tunable, chosen, val, test, sites);
  return done(chosen, [], scores.id, scores.ood);
}
