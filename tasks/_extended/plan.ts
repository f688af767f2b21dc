/**
 * One plan per detector, built from its registry entry alone (lib/detectors/registry.ts): its
 * label, head kind, parameter grid, note, fit and score. The plan adapts the entry to
 * table1-extended's data (the protocol's ID-val / OOD-val views, the layer files) and to the
 * held-out runners of lib/scoring/heldout.ts.
 *
 * @module
 */
import {
  type Detector,
  type DetectorContext,
  detectorNote,
  type HyperSpec,
  type HyperValue,
  type LayerSet,
  methodKeys,
  needsOf,
  type Params,
} from "../../lib/detectors/registry.ts";
import { knnScoresForKs } from "../../lib/detectors/knn.ts";
import { expandGrid, type TunableDetector, type ValData } from "../../lib/scoring/heldout.ts";
import type { HeadData, Loaded, SetData } from "./data.ts";
import type { Inputs, Protocol } from "./inputs.ts";
import type { LayerViews } from "./layers.ts";

/** Every method key, in Table 1's order (the default of --methods). */
export const ALL_METHODS: readonly string[] = methodKeys();

/** A detector ready for lib/scoring/heldout.ts's runners. */
export interface DetectorPlan {
  key: string;
  label: string;
  tunable: TunableDetector<Params, Fitted, SetData>;
  /** Grid searched under the held-out protocol (expanded), defaults under the paper's. */
  candidates: Params[];
  /** The table note of the run with the chosen parameters (undefined: none). */
  noteFor(chosen: Params): string | undefined;
}

/** A fitted model with the parameters it was fitted with. */
export interface Fitted {
  model: unknown;
  params: Params;
}

/** What a plan reads besides its entry. */
export interface PlanEnv {
  protocol: Protocol;
  hd: HeadData;
  data: Loaded;
  inputs: Inputs;
  seed: number;
  threads?: number;
  /** The layer outputs of every set (opened on first use). */
  layers: () => Promise<LayerViews>;
}

/** The head kind a detector's scores come from: a group head only for those that need one. */
export function headKindOf(det: Detector<unknown, Params>): "flat" | "group" {
  return needsOf(det).head === "group" ? "group" : "flat";
}

/** The defaults (paper protocol) or the expanded grid (held-out protocol) of `hyper`. */
export function candidatesFor(hyper: Record<string, HyperSpec>, protocol: Protocol): Params[] {
  if (protocol === "paper") {
    return [Object.fromEntries(Object.entries(hyper).map(([k, s]) => [k, s.default]))];
  }
  return expandGrid(Object.fromEntries(Object.entries(hyper).map(([k, s]) => [k, s.grid])));
}

/**
 * The entry's parameters for `D`-dimensional features: principal-subspace sizes (`dim` of ViM,
 * Residual) are OpenOOD's for 2048-d features, so on narrower features they are scaled by
 * D / 2048 to stay a proper subspace; `defaults` (e.g. the config's ODIN temperature) replace
 * the entry's defaults. Returns the note that says so when `dim` was scaled.
 */
export function adaptedHyperparameters(
  det: { label: string; hyperparameters: Record<string, HyperSpec> },
  D: number,
  defaults: Params = {},
): { hyper: Record<string, HyperSpec>; note?: string } {
  const hyper: Record<string, HyperSpec> = { ...det.hyperparameters };
  for (const [k, v] of Object.entries(defaults)) {
    if (hyper[k]) hyper[k] = { ...hyper[k], default: v };
  }
  const dim = hyper.dim;
  if (!dim || typeof dim.default !== "number" || D >= 2048) return { hyper };
  const scale = (v: HyperValue) =>
    typeof v === "number" ? Math.max(1, Math.min(D - 1, Math.round((v * D) / 2048))) : v;
  hyper.dim = { default: scale(dim.default), grid: [...new Set(dim.grid.map(scale))] };
  const note = `${det.label}: principal dimension scaled by D / 2048 for ${D}-d features ` +
    `(default ${hyper.dim.default}, grid ${hyper.dim.grid.join(", ")}).`;
  return { hyper, note };
}

/** The plan of registry entry `det` under `env`. */
export function detectorPlan(det: Detector<unknown, Params>, env: PlanEnv): DetectorPlan {
  const { protocol, hd, inputs } = env;
  const needs = needsOf(det);
  const adapted = adaptedHyperparameters(
    det,
    hd.head.weight.cols,
    inputs.methodDefaults?.[det.key],
  );
  const candidates = candidatesFor(adapted.hyper, protocol);
  const synthetic = needs.layers && inputs.synthetic
    ? "The demo's layers are synthetic (random ReLU projections of the features)."
    : undefined;
  const layersOf = async (d: SetData): Promise<LayerSet | undefined> =>
    needs.layers ? layerSetOf(await env.layers(), d.name) : undefined;
  const knnSweep = new Map<SetData, Map<number, Float32Array>>();
  return {
    key: det.key,
    label: det.label,
    candidates,
    noteFor: (chosen) =>
      [detectorNote(det, protocol, chosen), adapted.note, synthetic]
        .filter((n) => n !== undefined).join(" ") || undefined,
    tunable: {
      candidates,
      fit: async (p, val) => ({
        model: await det.fit(await fitContext(det, env, p, val, layersOf)),
        params: p,
      }),
      score: async ({ model, params }, d) => {
        // KNN's sweep: one neighbour search per validation set serves every k of the grid.
        if (det.key === "knn" && candidates.length > 1 && d.name.endsWith("-val")) {
          let per = knnSweep.get(d);
          if (!per) {
            const ks = candidates.map((c) => Number(c.k));
            const all = await knnScoresForKs(env.data.train.features, d.features, ks, {
              threads: env.threads,
            });
            per = new Map(ks.map((k, j) => [k, all[j]]));
            knnSweep.set(d, per);
          }
          return per.get(Number(params.k))!;
        }
        return await det.score(model, d.features, d.logits, await layersOf(d));
      },
    },
  };
}

/** The layer set of the set named `name` (the SetData of every protocol view is named). */
function layerSetOf(v: LayerViews, name: string): LayerSet {
  if (name === "id-val") return v.idVal;
  if (name === "id") return v.idTest;
  if (name === "ood-val" && v.oodVal) return v.oodVal;
  const s = v.ood.get(name);
  if (!s) throw new RangeError(`no layer outputs for set ${name}`);
  return s;
}

/** What the entry's fit reads, from the run's data and the protocol's validation views. */
async function fitContext(
  det: Detector<unknown, Params>,
  env: PlanEnv,
  params: Params,
  val: ValData<SetData>,
  layersOf: (d: SetData) => Promise<LayerSet | undefined>,
): Promise<DetectorContext<Params>> {
  const { hd, data, inputs } = env;
  const needs = needsOf(det, params);
  let train: DetectorContext["train"] = {
    features: data.train.features,
    labels: data.train.labels,
    file: `${inputs.train}/features.npy`,
  };
  if (needs.layers) {
    // The layer statistics leave out the paper protocol's ID-val sample (see LayerViews).
    const v = await env.layers();
    train = { ...train, labels: v.trainLabels, layers: v.train };
  }
  return {
    head: hd.dHead,
    protocol: env.protocol,
    hyperparameters: params,
    train,
    idVal: { ...val.id, layers: await layersOf(val.id) },
    id: { ...hd.idAll, file: `${inputs.id}/labels.npy` },
    oodVal: { ...val.ood, layers: await layersOf(val.ood) },
    chunk: { threads: env.threads },
    seed: env.seed,
  };
}
