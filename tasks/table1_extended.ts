/**
 * `deno task table1-extended`: Table 1 for every detector (the paper's six, multi-layer
 * Mahalanobis and every detector of lib/detectors/registry.ts) x every OOD set, in the paper's
 * layout, with optional bootstrap CI columns (`--ci`) and mean +- sd over several trained heads
 * (`--seeds N`), under the paper's protocol (default) or the held-out protocol
 * (`--protocol heldout`, lib/scoring/heldout.ts). On real cached features (experiments/table1.yaml
 * plus `--ood-val DIR`) or on the synthetic benchmark (`--demo`).
 *
 * Stages are reused when their manifest matches: heads (runTrainStage) and each detector's
 * scores per protocol and seed (`<out>/<protocol>/seed-<s>/<method>/`).
 *
 * @module
 */
import { DataError, UsageError } from "../lib/errors.ts";
import { parsePaperExperiment } from "../lib/config/paper_experiment.ts";
import {
  type Detector,
  DETECTORS,
  fitDataOf,
  type HyperSpec,
  type HyperValue,
} from "../lib/detectors/registry.ts";
import type { DetectorHead } from "../lib/detectors/common.ts";
import { knnScoresForKs } from "../lib/detectors/knn.ts";
import { groupLayout } from "../lib/groups.ts";
import { writeJsonAtomic } from "../lib/io/atomic.ts";
import type { NamedPath } from "../lib/io/containment.ts";
import { type FeatureSet, readFeatureSet } from "../lib/io/feature_set.ts";
import { type FeatureStream, openFeatureStream } from "../lib/io/feature_stream.ts";
import { type Head, readHead } from "../lib/io/head.ts";
import { buildManifest, hashInputs, manifestMatches, writeManifest } from "../lib/io/manifest.ts";
import { commitStaging, createStaging, discardStaging } from "../lib/io/staging.ts";
import { type NpyReader, openNpy, readNpy, writeNpy } from "../lib/io/npy.ts";
import type { Matrix } from "../lib/matrix.ts";
import {
  averageDistributions,
  type BootstrapDistribution,
  bootstrapDistribution,
  distributionIntervals,
  type MetricIntervals,
} from "../lib/metrics/bootstrap.ts";
import { evaluate } from "../lib/metrics/evaluate.ts";
import { metricsConventionNote } from "../lib/metrics/convention.ts";
import type { FprConvention } from "../lib/metrics/fpr95.ts";
import { mosFast, softmaxScoreFast } from "../lib/ort/logit_scores.ts";
import { linearLogits, type RowSource } from "../lib/ort/linear.ts";
import { klMatchingFromLogits } from "../lib/ort/kl_kernel.ts";
import {
  fitMahalanobisFast,
  mahalanobisFast,
  type MahalanobisModel,
} from "../lib/ort/mahalanobis_kernel.ts";
import { klTemplates, klTemplatesClean } from "../lib/scores/kl_matching.ts";
import {
  defaultIdValCount,
  type DetectorSites,
  excludeRows,
  expandGrid,
  fixedEvaluate,
  gatherRows,
  heldoutEvaluate,
  type Params,
  selectEntries,
  selectRows,
  splitIdRows,
  type Trial,
  type TunableDetector,
  type ValData,
} from "../lib/scoring/heldout.ts";
import {
  combineLayerScores,
  fitLayerCombiner,
  fitLayerStatistics,
  type LayerRows,
  type LayerScores,
  layerScores,
  type LayerStatistics,
  MAHALANOBIS_LAYERS,
  selectLayerScores,
} from "../lib/scoring/multilayer_mahalanobis.ts";
import { softmaxRows } from "../lib/softmax.ts";
import { rootMeanSquare, syntheticLayers } from "../lib/synthetic/layers.ts";
import {
  type ExtendedEntry,
  type ExtendedMethod,
  extendedTable1,
  PERCENT_METRICS,
  type PercentMetric,
} from "../lib/tables/extended_table.ts";
import { PAPER_METHOD_LABELS } from "../lib/tables/paper_reference.ts";
import { AVERAGE_LABEL, type OodGroups, summaryBlocks } from "../lib/tables/ood_groups.ts";
import { renderCsv, renderMarkdown, type Table, TEST_TIME_NOTE } from "../lib/tables/render.ts";
import { renderTerminal, TERMINAL_WIDTH, wrapText } from "../lib/tables/terminal.ts";
import {
  choiceFlag,
  type FlagValues,
  listFlag,
  numberFlag,
  runTask,
  type TaskSpec,
} from "./_shared/cli.ts";
import { writeReport } from "./_shared/report_stage.ts";
import { removeOwnManifest, type ResultDir, withResultDir } from "./_shared/result_dir.ts";
import {
  metricsConventionFlag,
  metricsConventionFlags,
} from "./_shared/metrics_convention_flag.ts";
import { runTrainStage } from "./_shared/stages.ts";
import { inversionNotesOf } from "./_shared/inversion_notes.ts";
import { writeSyntheticSets } from "./_shared/synthetic_sets.ts";
import { readDemoConfig } from "./_shared/demo_config.ts";

/** Key of the multi-layer Mahalanobis detector. */
const MULTILAYER = "mahalanobis-multilayer";
const PAPER_KEYS = ["msp", "odin", "mahalanobis", "energy", "kl", "mos"];
/** The paper methods that score from the head's logits. */
const LOGIT_METHODS = ["msp", "odin", "energy", "kl", "mos"];
const ALL_METHODS = [
  ...PAPER_KEYS.slice(0, 3),
  MULTILAYER,
  ...PAPER_KEYS.slice(3),
  ...DETECTORS.map((d) => d.key),
];
/**
 * OpenOOD's sweeps for the paper methods with a hyperparameter: odin.yml (temperature; its noise
 * grid does not apply, ODIN runs with eps = 0) and ebo.yml, whose `temperature_list` is [1]: the
 * held-out protocol does not tune Energy's temperature either.
 */
const PAPER_GRIDS: Record<string, Record<string, HyperSpec>> = {
  odin: { temperature: { default: 1000, grid: [1, 10, 100, 1000] } },
  energy: { temperature: { default: 1, grid: [1] } },
};
/**
 * Bumped when a stage's bytes change for the same config (2: Mahalanobis scores at the authors'
 * -0.5 scale; Residual fitted on ID-val under the held-out protocol; 3: result.json's seconds
 * include the head's forward pass for methods that read logits, as Table 1's test time does).
 */
const STAGE_VERSION = 3;

export const SPEC: TaskSpec = {
  name: "table1-extended",
  summary: "Table 1 for every detector x every OOD set, with CIs, seeds and a held-out protocol.",
  usage: "deno task table1-extended [--demo] [--protocol paper|heldout] [--ci] [--seeds N] " +
    "[--methods LIST] [--data DIR] [--config FILE] [--ood-val DIR] [--out DIR]",
  flags: {
    demo: { type: "boolean", help: "run on the seeded synthetic benchmark (no real features)" },
    protocol: {
      type: "string",
      default: "paper",
      help:
        "paper|heldout   paper: defaults, full ID set; heldout: grid search on ID-val + OOD-val",
    },
    ci: { type: "boolean", help: "add bootstrap 95% CI columns (ID and OOD resampled apart)" },
    resamples: { type: "string", default: "1000", help: "N   bootstrap resamples" },
    "ci-seed": { type: "string", default: "0", help: "N   seed of the bootstrap" },
    seeds: { type: "string", default: "1", help: "N   heads trained per kind (mean ± sd)" },
    seed: { type: "string", help: "N   first head seed (default: the config's, or 0)" },
    methods: { type: "string", help: "LIST  detectors to run (default: all)" },
    config: {
      type: "string",
      default: "experiments/table1.yaml",
      help: "FILE  experiment config (real data)",
    },
    data: { type: "string", help: "DIR   data root of the feature sets (real data)" },
    "ood-val": {
      type: "string",
      help: "DIR   OOD-val feature set (real data; needed by heldout and multi-layer Mahalanobis)",
    },
    "id-val-count": {
      type: "string",
      help: "N   ID-val rows (default: a tenth of the set, at most 5000 as OpenOOD)",
    },
    "split-seed": { type: "string", default: "0", help: "N   seed of the ID-val split" },
    ...metricsConventionFlags("the config's score.fpr_convention; paper with --demo"),
    out: {
      type: "string",
      help: "DIR   output (default results/table1-extended, or -demo with --demo)",
    },
    steps: { type: "string", help: "N   head training steps (demo default 2000)" },
    dim: { type: "string", default: "256", help: "D   demo feature dimension" },
    "train-per-class": { type: "string", default: "30", help: "N   demo training rows per class" },
    "val-per-class": { type: "string", default: "10", help: "N   demo ID rows per class" },
    "ood-count": { type: "string", default: "3000", help: "N   demo rows per OOD set" },
    threads: { type: "string", help: "N   onnxruntime threads (default: all cores)" },
    force: { type: "boolean", help: "recompute every stage" },
  },
  notes: [
    `Detectors: ${ALL_METHODS.join(", ")}.`,
    "Real data: the six feature sets of experiments/table1.yaml (see `deno task table1`), an",
    "OOD-val set (--ood-val, disjoint from the test sets) and, for multi-layer Mahalanobis,",
    "root.npy and block1..4.npy beside features.npy (extract with --outputs features,root,...).",
  ],
};

type Protocol = "paper" | "heldout";

interface SetRef {
  name: string;
  dir: string;
}

interface Inputs {
  train: string;
  id: string;
  ood: SetRef[];
  oodVal?: string;
  synthetic: boolean;
  seed: number;
  overrides: { steps?: number; batch?: number; lr?: number; warmup?: number; mixupAlpha?: number };
  fprConvention: FprConvention;
  odinTemperature: number;
  /** Near-OOD / far-OOD sets of the config (experiments/table1.yaml or demo.yaml). */
  oodGroups?: OodGroups;
}

/** What one evaluated set carries into a detector. */
interface SetData {
  name: string;
  features: Matrix;
  logits: Matrix;
  labels: Int32Array;
}

function log(m: string): void {
  console.error(`table1-extended: ${m}`);
}

function shaped(name: string, dir: string): SetRef {
  return { name, dir };
}

// ---------------------------------------------------------------------------------------------
// Inputs: the synthetic benchmark (with synthetic layers) or real feature sets.

/** Sizes and seed of the synthetic benchmark, from the flags (checked before --out exists). */
interface DemoOptions {
  seed: number;
  dim: number;
  trainPerClass: number;
  valPerClass: number;
  oodCount: number;
  steps: number;
  fprConvention: FprConvention;
  /** Near-OOD / far-OOD groups of experiments/demo.yaml. */
  oodGroups?: OodGroups;
}

function demoOptions(values: FlagValues): DemoOptions {
  return {
    seed: numberFlag(values, "seed", { min: 0, integer: true }) ?? 0,
    dim: numberFlag(values, "dim", { min: 2, integer: true, max: 65536 })!,
    trainPerClass: numberFlag(values, "train-per-class", { min: 1, integer: true })!,
    valPerClass: numberFlag(values, "val-per-class", { min: 1, integer: true })!,
    oodCount: numberFlag(values, "ood-count", { min: 1, integer: true })!,
    steps: numberFlag(values, "steps", { min: 1, integer: true }) ?? 2000,
    fprConvention: metricsConventionFlag(values, "paper"),
  };
}

async function demoInputs(o: DemoOptions, out: string, threads?: number): Promise<Inputs> {
  const { seed, dim, trainPerClass, valPerClass, oodCount } = o;
  const root = `${out}/features`;
  log(`synthetic benchmark (seed ${seed}, D ${dim}) -> ${root}`);
  const sets = await writeSyntheticSets(root, {
    seed,
    dim,
    trainPerClass,
    valPerClass,
    oodCount,
    oodVal: true,
  });
  await writeDemoLayers(root, [sets.train, sets.id, sets.oodVal!, ...sets.ood.map((s) => s.dir)], {
    seed,
    threads,
  });
  return {
    train: sets.train,
    id: sets.id,
    ood: sets.ood.map((s) => shaped(s.name, s.dir)),
    oodVal: sets.oodVal,
    synthetic: true,
    seed,
    overrides: { steps: o.steps },
    oodGroups: o.oodGroups,
    fprConvention: o.fprConvention,
    odinTemperature: 1000,
  };
}

/** Writes the synthetic layers (lib/synthetic/layers.ts) beside each set's features, once. */
async function writeDemoLayers(
  root: string,
  dirs: string[],
  o: { seed: number; threads?: number },
): Promise<void> {
  const config = { layers: "synthetic v1", seed: o.seed, dirs };
  const marker = `${root}/layers`;
  await Deno.mkdir(marker, { recursive: true });
  const inputs = await hashInputs({ benchmark: `${root}/manifest.json` });
  if (await manifestMatches(marker, { stage: "synthetic-layers", config, inputs })) return;
  // Invalidate the stale layers first (a crash below then means "redo"), never a foreign manifest.
  await removeOwnManifest(marker, "synthetic-layers");
  const t0 = performance.now();
  const train = await readFeatureSet(dirs[0]);
  const rms = rootMeanSquare(train.features);
  for (let k = 0; k < dirs.length; k++) {
    const set = k === 0 ? train : await readFeatureSet(dirs[k]);
    const layers = await syntheticLayers(set.features, {
      seed: o.seed,
      stream: k,
      rms,
      threads: o.threads,
    });
    for (const l of layers) {
      await writeNpy(`${dirs[k]}/${l.name}.npy`, {
        dtype: "<f4",
        shape: [l.matrix.rows, l.matrix.cols],
        data: l.matrix.data,
      });
    }
  }
  await writeManifest(
    marker,
    buildManifest({
      stage: "synthetic-layers",
      config,
      seed: o.seed,
      inputs,
      wallSeconds: (performance.now() - t0) / 1000,
    }),
  );
}

async function realInputs(values: FlagValues): Promise<Inputs & { read: NamedPath[] }> {
  const configPath = values.config as string;
  let text: string;
  try {
    text = await Deno.readTextFile(configPath);
  } catch {
    throw new DataError(`Config not found: ${configPath}; pass --config FILE or use --demo`);
  }
  const exp = parsePaperExperiment(text, configPath);
  const root = (values.data as string | undefined) ?? exp.dataRoot;
  const dir = (name: string) => `${root}/${name}`;
  const check = async (d: string, what: string) => {
    try {
      await Deno.stat(`${d}/meta.json`);
    } catch {
      throw new DataError(
        `Feature set "${what}" not found at ${d}; extract it with \`deno task extract\` (README, ` +
          `"Real data"), or run with --demo for the synthetic benchmark`,
      );
    }
  };
  await check(dir(exp.sets.train), "train");
  await check(dir(exp.sets.id), "id");
  for (const o of exp.sets.ood) await check(dir(o.dir), o.name);
  const oodVal = values["ood-val"] as string | undefined;
  if (oodVal) await check(oodVal, "--ood-val");
  const read: NamedPath[] = [
    { label: "--config", path: configPath },
    { label: values.data === undefined ? `data_root of ${configPath}` : "--data", path: root },
    { label: 'feature set "train"', path: dir(exp.sets.train) },
    { label: 'feature set "id"', path: dir(exp.sets.id) },
    ...exp.sets.ood.map((o) => ({ label: `feature set "${o.name}"`, path: dir(o.dir) })),
    ...(oodVal ? [{ label: "--ood-val", path: oodVal }] : []),
  ];
  return {
    read,
    train: dir(exp.sets.train),
    id: dir(exp.sets.id),
    ood: exp.sets.ood.map((o) => shaped(o.name, dir(o.dir))),
    oodVal,
    synthetic: false,
    seed: numberFlag(values, "seed", { min: 0, integer: true }) ?? exp.train.seed,
    overrides: {
      steps: numberFlag(values, "steps", { min: 1, integer: true }) ?? exp.train.steps,
      batch: exp.train.batch,
      lr: exp.train.lr,
      warmup: exp.train.warmup,
      mixupAlpha: exp.train.mixup,
    },
    fprConvention: metricsConventionFlag(values, exp.score.fprConvention),
    odinTemperature: exp.score.odinTemperature,
    oodGroups: exp.oodGroups,
  };
}

// ---------------------------------------------------------------------------------------------
// Loaded data, shared by every seed and detector (read lazily: a fully reused run reads nothing).

interface Loaded {
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

async function loadData(
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
    );
    valRows = s.val;
    testRows = s.test;
  } else {
    const n = train.features.rows;
    valRows = splitIdRows(n, split.count ?? defaultIdValCount(n), split.seed).val;
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

// ---------------------------------------------------------------------------------------------
// Per-head data: logits of every set, the val / test views.

interface HeadData {
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

async function headData(
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

// ---------------------------------------------------------------------------------------------
// Head-independent statistics: penultimate Mahalanobis, per-layer Mahalanobis scores.

interface LayerData {
  stats: LayerStatistics[];
  id: LayerScores;
  ood: Map<string, LayerScores>;
  oodVal: LayerScores;
  /** paper protocol: the training sample's layer scores (the regression's ID rows). */
  trainSample?: LayerScores;
}

async function openLayers(
  dir: string,
): Promise<{ rows: Record<string, LayerRows>; close(): void }> {
  const readers: NpyReader[] = [];
  const rows: Record<string, LayerRows> = {};
  try {
    for (const l of MAHALANOBIS_LAYERS) {
      const r = await openNpy(`${dir}/${l}.npy`);
      readers.push(r);
      if (r.shape.length !== 2) {
        throw new DataError(`${dir}/${l}.npy must be N x D, got shape (${r.shape.join(", ")})`);
      }
      rows[l] = r;
    }
  } catch (e) {
    readers.forEach((r) => r.close());
    throw e;
  }
  return { rows, close: () => readers.forEach((r) => r.close()) };
}

async function computeLayerData(
  inputs: Inputs,
  data: Loaded,
  protocol: Protocol,
  threads?: number,
): Promise<LayerData> {
  const opts = { threads };
  const train = await openLayers(inputs.train);
  try {
    for (const l of MAHALANOBIS_LAYERS) {
      if (train.rows[l].rows !== data.train.features.rows) {
        throw new DataError(
          `${inputs.train}/${l}.npy has ${train.rows[l].rows} rows but features.npy has ` +
            `${data.train.features.rows}; re-extract the layers with the features`,
        );
      }
    }
    let fitRows: Record<string, LayerRows> = train.rows;
    let labels = data.train.labels;
    let trainSample: LayerScores | undefined;
    if (protocol === "paper") {
      // The training sample is the regression's ID side, so it is held out of the statistics.
      fitRows = {};
      for (const l of MAHALANOBIS_LAYERS) {
        fitRows[l] = excludeRows(train.rows[l] as RowSource, data.valRows);
      }
      const keep = new Uint8Array(labels.length).fill(1);
      for (const r of data.valRows) keep[r] = 0;
      labels = labels.filter((_, i) => keep[i] === 1);
    }
    log(`multi-layer Mahalanobis: fitting ${MAHALANOBIS_LAYERS.length} layers`);
    const stats = await fitLayerStatistics(
      fitRows,
      MAHALANOBIS_LAYERS,
      labels,
      data.numClasses,
      opts,
    );
    if (protocol === "paper") {
      const sample: Record<string, Matrix> = {};
      for (const l of MAHALANOBIS_LAYERS) {
        sample[l] = await gatherRows(train.rows[l] as RowSource, data.valRows);
      }
      trainSample = await layerScores(stats, sample, opts);
    }
    const scoreDir = async (dir: string): Promise<LayerScores> => {
      const s = await openLayers(dir);
      try {
        return await layerScores(stats, s.rows, opts);
      } finally {
        s.close();
      }
    };
    const ood = new Map<string, LayerScores>();
    for (const s of inputs.ood) ood.set(s.name, await scoreDir(s.dir));
    return {
      stats,
      id: await scoreDir(inputs.id),
      ood,
      oodVal: await scoreDir(inputs.oodVal!),
      trainSample,
    };
  } finally {
    train.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Detectors as TunableDetector<Params, model, SetData>.

interface DetectorPlan {
  key: string;
  label: string;
  headKind: "flat" | "group";
  tunable: TunableDetector<Params, unknown, SetData>;
  /** Grid searched under the held-out protocol (expanded), defaults under the paper's. */
  candidates: Params[];
  note?: string;
}

interface Shared {
  mahalanobis?: MahalanobisModel;
}

function candidatesFor(hyper: Record<string, HyperSpec>, protocol: Protocol): Params[] {
  if (protocol === "paper") {
    return [Object.fromEntries(Object.entries(hyper).map(([k, s]) => [k, s.default]))];
  }
  return expandGrid(Object.fromEntries(Object.entries(hyper).map(([k, s]) => [k, s.grid])));
}

function paperPlan(
  key: string,
  protocol: Protocol,
  hd: HeadData,
  data: Loaded,
  shared: Shared,
  inputs: Inputs,
  threads?: number,
): DetectorPlan {
  const label = PAPER_METHOD_LABELS[key] ?? key;
  const opts = { threads };
  const hyper = { ...(PAPER_GRIDS[key] ?? {}) };
  if (key === "odin") {
    hyper.temperature = { ...hyper.temperature, default: inputs.odinTemperature };
  }
  const candidates = candidatesFor(hyper, protocol);
  const plain = (f: (p: Params, d: SetData) => Float32Array | Promise<Float32Array>) => ({
    candidates,
    fit: (p: Params) => p,
    score: (p: unknown, d: SetData) => f(p as Params, d),
  });
  switch (key) {
    case "msp":
      return {
        key,
        label,
        headKind: "flat",
        candidates,
        tunable: plain((_p, d) => softmaxScoreFast(d.logits, "max-softmax", 1, opts)),
      };
    case "odin":
      return {
        key,
        label,
        headKind: "flat",
        candidates,
        tunable: plain((p, d) =>
          softmaxScoreFast(d.logits, "max-softmax", p.temperature as number, opts)
        ),
        note: "ODIN without input perturbation (eps = 0; it needs backbone gradients).",
      };
    case "energy":
      return {
        key,
        label,
        headKind: "flat",
        candidates,
        tunable: plain((p, d) =>
          softmaxScoreFast(d.logits, "energy", p.temperature as number, opts)
        ),
      };
    case "mos":
      return {
        key,
        label,
        headKind: "group",
        candidates,
        tunable: plain((_p, d) => mosFast(hd.dHead.layout!, d.logits, opts)),
      };
    case "mahalanobis":
      return {
        key,
        label,
        headKind: "flat",
        candidates,
        tunable: {
          candidates,
          fit: async () => {
            shared.mahalanobis ??= await fitMahalanobisFast(
              data.train.features,
              data.train.labels,
              data.numClasses,
              opts,
            );
            return shared.mahalanobis;
          },
          score: (m, d) => mahalanobisFast(m as MahalanobisModel, d.features, opts),
        },
        note: "Mahalanobis: penultimate features, class means + shared covariance of the " +
          "training set.",
      };
    case "kl":
      return {
        key,
        label,
        headKind: "flat",
        candidates,
        tunable: {
          candidates,
          // Paper protocol: templates from the evaluated ID set's labels (as released); held
          // out: from the predicted labels of ID-val, which the test never sees.
          fit: (_p, val) =>
            protocol === "paper"
              ? klTemplates(softmaxRows(hd.idAll.logits), hd.idAll.labels, hd.idAll.logits.cols)
              : klTemplatesClean(softmaxRows(val.id.logits)),
          score: (t, d) => klMatchingFromLogits(d.logits, t as Matrix, opts),
        },
        note: protocol === "paper"
          ? "KL matching: paper variant (templates from the ground-truth labels of the " +
            "evaluated ID set, as the released code)."
          : "KL matching: templates from the predicted labels of ID-val.",
      };
  }
  throw new RangeError(`not a paper method: ${key}`);
}

function multilayerPlan(
  protocol: Protocol,
  synthetic: boolean,
  layers: () => Promise<LayerData>,
  data: Loaded,
): DetectorPlan {
  const candidates: Params[] = [{}];
  // The layer scores of a set, found by its name (the SetData of every protocol view is named).
  const of = async (d: SetData): Promise<LayerScores> => {
    const ld = await layers();
    if (d.name === "id-val") {
      return protocol === "heldout" ? selectLayerScores(ld.id, data.valRows) : ld.trainSample!;
    }
    if (d.name === "id") {
      return protocol === "heldout" ? selectLayerScores(ld.id, data.testRows!) : ld.id;
    }
    if (d.name === "ood-val") return ld.oodVal;
    const s = ld.ood.get(d.name);
    if (!s) throw new RangeError(`no layer scores for set ${d.name}`);
    return s;
  };
  return {
    key: MULTILAYER,
    label: "Mahalanobis (5 layers + LR)",
    headKind: "flat",
    candidates,
    tunable: {
      candidates,
      fit: async (_p, val) => fitLayerCombiner(await of(val.id), await of(val.ood)),
      score: async (m, d) =>
        combineLayerScores(m as ReturnType<typeof fitLayerCombiner>, await of(d)),
    },
    note: "Mahalanobis (5 layers + LR): root and blocks 1-4, class means + shared covariance " +
      "per layer, combined by a logistic regression (C by 5-fold CV) fitted on " +
      (protocol === "heldout"
        ? "ID-val"
        : "a held-out sample of the training set (left out of the layer statistics)") +
      " against the OOD-val set, NOT on FGSM-perturbed ID images as the released code did; no " +
      "input preprocessing." +
      (synthetic
        ? " The demo's layers are synthetic (random ReLU projections of the features)."
        : ""),
  };
}

function registryPlan(
  det: Detector,
  protocol: Protocol,
  hd: HeadData,
  data: Loaded,
  seed: number,
  threads?: number,
): DetectorPlan {
  // Principal-subspace sizes (ViM, Residual) are OpenOOD's for 2048-d features; on narrower
  // features they are scaled by D / 2048 so the subspace stays a proper one.
  const D = hd.head.weight.cols;
  let note: string | undefined;
  const hyper: Record<string, HyperSpec> = { ...det.hyperparameters };
  const dim = hyper.dim;
  if (dim && typeof dim.default === "number" && D < 2048) {
    const scale = (v: HyperValue) =>
      typeof v === "number" ? Math.max(1, Math.min(D - 1, Math.round((v * D) / 2048))) : v;
    hyper.dim = { default: scale(dim.default), grid: [...new Set(dim.grid.map(scale))] };
    note = `${det.label}: principal dimension scaled by D / 2048 for ${D}-d features ` +
      `(default ${hyper.dim.default}, grid ${hyper.dim.grid.join(", ")}).`;
  }
  const candidates = candidatesFor(hyper, protocol);
  const knnSweep = new Map<SetData, Map<number, Float32Array>>();
  return {
    key: det.key,
    label: det.label,
    headKind: det.needs.head === "group" ? "group" : "flat",
    candidates,
    note: [det.note, note].filter((n) => n !== undefined).join(" ") || undefined,
    tunable: {
      candidates,
      fit: (p, val) =>
        det.fit({
          head: hd.dHead,
          protocol,
          hyperparameters: p,
          train: { features: data.train.features, labels: data.train.labels },
          idVal: { features: val.id.features, labels: val.id.labels, logits: val.id.logits },
          chunk: { threads },
          seed,
        }),
      score: async (m, d) => {
        // KNN's sweep: one neighbour search per validation set serves every k of the grid.
        if (det.key === "knn" && candidates.length > 1 && d.name.endsWith("-val")) {
          let per = knnSweep.get(d);
          if (!per) {
            const ks = candidates.map((c) => c.k as number);
            const all = await knnScoresForKs(data.train.features, d.features, ks, { threads });
            per = new Map(ks.map((k, j) => [k, all[j]]));
            knnSweep.set(d, per);
          }
          return per.get((m as { k: number }).k)!;
        }
        return det.score(m, d.features, d.logits);
      },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// One detector stage: run or reuse.

interface StageResult {
  chosen: Params;
  trials: Trial<Params>[];
  seconds: number;
  id: Float32Array;
  ood: Map<string, Float32Array>;
}

async function readStage(dir: string, oodNames: string[]): Promise<StageResult> {
  const info = JSON.parse(await Deno.readTextFile(`${dir}/result.json`));
  const read = async (name: string) => {
    const a = await readNpy(`${dir}/scores/${name}.npy`);
    return a.data as Float32Array;
  };
  const ood = new Map<string, Float32Array>();
  for (const n of oodNames) ood.set(n, await read(n));
  return {
    chosen: info.chosen,
    trials: info.trials,
    seconds: info.seconds,
    id: await read("id"),
    ood,
  };
}

async function runStage(
  plan: DetectorPlan,
  hd: HeadData,
  protocol: Protocol,
  inputs: Inputs,
): Promise<StageResult> {
  // Test time as Table 1 defines it (lib/tables/render.ts TEST_TIME_NOTE): the head's forward
  // pass, computed once per head in headData, counts for every method that reads the logits.
  const readsLogits = LOGIT_METHODS.includes(plan.key) ||
    DETECTORS.find((d) => d.key === plan.key)?.needs.logits === true;
  const t0 = performance.now() - (readsLogits ? 1000 * hd.logitsSeconds : 0);
  // What the overflow guard of the runners (lib/scoring/heldout.ts) names for each set.
  const fileOf = (name: string): string => {
    const dir = name === "id" || (name === "id-val" && protocol === "heldout")
      ? inputs.id
      : name === "id-val"
      ? inputs.train
      : name === "ood-val"
      ? inputs.oodVal
      : inputs.ood.find((s) => s.name === name)?.dir;
    return `${dir}/features.npy`;
  };
  const registered = DETECTORS.find((d) => d.key === plan.key);
  const fitsOnTrain = plan.key === "mahalanobis" || plan.key === MULTILAYER ||
    (registered !== undefined && fitDataOf(registered, protocol) === "train");
  const sites: DetectorSites<SetData> = {
    method: plan.key,
    describe: (d) => ({ set: d.name, file: fileOf(d.name) }),
    fit: fitsOnTrain ? { set: "train", file: `${inputs.train}/features.npy` } : undefined,
  };
  const test = { id: hd.idTest, ood: hd.ood.map((s) => ({ name: s.name, data: s })) };
  if (protocol === "heldout") {
    const val: ValData<SetData> = { id: hd.idVal, ood: hd.oodVal! };
    const r = await heldoutEvaluate(plan.tunable, val, test, sites);
    return {
      chosen: r.search.best,
      trials: r.search.trials,
      seconds: (performance.now() - t0) / 1000,
      id: r.scores.id,
      ood: r.scores.ood,
    };
  }
  // Paper protocol: the defaults, fitted on the training sample (and OOD-val where needed).
  const chosen = plan.candidates[0];
  const val = { id: hd.idVal, ood: hd.oodVal ?? hd.idVal };
  const { scores } = await fixedEvaluate(plan.tunable, chosen, val, test, sites);
  const seconds = (performance.now() - t0) / 1000;
  return { chosen, trials: [], seconds, id: scores.id, ood: scores.ood };
}

// ---------------------------------------------------------------------------------------------

function paramText(p: Params): string {
  const e = Object.entries(p);
  return e.length ? e.map(([k, v]) => `${k}=${v}`).join(" ") : "(none)";
}

function pct(iv: MetricIntervals): Record<PercentMetric, { low: number; high: number }> {
  const s = (i: { low: number; high: number }) => ({ low: 100 * i.low, high: 100 * i.high });
  return {
    auroc: s(iv.auroc),
    fpr95: s(iv.fpr95),
    aupr_in: s(iv.auprIn),
    aupr_out: s(iv.auprOut),
  };
}

async function main(values: FlagValues): Promise<void> {
  const t0 = performance.now();
  const demo = values.demo === true;
  const protocol = choiceFlag<Protocol>(values, "protocol", ["paper", "heldout"], "paper");
  const ci = values.ci === true;
  const resamples = numberFlag(values, "resamples", { min: 1, integer: true })!;
  const ciSeed = numberFlag(values, "ci-seed", { min: 0, integer: true })!;
  const nSeeds = numberFlag(values, "seeds", { min: 1, integer: true, max: 100 })!;
  const threads = numberFlag(values, "threads", { min: 1, integer: true });
  const splitSeed = numberFlag(values, "split-seed", { min: 0, integer: true })!;
  const idValCount = numberFlag(values, "id-val-count", { min: 1, integer: true });
  // Checked before anything runs (a bad value, or the two names disagreeing).
  metricsConventionFlag(values, "paper");
  const requested = values.methods !== undefined;
  const methods = listFlag(values, "methods", ALL_METHODS, ALL_METHODS);
  const force = values.force === true;
  const out = (values.out as string | undefined) ??
    (demo ? "results/table1-extended-demo" : "results/table1-extended");
  if (!demo && values["ood-val"] === undefined && protocol === "heldout") {
    throw new UsageError(
      "--protocol heldout needs --ood-val DIR (an OOD set disjoint from the test sets) on real " +
        "data; or use --demo",
    );
  }
  // Every flag, the config and the feature sets are checked before --out is created.
  const demoOpts = demo
    ? { ...demoOptions(values), oodGroups: (await readDemoConfig()).oodGroups }
    : undefined;
  const real = demo ? undefined : await realInputs(values);
  const { markdown, files } = await withResultDir(
    out,
    { purpose: SPEC.name, inputs: real?.read ?? [] },
    async (dir) => {
      const run = await runExtended(dir, {
        inputs: real ?? await demoInputs(demoOpts!, out, threads),
        protocol,
        ci,
        resamples,
        ciSeed,
        nSeeds,
        threads,
        splitSeed,
        idValCount,
        requested,
        methods,
        force,
      });
      const report = await writeReport(dir, (w) => console.error(`warning: ${w}`));
      return { ...run, files: [...run.files, report.path] };
    },
  );
  log(`wrote ${files.join(", ")} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  // The compact view last, after a blank line, so that download and stage lines on stderr
  // do not bury it; the full table is in the .md / .csv files.
  console.log("\n" + renderTerminal(markdown));
  // Demo only: why a method ranks a synthetic set above ID (only for AUROC < 50).
  if (demo) {
    for (const note of await inversionNotesOf([`${out}/${protocol}/metrics.csv`])) {
      console.log(wrapText(note, TERMINAL_WIDTH, "", "  ").join("\n"));
    }
  }
}

/** The run's settings, all checked (see main). */
interface RunOptions {
  inputs: Inputs;
  protocol: Protocol;
  ci: boolean;
  resamples: number;
  ciSeed: number;
  nSeeds: number;
  threads?: number;
  splitSeed: number;
  idValCount?: number;
  /** Whether --methods was given (then a detector that cannot run is an error, not a note). */
  requested: boolean;
  methods: string[];
  force: boolean;
}

/**
 * Trains (or reuses) the heads, runs (or reuses) every detector stage and stages the tables of
 * `<out>/<protocol>/` into `dir`, committed together with table1_extended.csv last.
 */
async function runExtended(
  dir: ResultDir,
  o: RunOptions,
): Promise<{ markdown: Table; files: string[] }> {
  const { inputs, protocol, ci, resamples, ciSeed, nSeeds, threads, splitSeed, idValCount } = o;
  const { requested, methods, force } = o;
  const out = dir.out;

  const seeds = Array.from({ length: nSeeds }, (_, i) => inputs.seed + i);
  const heads: Record<"flat" | "group", string[]> = { flat: [], group: [] };
  for (const s of seeds) {
    for (const [kind, groups] of [["flat", "flat"], ["group", "taxonomy"]] as const) {
      const headDir = `${out}/heads/${kind}-seed${s}`;
      const needed = methods.some((m) =>
        (m === "mos" || DETECTORS.find((d) => d.key === m)?.needs.head === "group") ===
          (kind === "group")
      );
      if (!needed) continue;
      log(`${kind} head, seed ${s} -> ${headDir}`);
      const r = await runTrainStage({
        features: inputs.train,
        out: headDir,
        groups,
        overrides: inputs.overrides,
        seed: s,
        val: inputs.id,
        threads,
        force,
        label: `${kind} head (seed ${s})`,
      });
      log(
        `  ${r.skipped ? "reused" : "trained"}` +
          (r.valAccuracy === null ? "" : `, ID accuracy ${(100 * r.valAccuracy).toFixed(2)}%`),
      );
      heads[kind].push(headDir);
    }
  }

  let data: Loaded | undefined;
  const loaded = async () =>
    data ??= await loadData(inputs, protocol, { count: idValCount, seed: splitSeed });
  let layerData: LayerData | undefined;
  const layersOnce = async () =>
    layerData ??= await computeLayerData(inputs, await loaded(), protocol, threads);
  const shared: Shared = {};
  const oodNames = inputs.ood.map((s) => s.name);
  const inputPaths: Record<string, string> = { train: inputs.train, id: inputs.id };
  for (const s of inputs.ood) inputPaths[`ood:${s.name}`] = s.dir;
  if (inputs.oodVal) inputPaths.oodVal = inputs.oodVal;
  const dataHashes = await hashInputs(inputPaths);

  const notes = new Set<string>();
  const skipped: string[] = [];
  const results = new Map<string, StageResult[]>();
  const labels = new Map<string, string>();
  const base = `${out}/${protocol}`;
  try {
    for (let si = 0; si < seeds.length; si++) {
      const hdCache = new Map<string, HeadData>();
      const hdFor = async (kind: "flat" | "group") => {
        let hd = hdCache.get(kind);
        if (!hd) {
          hd = await headData(await readHead(heads[kind][si]), await loaded(), protocol, threads);
          hdCache.set(kind, hd);
        }
        return hd;
      };
      for (const key of methods) {
        const det = DETECTORS.find((d) => d.key === key);
        const kind = key === "mos" || det?.needs.head === "group" ? "group" : "flat";
        const headDir = heads[kind][si];
        const stageDir = `${base}/seed-${seeds[si]}/${key}`;
        const isMulti = key === MULTILAYER;
        if (isMulti) {
          const d = await loaded();
          if (!d.hasLayers || !inputs.oodVal) {
            const why = !inputs.oodVal
              ? "it needs an OOD-val set (--ood-val DIR)"
              : `the feature sets lack ${MAHALANOBIS_LAYERS.map((l) => `${l}.npy`).join(", ")} ` +
                "(extract with --outputs features,root,block1,block2,block3,block4)";
            if (requested) throw new DataError(`${MULTILAYER}: ${why}`);
            if (si === 0) skipped.push(`${MULTILAYER} skipped: ${why}.`);
            continue;
          }
        }
        const config = {
          version: STAGE_VERSION,
          method: key,
          protocol,
          split: protocol === "heldout" || isMulti || det?.needs.idVal
            ? { seed: splitSeed, count: idValCount ?? "default" }
            : null,
          odin_temperature: key === "odin" ? inputs.odinTemperature : null,
          hyperparameters: det?.hyperparameters ?? PAPER_GRIDS[key] ?? null,
          seed: seeds[si],
        };
        const inputsKey = { ...dataHashes, ...(await hashInputs({ head: headDir })) };
        let r: StageResult;
        if (
          !force &&
          await manifestMatches(stageDir, { stage: "detector", config, inputs: inputsKey })
        ) {
          r = await readStage(stageDir, oodNames);
          log(`seed ${seeds[si]} ${key}: reused`);
        } else {
          const hd = await hdFor(kind);
          const plan = det
            ? registryPlan(det, protocol, hd, await loaded(), seeds[si], threads)
            : isMulti
            ? multilayerPlan(protocol, inputs.synthetic, layersOnce, await loaded())
            : paperPlan(key, protocol, hd, await loaded(), shared, inputs, threads);
          log(`seed ${seeds[si]} ${key}: ${plan.candidates.length} candidate(s)`);
          r = await runStage(plan, hd, protocol, inputs);
          // Staged: the stage's previous files stay whole until the new ones all exist. The
          // staging directory sits at the top of --out, where the next run's lock removes it
          // should this process be killed.
          await Deno.mkdir(stageDir, { recursive: true });
          const staging = await createStaging(out);
          try {
            await Deno.mkdir(`${staging}/scores`);
            const write = (name: string, s: Float32Array) =>
              writeNpy(`${staging}/scores/${name}.npy`, {
                dtype: "<f4",
                shape: [s.length],
                data: s,
              });
            await write("id", r.id);
            for (const [n, s] of r.ood) await write(n, s);
            await writeJsonAtomic(`${staging}/result.json`, {
              method: key,
              label: plan.label,
              protocol,
              chosen: r.chosen,
              trials: r.trials,
              seconds: r.seconds,
              note: plan.note ?? null,
            });
            await writeManifest(
              staging,
              buildManifest({
                stage: "detector",
                config,
                seed: seeds[si],
                inputs: inputsKey,
                wallSeconds: r.seconds,
              }),
            );
            await commitStaging(staging, stageDir, ["result.json", "manifest.json"]);
          } catch (e) {
            await discardStaging(staging);
            throw e;
          }
        }
        const info = JSON.parse(await Deno.readTextFile(`${stageDir}/result.json`));
        labels.set(key, info.label);
        if (info.note) notes.add(info.note);
        if (!results.has(key)) results.set(key, []);
        results.get(key)!.push(r);
      }
    }
  } finally {
    data?.train.close();
  }

  // Metrics per seed, CIs on the first seed.
  const fpr = inputs.fprConvention;
  const entries: ExtendedEntry[] = [];
  const longRows: string[] = ["method,dataset,seed,auroc,fpr95,aupr_in,aupr_out"];
  const ciRows: string[] = ["method,dataset,metric,estimate,ci_low,ci_high,resamples,seed"];
  const averageCi: Record<string, Record<PercentMetric, { low: number; high: number }>> = {};
  const groupCi: Record<string, typeof averageCi> = {};
  const hyperRows: string[] = ["method,seed,chosen,val_auroc,candidates"];
  const tableMethods: ExtendedMethod[] = [];
  for (const key of methods) {
    const rs = results.get(key);
    if (!rs) continue;
    tableMethods.push({ key, label: labels.get(key)!, seconds: rs[0].seconds });
    const dists: BootstrapDistribution[] = [];
    rs.forEach((r, si) => {
      const best = r.trials.find((t) => JSON.stringify(t.params) === JSON.stringify(r.chosen));
      hyperRows.push(
        [
          key,
          seeds[si],
          `"${paramText(r.chosen)}"`,
          best ? (100 * best.auroc).toFixed(4) : "",
          r.trials.length || 1,
        ]
          .join(","),
      );
    });
    oodNames.forEach((name, k) => {
      const values: Record<PercentMetric, number[]> = {
        auroc: [],
        fpr95: [],
        aupr_in: [],
        aupr_out: [],
      };
      rs.forEach((r, si) => {
        const m = evaluate(r.id, r.ood.get(name)!, { fprConvention: fpr });
        const row = {
          auroc: 100 * m.auroc,
          fpr95: 100 * m.fpr95,
          aupr_in: 100 * m.auprIn,
          aupr_out: 100 * m.auprOut,
        };
        // The table is computed from the values as metrics.csv stores them (4 decimals), like
        // Table 1 from the score stage's metrics.csv: averages of exact ties (FPR95 counts
        // k / N) then round the same way in both tables, and anyone can recompute them.
        const stored = PERCENT_METRICS.map((mk) => row[mk].toFixed(4));
        PERCENT_METRICS.forEach((mk, i) => values[mk].push(Number(stored[i])));
        longRows.push([key, name, seeds[si], ...stored].join(","));
      });
      const entry: ExtendedEntry = { method: key, dataset: name, values };
      if (ci) {
        const d = bootstrapDistribution(rs[0].id, rs[0].ood.get(name)!, {
          resamples,
          seed: ciSeed,
          oodSeed: ciSeed + 1 + k,
          fprConvention: fpr,
        });
        dists.push(d);
        entry.ci = pct(distributionIntervals(d));
        for (const mk of PERCENT_METRICS) {
          ciRows.push(
            [
              key,
              name,
              mk,
              values[mk][0].toFixed(4),
              entry.ci[mk].low.toFixed(4),
              entry.ci[mk].high.toFixed(4),
              resamples,
              ciSeed,
            ]
              .join(","),
          );
        }
      }
      entries.push(entry);
    });
    if (ci) {
      averageCi[key] = pct(distributionIntervals(averageDistributions(dists)));
      for (const b of summaryBlocks(oodNames, inputs.oodGroups)) {
        if (b.label === AVERAGE_LABEL) continue;
        const part = b.sets.map((n) => dists[oodNames.indexOf(n)]);
        (groupCi[b.label] ??= {})[key] = pct(distributionIntervals(averageDistributions(part)));
      }
    }
  }

  const protocolNote = protocol === "heldout"
    ? `Held-out protocol: ID split by a seeded permutation (seed ${splitSeed}) into ID-val ` +
      `(${(await loaded()).valRows.length} rows) and ID-test (${
        (await loaded()).testRows!.length
      } rows, ` +
      `the ID side of every metric); each detector's grid (OpenOOD's) searched on ID-val vs ` +
      `OOD-val by AUROC, chosen values in hyperparameters.csv; test metrics computed once.`
    : "Paper protocol: every detector at its default hyperparameters (OpenOOD's defaults; ODIN " +
      `T = ${inputs.odinTemperature}, Energy T = 1); the whole ID set is tested. Detectors that fit ` +
      "on ID validation data use a seeded sample of the training set.";
  const tableNotes = [
    protocolNote,
    // The default convention's metrics are the paper's and need no note.
    ...(fpr === "openood" ? [metricsConventionNote(fpr)] : []),
    ...(ci
      ? [
        `95% CI: percentile bootstrap, ${resamples} resamples (seed ${ciSeed}), ID and OOD ` +
        "resampled separately; the intervals of averages resample the shared ID rows jointly." +
        (nSeeds > 1 ? ` Intervals are of the first seed's head (seed ${seeds[0]}).` : ""),
      ]
      : []),
    ...[...notes],
    ...skipped,
    ...(inputs.synthetic
      ? ["SYNTHETIC DATA: the numbers show the pipeline working, not the paper's results."]
      : []),
    TEST_TIME_NOTE + (nSeeds > 1 ? ` The first seed's run (seed ${seeds[0]}).` : ""),
  ];
  const tables = extendedTable1(entries, {
    methods: tableMethods,
    datasets: oodNames,
    ci,
    averageCi: ci ? averageCi : undefined,
    oodGroups: inputs.oodGroups,
    groupCi: ci ? groupCi : undefined,
    title: `Table 1 extended: AUROC / FPR95 (%), ${protocol} protocol` +
      (inputs.synthetic ? " (synthetic demo data)" : ""),
    notes: tableNotes,
  });
  const files = await dir.commit(async (w) => {
    await w.text(`${protocol}/table1_extended.csv`, renderCsv(tables.csv));
    await w.text(`${protocol}/table1_extended.md`, renderMarkdown(tables.markdown));
    await w.text(`${protocol}/metrics.csv`, longRows.join("\n") + "\n");
    await w.text(`${protocol}/hyperparameters.csv`, hyperRows.join("\n") + "\n");
    if (ci) await w.text(`${protocol}/metrics_ci.csv`, ciRows.join("\n") + "\n");
  }, [`${protocol}/table1_extended.csv`]);
  return { markdown: tables.markdown, files };
}

if (import.meta.main) await runTask(SPEC, main);
