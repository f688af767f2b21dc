/**
 * Writes the seeded synthetic benchmark (lib/synthetic) as ordinary feature-set directories, so
 * the demo runs the same train / score / tables code as real features. One stage of the stage
 * runner (lib/io/stage.ts): regenerated only when the generator version or options change
 * (manifest.json in the data directory), and staged, so a failed regeneration keeps the previous
 * sets whole.
 *
 * @module
 */
import { writeJsonAtomic } from "../../lib/io/atomic.ts";
import { readClassTable } from "../../lib/io/classes.ts";
import { writeFeatureSet } from "../../lib/io/feature_set.ts";
import { writeNpy } from "../../lib/io/npy.ts";
import { runStage, type StagedWriter } from "../../lib/io/stage.ts";
import type { Matrix } from "../../lib/matrix.ts";
import {
  BENCHMARK_VERSION,
  type BenchmarkOptions,
  demoFeatureScale,
  generateBenchmark,
  OOD_SET_NAMES,
  type SyntheticBenchmark as Benchmark,
} from "../../lib/synthetic/benchmark.ts";
import { rootMeanSquare, syntheticLayers } from "../../lib/synthetic/layers.ts";

/** Directories of the written benchmark. */
export interface SyntheticSets {
  root: string;
  train: string;
  id: string;
  ood: { name: string; dir: string; description: string }[];
  oodVal?: string;
  description: string;
  reused: boolean;
}

/**
 * A label space other than ImageNet-1k, as its level-0 partition (e.g. `loadLabelSpace
 * ("imagenet21k")`'s `level0Groups` and `level0Names`); `id` names it in the manifest.
 */
export interface SyntheticLabelSpace {
  id: string;
  groups: number[][];
  names: string[];
}

/**
 * Options: generator options, minus the class table: the real ImageNet-1k one unless
 * `labelSpace` is given.
 */
export type SyntheticSetOptions =
  & Omit<BenchmarkOptions, "classes" | "groups" | "groupNames">
  & { labelSpace?: SyntheticLabelSpace };

/** Extra files beside the features. */
export interface SyntheticExtras {
  /**
   * Also write the synthetic layers (root.npy, block1..4.npy; lib/synthetic/layers.ts) beside
   * every set's features, for multi-layer Mahalanobis.
   */
  layers?: { threads?: number };
}

const BACKBONE = "synthetic";

/** What the stage yields: the OOD sets and description (and, when computed, the benchmark). */
interface Written {
  ood: SyntheticSets["ood"];
  description: string;
  bench?: Benchmark;
}
/** Version of the synthetic layers in the stage's config. */
const LAYERS_VERSION = "synthetic v1";

/** Generates (or reuses) the benchmark under `root`. */
export async function writeSyntheticSets(
  root: string,
  options: SyntheticSetOptions,
  extras: SyntheticExtras = {},
): Promise<SyntheticSets> {
  const { labelSpace, ...generator } = options;
  // Without a label space the config is the ImageNet-1k one it always was (manifests still match).
  const config = {
    version: BENCHMARK_VERSION,
    scale: "3 * sqrt(2048 / dim)",
    ...generator,
    ...(labelSpace ? { label_space: labelSpace.id, groups: labelSpace.groups } : {}),
    ...(extras.layers ? { layers: LAYERS_VERSION } : {}),
  };
  const dirs: SyntheticSets = {
    root,
    train: `${root}/train`,
    id: `${root}/id`,
    ood: OOD_SET_NAMES.map((name) => ({ name, dir: `${root}/${name}`, description: "" })),
    oodVal: options.oodVal ? `${root}/ood-val` : undefined,
    description: "",
    reused: false,
  };
  const names = ["train", "id", ...(options.oodVal ? ["ood-val"] : []), ...OOD_SET_NAMES];
  const run = await runStage({
    dir: root,
    stage: "synthetic",
    purpose: "synthetic benchmark",
    label: "--out",
    config,
    seed: options.seed,
    // Readers trust a set's meta.json ("complete"), so each one lands after its files.
    markers: [...names.map((n) => `${n}/meta.json`), "sets.json"],
    reuse: async (): Promise<Written> => {
      const meta = JSON.parse(await Deno.readTextFile(`${root}/sets.json`));
      const description = await Deno.readTextFile(`${root}/README.txt`).catch(() => "");
      return { ood: meta.ood, description };
    },
    compute: async () => {
      const bench = await generateScaled(options);
      const ood = bench.ood.map((s) => ({
        name: s.name,
        dir: `${root}/${s.name}`,
        description: s.description,
      }));
      return { ood, description: bench.description, bench };
    },
    write: async (w, r) => {
      await writeSets(w, r.bench!, options.seed, numClassesOf(r.bench!));
      await writeJsonAtomic(`${w.path}/sets.json`, { ood: r.ood });
      if (extras.layers) await writeLayers(w, r.bench!, options.seed, extras.layers.threads);
    },
  });
  const { ood, description } = run.result;
  return { ...dirs, ood, description, reused: run.reused };
}

/** The benchmark with its features scaled by demoFeatureScale. */
async function generateScaled(options: SyntheticSetOptions): Promise<Benchmark> {
  const { labelSpace, ...generator } = options;
  const space = labelSpace
    ? { groups: labelSpace.groups, groupNames: labelSpace.names }
    : { classes: await readClassTable() };
  const bench = generateBenchmark({ ...generator, ...space });
  // A linear head's effective step grows with |x|^2: this scale lets the unmodified HyperRule
  // learning rate (0.003) train the demo's heads to realistic confidence (see demoFeatureScale).
  const scale = demoFeatureScale(bench.dim);
  for (const split of splitsOf(bench)) {
    const d = split.features.data;
    for (let i = 0; i < d.length; i++) d[i] *= scale;
  }
  return bench;
}

/** Number of classes of the benchmark's label space. */
function numClassesOf(bench: Benchmark): number {
  return bench.groups.reduce((n, g) => n + g.length, 0);
}

function splitsOf(bench: Benchmark): Benchmark["train"][] {
  return [bench.train, bench.val, ...bench.ood, ...(bench.oodVal ? [bench.oodVal] : [])];
}

/** Stages every split as a feature set, the README and sets.json. */
async function writeSets(
  w: StagedWriter,
  bench: Benchmark,
  seed: number,
  numClasses: number,
): Promise<void> {
  const preprocess = `synthetic benchmark v${BENCHMARK_VERSION}, seed ${seed}`;
  const write = (name: string, split: Benchmark["train"], dataset: string) =>
    writeFeatureSet(`${w.path}/${name}`, {
      meta: {
        dataset,
        backbone: BACKBONE,
        preprocess,
        num_classes: numClasses,
        description: split.description,
      },
      features: split.features,
      labels: split.labels,
    });
  await write("train", bench.train, "synthetic-train");
  await write("id", bench.val, "synthetic-id");
  for (const s of bench.ood) await write(s.name, s, s.name);
  if (bench.oodVal) await write("ood-val", bench.oodVal, "ood-val");
  await w.text("README.txt", bench.description + "\n");
}

/**
 * Stages the synthetic layers of every set, scaled by the training features' root mean square.
 * Each set draws its noise from its own stream, numbered train 0, id 1, ood-val 2, then the OOD
 * sets in order.
 */
async function writeLayers(
  w: StagedWriter,
  bench: Benchmark,
  seed: number,
  threads?: number,
): Promise<void> {
  const names = [
    "train",
    "id",
    ...(bench.oodVal ? ["ood-val"] : []),
    ...bench.ood.map((s) => s.name),
  ];
  const byName = new Map<string, Matrix>([
    ["train", bench.train.features],
    ["id", bench.val.features],
    ...bench.ood.map((s) => [s.name, s.features] as [string, Matrix]),
    ...(bench.oodVal ? [["ood-val", bench.oodVal.features] as [string, Matrix]] : []),
  ]);
  const rms = rootMeanSquare(bench.train.features);
  for (let k = 0; k < names.length; k++) {
    const layers = await syntheticLayers(byName.get(names[k])!, { seed, stream: k, rms, threads });
    for (const l of layers) {
      await writeNpy(`${w.path}/${names[k]}/${l.name}.npy`, {
        dtype: "<f4",
        shape: [l.matrix.rows, l.matrix.cols],
        data: l.matrix.data,
      });
    }
  }
}
