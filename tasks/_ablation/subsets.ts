/**
 * Class subsets for the number-of-classes ablation (Figures 2, 5, 9): C classes sampled from the
 * label space, n training images per class, labels renumbered 0..C-1 in ascending order of the
 * original class id, written as ordinary feature sets (train and ID test) so the shared train and
 * score stages run on them unchanged.
 *
 * Sampling is nested, as a researcher would want for a curve over C: one seeded permutation of all
 * classes gives the first C classes for every C, and each class has its own seeded permutation of
 * its rows, so the n images of a class are the same whatever C is, and n' > n images extend them.
 *
 * @module
 */
import { DataError } from "../../lib/errors.ts";
import { type FeatureSetInit, writeFeatureSet } from "../../lib/io/feature_set.ts";
import { type FeatureStream, openFeatureStream } from "../../lib/io/feature_stream.ts";
import { runStage } from "../../lib/io/stage.ts";
import { matrix } from "../../lib/matrix.ts";
import { createRng, shuffle } from "../../lib/random.ts";

/** The class order and per-class row seeds of one sampling seed. */
export interface ClassSampler {
  /** All class ids in sampled order: the first C are the subset of size C. */
  order: Int32Array;
  /** Seed of each class's row permutation, by class id. */
  rowSeeds: Uint32Array;
}

/** The seeded class order and per-class row seeds for a label space of `numClasses`. */
export function classSampler(numClasses: number, seed: number): ClassSampler {
  const rng = createRng(seed);
  const order = shuffle(rng, Int32Array.from({ length: numClasses }, (_, i) => i));
  // Drawn after the shuffle, whose draw count depends only on numClasses, so a class's seed is
  // the same for every C.
  const rowSeeds = Uint32Array.from({ length: numClasses }, () => rng.uint32());
  return { order, rowSeeds };
}

/** The first `count` classes of the sampled order, ascending (their new labels 0..count-1). */
export function sampleClasses(s: ClassSampler, count: number): number[] {
  return Array.from(s.order.subarray(0, count)).sort((a, b) => a - b);
}

/**
 * Row indices (ascending) of `perClass` sampled rows of each class in `classes`, or of every row
 * of those classes when `perClass` is null. A class with fewer rows is a `DataError`.
 */
export function sampleRows(
  labels: Int32Array,
  classes: readonly number[],
  perClass: number | null,
  s: ClassSampler,
  source: string,
): Int32Array {
  const wanted = new Map<number, number[]>();
  for (const c of classes) wanted.set(c, []);
  for (let i = 0; i < labels.length; i++) wanted.get(labels[i])?.push(i);
  const rows: number[] = [];
  for (const c of classes) {
    const all = wanted.get(c)!;
    if (perClass === null) {
      rows.push(...all);
      continue;
    }
    if (all.length < perClass) {
      throw new DataError(
        `${source}: class ${c} has ${all.length} rows but ${perClass} per class were asked for; ` +
          `lower the images per class (or the total) or use a larger training set`,
      );
    }
    const perm = shuffle(createRng(s.rowSeeds[c]), Int32Array.from(all));
    rows.push(...perm.subarray(0, perClass));
  }
  return Int32Array.from(rows).sort();
}

/** Copies the given rows (ascending) of a streamed feature set, reading contiguous runs at once. */
async function gatherRows(stream: FeatureStream, rows: Int32Array): Promise<Float32Array> {
  const D = stream.features.cols;
  const out = new Float32Array(rows.length * D);
  let i = 0;
  while (i < rows.length) {
    let j = i + 1;
    while (j < rows.length && rows[j] === rows[j - 1] + 1 && j - i < 8192) j++;
    await stream.features.readRows(rows[i], j - i, out.subarray(i * D, j * D));
    i = j;
  }
  return out;
}

/** Options of {@linkcode writeClassSubset}. */
export interface ClassSubsetOptions {
  train: string;
  id: string;
  classes: readonly number[];
  perClass: number;
  sampler: ClassSampler;
  /** Seed recorded in the manifest (the sampler's). */
  seed: number;
  out: string;
}

/** One split of a subset, gathered in memory before anything is written. */
interface SubsetSplit {
  name: "train" | "id";
  set: FeatureSetInit;
}

/** Gathers the rows of the sampled classes of one split, labels renumbered 0..C-1. */
async function gatherSplit(
  o: ClassSubsetOptions,
  name: "train" | "id",
  src: string,
  perClass: number | null,
): Promise<SubsetSplit> {
  const relabel = new Map(o.classes.map((c, i) => [c, i]));
  const stream = await openFeatureStream(src);
  try {
    const rows = sampleRows(stream.labels, o.classes, perClass, o.sampler, src);
    if (rows.length === 0) {
      throw new DataError(`${src} has no rows of the ${o.classes.length} sampled classes`);
    }
    const data = await gatherRows(stream, rows);
    const labels = Int32Array.from(rows, (r) => relabel.get(stream.labels[r])!);
    return {
      name,
      set: {
        meta: {
          dataset: `${stream.meta.dataset} (${o.classes.length} classes` +
            (perClass === null ? ")" : `, ${perClass} per class)`),
          backbone: stream.meta.backbone,
          preprocess: stream.meta.preprocess,
          num_classes: o.classes.length,
          source: src,
          classes: o.classes,
        },
        features: matrix(rows.length, stream.features.cols, data),
        labels,
      },
    };
  } finally {
    stream.close();
  }
}

/**
 * Writes (or reuses, when its manifest matches) `<out>/train` (perClass sampled rows per class)
 * and `<out>/id` (every ID test row of those classes), labels renumbered to 0..C-1. A stage of
 * lib/io/stage.ts: locked, staged, each set's meta.json and then manifest.json committed last,
 * so a failure leaves the previous subset as it was.
 */
export async function writeClassSubset(
  o: ClassSubsetOptions,
): Promise<{ train: string; id: string; reused: boolean }> {
  const { reused } = await runStage<SubsetSplit[]>({
    dir: o.out,
    stage: "class_subset",
    purpose: "class subset",
    label: "--out",
    config: { classes: o.classes, per_class: o.perClass, seed: o.seed },
    seed: o.seed,
    inputs: { train: o.train, id: o.id },
    markers: ["train/meta.json", "id/meta.json"],
    reuse: () => Promise.resolve([]),
    compute: async () => [
      await gatherSplit(o, "train", o.train, o.perClass),
      await gatherSplit(o, "id", o.id, null),
    ],
    write: async (w, splits) => {
      for (const split of splits) await writeFeatureSet(`${w.path}/${split.name}`, split.set);
    },
  });
  return { train: `${o.out}/train`, id: `${o.out}/id`, reused };
}

/**
 * Groups restricted to a class subset and renumbered to the subset's labels (the position of each
 * class in the ascending `classes`), keeping each group's slice order; empty groups are dropped.
 * Returns the kept groups and the indices of the original groups they came from.
 */
export function restrictGroups(
  groups: readonly (readonly number[])[],
  classes: readonly number[],
): { groups: number[][]; kept: number[] } {
  const relabel = new Map(classes.map((c, i) => [c, i]));
  const out: number[][] = [];
  const kept: number[] = [];
  groups.forEach((g, k) => {
    const members = g.filter((c) => relabel.has(c)).map((c) => relabel.get(c)!);
    if (members.length > 0) {
      out.push(members);
      kept.push(k);
    }
  });
  return { groups: out, kept };
}
