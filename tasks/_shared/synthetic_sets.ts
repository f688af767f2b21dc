/**
 * Writes the seeded synthetic benchmark (lib/synthetic) as ordinary feature-set directories, so
 * the demo runs the same train / score / tables code as real features. Regenerated only when the
 * generator version or options change (manifest.json in the data directory).
 *
 * @module
 */
import { ensureWritableDir, writeJsonAtomic, writeTextAtomic } from "../../lib/io/atomic.ts";
import { readClassTable } from "../../lib/io/classes.ts";
import { writeFeatureSet } from "../../lib/io/feature_set.ts";
import { acquireLock } from "../../lib/io/lock.ts";
import { buildManifest, manifestMatches, writeManifest } from "../../lib/io/manifest.ts";
import {
  BENCHMARK_VERSION,
  type BenchmarkOptions,
  demoFeatureScale,
  generateBenchmark,
  OOD_SET_NAMES,
} from "../../lib/synthetic/benchmark.ts";
import { removeOwnManifest } from "./result_dir.ts";

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

/** Options: generator options (minus the class table, always the real ImageNet-1k one). */
export type SyntheticSetOptions = Omit<BenchmarkOptions, "classes" | "groups" | "groupNames">;

const BACKBONE = "synthetic";

/** Generates (or reuses) the benchmark under `root`. */
export async function writeSyntheticSets(
  root: string,
  options: SyntheticSetOptions,
): Promise<SyntheticSets> {
  const config = { version: BENCHMARK_VERSION, scale: "3 * sqrt(2048 / dim)", ...options };
  const dirs: SyntheticSets = {
    root,
    train: `${root}/train`,
    id: `${root}/id`,
    ood: OOD_SET_NAMES.map((name) => ({ name, dir: `${root}/${name}`, description: "" })),
    oodVal: options.oodVal ? `${root}/ood-val` : undefined,
    description: "",
    reused: false,
  };
  await ensureWritableDir(root, "--out");
  const lock = await acquireLock(root, "synthetic benchmark");
  try {
    const descFile = `${root}/README.txt`;
    if (await manifestMatches(root, { stage: "synthetic", config, inputs: {} })) {
      dirs.description = await Deno.readTextFile(descFile).catch(() => "");
      const meta = JSON.parse(await Deno.readTextFile(`${root}/sets.json`));
      dirs.ood = meta.ood;
      dirs.reused = true;
      return dirs;
    }
    // Invalidate the stale result first (a crash below then means "redo"), never a foreign one.
    await removeOwnManifest(root, "synthetic");
    const t0 = performance.now();
    const bench = generateBenchmark({ ...options, classes: await readClassTable() });
    // A linear head's effective step grows with |x|^2: this scale lets the unmodified HyperRule
    // learning rate (0.003) train the demo's heads to realistic confidence (see demoFeatureScale).
    const scale = demoFeatureScale(bench.dim);
    for (
      const split of [bench.train, bench.val, ...bench.ood, ...(bench.oodVal ? [bench.oodVal] : [])]
    ) {
      const d = split.features.data;
      for (let i = 0; i < d.length; i++) d[i] *= scale;
    }
    const preprocess = `synthetic benchmark v${BENCHMARK_VERSION}, seed ${options.seed}`;
    const write = (dir: string, split: typeof bench.train, dataset: string) =>
      writeFeatureSet(dir, {
        meta: {
          dataset,
          backbone: BACKBONE,
          preprocess,
          num_classes: 1000,
          description: split.description,
        },
        features: split.features,
        labels: split.labels,
      });
    await write(dirs.train, bench.train, "synthetic-train");
    await write(dirs.id, bench.val, "synthetic-id");
    dirs.ood = [];
    for (const s of bench.ood) {
      await write(`${root}/${s.name}`, s, s.name);
      dirs.ood.push({ name: s.name, dir: `${root}/${s.name}`, description: s.description });
    }
    if (bench.oodVal && dirs.oodVal) await write(dirs.oodVal, bench.oodVal, "ood-val");
    dirs.description = bench.description;
    await writeTextAtomic(descFile, bench.description + "\n");
    await writeJsonAtomic(`${root}/sets.json`, { ood: dirs.ood });
    await writeManifest(
      root,
      buildManifest({
        stage: "synthetic",
        config,
        seed: options.seed,
        inputs: {},
        wallSeconds: (performance.now() - t0) / 1000,
      }),
    );
    return dirs;
  } finally {
    lock.release();
  }
}
