/**
 * The groupings the ablations compare: taxonomy levels -3..6 (from the class table and the WordNet
 * hierarchy), k-means on per-class mean training features ("feature clustering"), and random
 * groups of equal size. Every grouping is computed up front, so a bad level, K or hierarchy fails
 * before any head is trained.
 *
 * @module
 */
import { DataError, UsageError } from "../../lib/errors.ts";
import { readHierarchy } from "../../lib/grouping/hierarchy.ts";
import { kmeansGroups } from "../../lib/grouping/kmeans.ts";
import { randomGroups } from "../../lib/grouping/random_grouping.ts";
import { type Grouping, taxonomyLevel } from "../../lib/grouping/taxonomy_levels.ts";
import {
  type ClassInfo,
  readClassTable,
  taxonomyGroupNames,
  taxonomyGroups,
} from "../../lib/io/classes.ts";
import { readFeatureMeta } from "../../lib/io/feature_set.ts";
import { openFeatureStream } from "../../lib/io/feature_stream.ts";
import { runStage } from "../../lib/io/stage.ts";
import { readNpy, toFloat32, writeNpy } from "../../lib/io/npy.ts";
import { type Matrix, matrix } from "../../lib/matrix.ts";
import type { Strategy } from "../../lib/config/ablation_experiment.ts";

/** Paper names of the strategies, as figure series and table rows show them. */
export const STRATEGY_NAMES: Readonly<Record<Strategy, string>> = Object.freeze({
  taxonomy: "taxonomy",
  clustering: "feature clustering",
  random: "random grouping",
});

/** The ImageNet-1k class table and the taxonomy levels computed from it. */
export interface Taxonomy {
  table: ClassInfo[];
  /** Requested levels -> grouping (class ids and group names). */
  levels: Map<number, Grouping>;
}

/**
 * Computes the requested taxonomy levels. A level outside -3..6 is the lib's `UsageError`; a
 * hierarchy file with a cycle, an unknown parent or a class it lacks is the lib's `DataError`.
 * The hierarchy is read only when a level other than 0 is asked for.
 */
export async function loadTaxonomy(
  levels: readonly number[],
  hierarchy: string,
): Promise<Taxonomy> {
  const table = await readClassTable();
  const level0Groups = taxonomyGroups(table);
  const level0Names = taxonomyGroupNames(table);
  const needsHierarchy = levels.some((l) => l > 0);
  const h = needsHierarchy ? await readHierarchy(hierarchy) : undefined;
  const classes = table.map((c) => c.wnid);
  const out = new Map<number, Grouping>();
  for (const level of levels) {
    // Levels <= 0 never read the hierarchy, so it is only loaded when a deeper level needs it.
    out.set(level, taxonomyLevel(level, { hierarchy: h!, classes, level0Groups, level0Names }));
  }
  return { table, levels: out };
}

/** Number of classes of a training feature set: meta.num_classes, else max label + 1. */
export async function labelSpaceOf(trainDir: string): Promise<number> {
  const meta = await readFeatureMeta(trainDir);
  const recorded = meta.num_classes;
  if (typeof recorded === "number" && Number.isInteger(recorded) && recorded > 0) return recorded;
  const stream = await openFeatureStream(trainDir);
  try {
    let max = -1;
    for (const l of stream.labels) if (l > max) max = l;
    if (max < 0) {
      throw new DataError(
        `${trainDir} has no labelled rows (all labels -1); it cannot be a train set`,
      );
    }
    return max + 1;
  } finally {
    stream.close();
  }
}

/** Checks K for clustering / random grouping like the lib does, before any work starts. */
export function checkK(k: number, numClasses: number, flag: string): void {
  if (!Number.isInteger(k) || k < 2 || k > numClasses) {
    throw new UsageError(
      `${flag} ${k} is invalid: the number of groups must be an integer from 2 to the number of ` +
        `classes (${numClasses})`,
    );
  }
}

/** Checks that taxonomy groupings fit the training set's label space. */
export function checkTaxonomyLabelSpace(numClasses: number, trainDir: string): void {
  if (numClasses !== 1000) {
    throw new DataError(
      `Taxonomy grouping needs the ImageNet-1k label space (1000 classes) but ${trainDir} has ` +
        `${numClasses}; drop taxonomy from the strategies or use ImageNet-1k features`,
    );
  }
}

/**
 * Per-class mean training feature (C x D), streamed in blocks so the whole training set is never
 * held in memory, and cached in `cacheDir` (class_means.npy + manifest.json keyed by the training
 * set's hash). Rows labelled -1 are skipped; a class with no rows is a `DataError`.
 */
export async function classMeansCached(
  trainDir: string,
  numClasses: number,
  cacheDir: string,
): Promise<Matrix> {
  const file = "class_means.npy";
  const { result } = await runStage<Matrix>({
    dir: cacheDir,
    stage: "class_means",
    purpose: "class means",
    label: "--out",
    config: { num_classes: numClasses },
    inputs: { train: trainDir },
    markers: [file],
    reuse: async ({ dir }) => {
      const arr = await readNpy(`${dir}/${file}`);
      if (arr.shape.length !== 2 || arr.shape[0] !== numClasses) {
        throw new DataError(
          `${dir}/${file} has shape (${arr.shape.join(", ")}), not ${numClasses} class means, ` +
            `though its manifest matches; delete ${dir} and rerun`,
        );
      }
      return matrix(arr.shape[0], arr.shape[1], toFloat32(arr));
    },
    compute: () => streamClassMeans(trainDir, numClasses),
    write: async (w, means) => {
      await writeNpy(`${w.path}/${file}`, {
        dtype: "<f4",
        shape: [means.rows, means.cols],
        data: means.data,
      });
    },
  });
  return result;
}

/** Per-class mean of a feature set's rows, streamed in blocks of `blockRows` (float64 sums). */
export async function streamClassMeans(
  dir: string,
  numClasses: number,
  blockRows = 8192,
): Promise<Matrix> {
  const stream = await openFeatureStream(dir, { numClasses });
  try {
    const { rows, cols: D } = stream.features;
    const sums = new Float64Array(numClasses * D);
    const counts = new Float64Array(numClasses);
    const block = new Float32Array(Math.min(blockRows, Math.max(1, rows)) * D);
    for (let s = 0; s < rows; s += blockRows) {
      const n = Math.min(blockRows, rows - s);
      await stream.features.readRows(s, n, block);
      for (let i = 0; i < n; i++) {
        const c = stream.labels[s + i];
        if (c < 0) continue;
        counts[c]++;
        const src = i * D;
        const dst = c * D;
        for (let d = 0; d < D; d++) sums[dst + d] += block[src + d];
      }
    }
    const out = matrix(numClasses, D);
    for (let c = 0; c < numClasses; c++) {
      if (counts[c] === 0) {
        throw new DataError(
          `${dir}: class ${c} has no training rows, so it has no mean feature for clustering; ` +
            `use a training set that covers every class`,
        );
      }
      for (let d = 0; d < D; d++) out.data[c * D + d] = sums[c * D + d] / counts[c];
    }
    return out;
  } finally {
    stream.close();
  }
}

/** Inputs of {@linkcode strategyGroups}. */
export interface StrategyInputs {
  numClasses: number;
  /** The taxonomy grouping with K groups (required for "taxonomy"). */
  taxonomy?: Grouping;
  /** Per-class mean features (required for "clustering"). */
  classMeans?: Matrix;
  seed: number;
  kmeansRestarts: number;
  threads?: number;
}

/** The groups of one strategy with `k` groups. */
export async function strategyGroups(
  strategy: Strategy,
  k: number,
  o: StrategyInputs,
): Promise<number[][]> {
  if (strategy === "taxonomy") {
    if (!o.taxonomy) throw new RangeError("taxonomy grouping needs the taxonomy level's groups");
    return o.taxonomy.groups;
  }
  if (strategy === "random") return randomGroups(o.numClasses, k, o.seed);
  if (!o.classMeans) throw new RangeError("feature clustering needs the class means");
  const r = await kmeansGroups(o.classMeans, k, {
    seed: o.seed,
    restarts: o.kmeansRestarts,
    threads: o.threads,
  });
  return r.groups;
}

/** "name (size)" for each group, for tables of group counts. */
export function describeGroups(g: Grouping, limit = 8): string {
  const parts = g.groups.map((members, i) => `${g.names[i] ?? `group ${i}`} (${members.length})`);
  if (parts.length <= limit) return parts.join(", ");
  const sizes = g.groups.map((m) => m.length).sort((a, b) => b - a);
  return `sizes ${sizes[0]} (largest) .. ${sizes[sizes.length - 1]} (smallest), ` +
    `${sizes.filter((s) => s === 1).length} singletons`;
}
