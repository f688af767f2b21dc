/**
 * The layer outputs (root.npy, block1..4.npy beside features.npy) of every set, for the detectors
 * that read them (multi-layer Mahalanobis), streamed from the files and arranged as the protocol's
 * views: the training rows its statistics are fitted on, ID-val, ID-test, OOD-val and the OOD sets.
 *
 * @module
 */
import type { LayerSet } from "../../lib/detectors/registry.ts";
import { DataError } from "../../lib/errors.ts";
import { type NpyReader, openNpy } from "../../lib/io/npy.ts";
import { excludeRows, gatherRows } from "../../lib/scoring/heldout.ts";
import { MAHALANOBIS_LAYERS } from "../../lib/detectors/multilayer_mahalanobis.ts";
import type { Loaded } from "./data.ts";
import type { Inputs, Protocol } from "./inputs.ts";

/** Every set's layers, in the protocol's views. */
export interface LayerViews {
  /**
   * The training rows the layer statistics are fitted on. Under the paper protocol the ID-val
   * sample is drawn from the training set and is the regression's ID side, so it is left out.
   */
  train: LayerSet;
  /** Labels of `train`'s rows. */
  trainLabels: Int32Array;
  idVal: LayerSet;
  /** The ID rows scored for the table (heldout: ID-test; paper: the whole ID set). */
  idTest: LayerSet;
  oodVal?: LayerSet;
  ood: Map<string, LayerSet>;
  close(): void;
}

/** Opens `dir`'s layer files as streamed row sources. */
async function openLayers(dir: string, readers: NpyReader[]): Promise<Record<string, NpyReader>> {
  const rows: Record<string, NpyReader> = {};
  for (const l of MAHALANOBIS_LAYERS) {
    const r = await openNpy(`${dir}/${l}.npy`);
    readers.push(r);
    if (r.shape.length !== 2) {
      throw new DataError(`${dir}/${l}.npy must be N x D, got shape (${r.shape.join(", ")})`);
    }
    rows[l] = r;
  }
  return rows;
}

/** Applies `f` to every layer of `set`. */
async function mapLayers(
  set: Record<string, NpyReader>,
  f: (r: NpyReader) => LayerSet[string] | Promise<LayerSet[string]>,
): Promise<LayerSet> {
  const out: LayerSet = {};
  for (const l of MAHALANOBIS_LAYERS) out[l] = await f(set[l]);
  return out;
}

/** Opens the layer files of every set of `inputs` as the views of `protocol`. */
export async function openLayerViews(
  inputs: Inputs,
  data: Loaded,
  protocol: Protocol,
): Promise<LayerViews> {
  const readers: NpyReader[] = [];
  const close = () => readers.forEach((r) => r.close());
  try {
    const train = await openLayers(inputs.train, readers);
    for (const l of MAHALANOBIS_LAYERS) {
      if (train[l].rows !== data.train.features.rows) {
        throw new DataError(
          `${inputs.train}/${l}.npy has ${train[l].rows} rows but features.npy has ` +
            `${data.train.features.rows}; re-extract the layers with the features`,
        );
      }
    }
    const id = await openLayers(inputs.id, readers);
    const ood = new Map<string, LayerSet>();
    for (const s of inputs.ood) ood.set(s.name, await openLayers(s.dir, readers));
    const oodVal = inputs.oodVal ? await openLayers(inputs.oodVal, readers) : undefined;
    const valRows = data.valRows;
    if (protocol === "heldout") {
      return {
        train,
        trainLabels: data.train.labels,
        idVal: await mapLayers(id, (r) => gatherRows(r, valRows)),
        // ID-test is every ID row outside ID-val, in order (splitIdRows sorts both).
        idTest: await mapLayers(id, (r) => excludeRows(r, valRows)),
        oodVal,
        ood,
        close,
      };
    }
    const keep = new Uint8Array(data.train.labels.length).fill(1);
    for (const r of valRows) keep[r] = 0;
    return {
      train: await mapLayers(train, (r) => excludeRows(r, valRows)),
      trainLabels: data.train.labels.filter((_, i) => keep[i] === 1),
      idVal: await mapLayers(train, (r) => gatherRows(r, valRows)),
      idTest: id,
      oodVal,
      ood,
      close,
    };
  } catch (e) {
    close();
    throw e;
  }
}
