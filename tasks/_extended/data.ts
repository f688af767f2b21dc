/**
 * The data table1-extended's detectors read: the feature sets, loaded once per run (lazily, so a
 * fully reused run reads nothing), and per head the logits of every set with the protocol's
 * ID-val / ID-test views.
 *
 * @module
 */
import { groupLayout } from "../../lib/groups.ts";
import type { DetectorHead } from "../../lib/detectors/common.ts";
import { type FeatureSet, readFeatureSet } from "../../lib/io/feature_set.ts";
import { type FeatureStream, openFeatureStream } from "../../lib/io/feature_stream.ts";
import type { Head } from "../../lib/io/head.ts";
import type { Matrix } from "../../lib/matrix.ts";
import { linearLogits } from "../../lib/ort/linear.ts";
import {
  defaultIdValCount,
  gatherRows,
  selectEntries,
  selectRows,
  splitIdRows,
} from "../../lib/scoring/heldout.ts";
import { MAHALANOBIS_LAYERS } from "../../lib/detectors/multilayer_mahalanobis.ts";
import type { Inputs, Protocol } from "./inputs.ts";

/** What one evaluated set carries into a detector. */
export interface SetData {
  name: string;
  features: Matrix;
  logits: Matrix;
  labels: Int32Array;
}

/** The feature sets of a run, shared by every seed and detector. */
export interface Loaded {
  train: FeatureStream;
  id: FeatureSet;
  ood: { name: string; set: FeatureSet }[];
  oodVal?: FeatureSet;
  numClasses: number;
  /** Rows of the ID set (heldout) or of the training set (paper) that form ID-val. */
  valRows: Int32Array;
  /** heldout: the ID-test rows; paper: null (the whole ID set is tested). */
  testRows: Int32Array | null;
  /** Whether every set has the five layer files. */
  hasLayers: boolean;
}

async function hasLayerFiles(dirs: string[]): Promise<boolean> {
  for (const d of dirs) {
    for (const l of MAHALANOBIS_LAYERS) {
      try {
        await Deno.stat(`${d}/${l}.npy`);
      } catch {
        return false;
      }
    }
  }
  return true;
}

/** How the split's errors name the ID-val size: by its flag. */
const ID_VAL_LABEL = { label: "--id-val-count" };

/** Reads the sets and draws the ID-val split of `protocol`. */
export async function loadData(
  inputs: Inputs,
  protocol: Protocol,
  split: { count?: number; seed: number },
): Promise<Loaded> {
  const train = await openFeatureStream(inputs.train);
  const id = await readFeatureSet(inputs.id);
  let maxLabel = -1;
  for (const l of train.labels) if (l > maxLabel) maxLabel = l;
  const numClasses = typeof train.meta.num_classes === "number"
    ? train.meta.num_classes
    : maxLabel + 1;
  const ood = [];
  for (const s of inputs.ood) ood.push({ name: s.name, set: await readFeatureSet(s.dir) });
  const oodVal = inputs.oodVal ? await readFeatureSet(inputs.oodVal) : undefined;
  let valRows: Int32Array;
  let testRows: Int32Array | null = null;
  if (protocol === "heldout") {
    const s = splitIdRows(
      id.features.rows,
      split.count ?? defaultIdValCount(id.features.rows),
      split.seed,
      ID_VAL_LABEL,
    );
    valRows = s.val;
    testRows = s.test;
  } else {
    const n = train.features.rows;
    valRows = splitIdRows(n, split.count ?? defaultIdValCount(n), split.seed, ID_VAL_LABEL).val;
  }
  const dirs = [inputs.train, inputs.id, ...inputs.ood.map((s) => s.dir)];
  if (inputs.oodVal) dirs.push(inputs.oodVal);
  return {
    train,
    id,
    ood,
    oodVal,
    numClasses,
    valRows,
    testRows,
    hasLayers: !!inputs.oodVal && await hasLayerFiles(dirs),
  };
}

/** One head's view of the data: logits of every set and the protocol's ID splits. */
export interface HeadData {
  head: Head;
  dHead: DetectorHead;
  /** ID-val data (heldout: ID-val split; paper: the training sample). */
  idVal: SetData;
  /** The ID set scored for the table (heldout: ID-test; paper: the whole ID set). */
  idTest: SetData;
  /** The whole ID set (the paper's KL variant builds templates from it). */
  idAll: SetData;
  oodVal?: SetData;
  ood: SetData[];
  /** Seconds of the head's forward pass over every set (part of a logit reader's test time). */
  logitsSeconds: number;
}

/** Computes the head's logits of every set (timed: part of a logit reader's test time). */
export async function headData(
  head: Head,
  data: Loaded,
  protocol: Protocol,
  threads?: number,
): Promise<HeadData> {
  const kind = head.info.kind;
  const dHead: DetectorHead = {
    weight: head.weight,
    bias: head.bias,
    kind,
    layout: kind === "group" ? groupLayout(head.info.groups, head.info.num_classes) : undefined,
  };
  let logitsSeconds = 0;
  const logitsOf = async (m: Matrix) => {
    const t0 = performance.now();
    const logits = await linearLogits(m, head.weight, head.bias, { threads });
    logitsSeconds += (performance.now() - t0) / 1000;
    return logits;
  };
  const set = async (name: string, features: Matrix, labels: Int32Array): Promise<SetData> => ({
    name,
    features,
    labels,
    logits: await logitsOf(features),
  });
  const idAll = await set("id", data.id.features, data.id.labels);
  let idVal: SetData;
  let idTest: SetData;
  if (protocol === "heldout") {
    const pick = (rows: Int32Array, name: string): SetData => ({
      name,
      features: selectRows(idAll.features, rows),
      logits: selectRows(idAll.logits, rows),
      labels: selectEntries(idAll.labels, rows),
    });
    idVal = pick(data.valRows, "id-val");
    idTest = pick(data.testRows!, "id");
  } else {
    const features = await gatherRows(data.train.features, data.valRows);
    idVal = await set("id-val", features, selectEntries(data.train.labels, data.valRows));
    idTest = idAll;
  }
  const ood: SetData[] = [];
  for (const s of data.ood) {
    ood.push(await set(s.name, s.set.features, s.set.labels));
  }
  const oodVal = data.oodVal
    ? await set("ood-val", data.oodVal.features, data.oodVal.labels)
    : undefined;
  return { head, dHead, idVal, idTest, idAll, oodVal, ood, logitsSeconds };
}
