/**
 * The YAML configs of the four ablations (experiments/groups_ablation.yaml, num_classes.yaml,
 * grouping.yaml, backbones.yaml): which feature sets, the ablation's own settings, how to train
 * and score, and the sizes of the `--demo` run on the synthetic benchmark. Read with
 * lib/config/reader.ts: unknown keys are errors, so a typo never silently falls back to a default.
 *
 * @module
 */
import { TAXONOMY_LEVELS } from "../grouping/taxonomy_levels.ts";
import { type ConfigObject, ConfigReader, parseConfigYaml } from "./reader.ts";

/** The four ablations. */
export type AblationKind = "groups_ablation" | "num_classes" | "grouping" | "backbones";

/** Grouping strategies (Table 2, Figure 6). */
export type Strategy = "taxonomy" | "clustering" | "random";

/** All strategies, in the paper's row order. */
export const STRATEGIES: readonly Strategy[] = Object.freeze(["taxonomy", "clustering", "random"]);

/** Training-set size settings of the number-of-classes ablation. */
export type ClassSetting = "per_class" | "fixed_total";

/** Feature-set directory names, relative to a data root. */
export interface SetNames {
  train: string;
  id: string;
  ood: { name: string; dir: string }[];
}

/** Head-training overrides (BiT-HyperRule defaults when absent). */
export interface TrainConfig {
  seed: number;
  steps?: number;
  batch?: number;
  lr?: number;
  warmup?: number;
  mixup?: number;
}

/** Sizes of the `--demo` run (synthetic benchmark). */
export interface DemoConfig {
  seed: number;
  dim: number;
  trainPerClass: number;
  steps: number;
  out: string;
}

/** Settings every ablation shares. */
export interface AblationCommon {
  sets: SetNames;
  train: TrainConfig;
  fprConvention: "paper" | "openood";
  out: string;
}

/** experiments/groups_ablation.yaml: Table 2. */
export interface GroupsAblationConfig extends AblationCommon {
  kind: "groups_ablation";
  dataRoot: string;
  levels: number[];
  strategies: Strategy[];
  hierarchy: string;
  kmeansRestarts: number;
  groupingSeed: number;
  comparePaper: boolean;
  demo: DemoConfig;
}

/** experiments/num_classes.yaml: Figures 2, 5 and 9 (appendix B.1). */
export interface NumClassesConfig extends AblationCommon {
  kind: "num_classes";
  dataRoot: string;
  classes: number[];
  settings: ClassSetting[];
  /** Train images per class in the per-class setting (the paper: 700). */
  perClass: number;
  /** Total train images in the fixed-total setting (the paper: 35,000). */
  totalImages: number;
  sampleSeed: number;
  demo: DemoConfig & { perClass: number; totalImages: number };
}

/** experiments/grouping.yaml: Figure 6 (and Figures 11-13 from the same heads). */
export interface GroupingConfig extends AblationCommon {
  kind: "grouping";
  dataRoot: string;
  k: number;
  strategies: Strategy[];
  hierarchy: string;
  kmeansRestarts: number;
  groupingSeed: number;
  demo: DemoConfig;
}

/** One backbone of the backbones ablation: a name and the data root of its feature sets. */
export interface BackboneEntry {
  name: string;
  dataRoot: string;
}

/** experiments/backbones.yaml: Figure 7. */
export interface BackbonesConfig extends AblationCommon {
  kind: "backbones";
  backbones: BackboneEntry[];
  demo: DemoConfig & { dims: number[] };
}

/** Parsed config type of each ablation. */
export interface AblationConfigs {
  groups_ablation: GroupsAblationConfig;
  num_classes: NumClassesConfig;
  grouping: GroupingConfig;
  backbones: BackbonesConfig;
}

type Obj = ConfigObject;
type Reader = ConfigReader;

const COMMON_KEYS = ["sets", "train", "score", "demo", "out"];
const DEMO_KEYS = ["seed", "dim", "train_per_class", "steps", "out"];
const DEFAULT_HIERARCHY = "data/imagenet1k_wordnet_hypernyms.tsv";

function parseTrain(r: Reader, v: unknown): TrainConfig {
  const train = r.object(v ?? {}, "train");
  r.onlyKeys(train, ["seed", "steps", "batch", "lr", "warmup", "mixup"], "train");
  return {
    seed: r.num(train, "seed", "train.", { integer: true }) ?? 0,
    steps: r.num(train, "steps", "train.", { integer: true, min: 1 }),
    batch: r.num(train, "batch", "train.", { integer: true, min: 1 }),
    lr: r.num(train, "lr", "train.", {}),
    warmup: r.num(train, "warmup", "train.", { integer: true }),
    mixup: r.num(train, "mixup", "train.", {}),
  };
}

function parseFpr(r: Reader, v: unknown): "paper" | "openood" {
  const score = r.object(v ?? {}, "score");
  r.onlyKeys(score, ["fpr_convention"], "score");
  return r.choice(score, "fpr_convention", "score.", ["paper", "openood"], "paper");
}

function parseDemo(r: Reader, demo: Obj, defaultOut: string): DemoConfig {
  return {
    seed: r.num(demo, "seed", "demo.", { integer: true }) ?? 0,
    dim: r.num(demo, "dim", "demo.", { integer: true, min: 2 }) ?? 256,
    trainPerClass: r.num(demo, "train_per_class", "demo.", { integer: true, min: 1 }) ?? 30,
    steps: r.num(demo, "steps", "demo.", { integer: true, min: 1 }) ?? 1000,
    out: r.str(demo, "out", "demo.", defaultOut),
  };
}

function parseLevels(r: Reader, o: Obj, where: string): number[] | undefined {
  const v = o.levels;
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length === 0) {
    throw r.error(`"${where}levels" must be a non-empty list`);
  }
  for (const x of v) {
    if (!TAXONOMY_LEVELS.includes(x as number)) {
      throw r.error(
        `"${where}levels" has ${JSON.stringify(x)}; taxonomy levels are integers from -3 to 6`,
      );
    }
  }
  return [...new Set(v as number[])];
}

/** What every kind's parser starts from: the reader, the document, its `out` and `demo`. */
interface Parsed {
  r: Reader;
  root: Obj;
  out: string;
  demoRaw: Obj;
}

function common(p: Parsed): AblationCommon {
  return {
    sets: p.r.sets(p.root.sets),
    train: parseTrain(p.r, p.root.train),
    fprConvention: parseFpr(p.r, p.root.score),
    out: p.out,
  };
}

/** The grouping settings Table 2 and Figure 6 share (`where` is the section, e.g. "grouping."). */
function groupingSettings(r: Reader, g: Obj, where: string) {
  return {
    strategies: r.choiceList(g, "strategies", where, STRATEGIES) ?? [...STRATEGIES],
    hierarchy: r.str(g, "hierarchy", where, DEFAULT_HIERARCHY),
    kmeansRestarts: r.num(g, "kmeans_restarts", where, { integer: true, min: 1 }) ?? 10,
    groupingSeed: r.num(g, "grouping_seed", where, { integer: true }) ?? 0,
  };
}

function parseGroupsAblation(p: Parsed): GroupsAblationConfig {
  const { r, root } = p;
  r.onlyKeys(root, ["data_root", "groups_ablation", ...COMMON_KEYS], "");
  const g = r.object(root.groups_ablation ?? {}, "groups_ablation");
  r.onlyKeys(
    g,
    ["levels", "strategies", "hierarchy", "kmeans_restarts", "grouping_seed", "compare_paper"],
    "groups_ablation",
  );
  r.onlyKeys(p.demoRaw, DEMO_KEYS, "demo");
  return {
    kind: "groups_ablation",
    ...common(p),
    dataRoot: r.str(root, "data_root", ""),
    levels: parseLevels(r, g, "groups_ablation.") ?? [...TAXONOMY_LEVELS],
    ...groupingSettings(r, g, "groups_ablation."),
    comparePaper: r.bool(g, "compare_paper", "groups_ablation.", true),
    demo: parseDemo(r, p.demoRaw, `${p.out}-demo`),
  };
}

function parseNumClasses(p: Parsed): NumClassesConfig {
  const { r, root, demoRaw } = p;
  r.onlyKeys(root, ["data_root", "num_classes", ...COMMON_KEYS], "");
  const n = r.object(root.num_classes ?? {}, "num_classes");
  r.onlyKeys(n, ["classes", "settings", "per_class", "total_images", "sample_seed"], "num_classes");
  r.onlyKeys(demoRaw, [...DEMO_KEYS, "per_class", "total_images"], "demo");
  const classes = r.intList(n, "classes", "num_classes.", 2) ??
    [50, 200, 300, 400, 500, 600, 700, 800, 900, 1000];
  const positive = { integer: true, min: 1 };
  return {
    kind: "num_classes",
    ...common(p),
    dataRoot: r.str(root, "data_root", ""),
    classes: [...classes].sort((a, b) => a - b),
    settings: r.choiceList(n, "settings", "num_classes.", ["per_class", "fixed_total"]) ??
      ["per_class", "fixed_total"],
    perClass: r.num(n, "per_class", "num_classes.", positive) ?? 700,
    totalImages: r.num(n, "total_images", "num_classes.", positive) ?? 35000,
    sampleSeed: r.num(n, "sample_seed", "num_classes.", { integer: true }) ?? 0,
    demo: {
      ...parseDemo(r, demoRaw, `${p.out}-demo`),
      perClass: r.num(demoRaw, "per_class", "demo.", positive) ?? 30,
      totalImages: r.num(demoRaw, "total_images", "demo.", positive) ?? 1500,
    },
  };
}

function parseGrouping(p: Parsed): GroupingConfig {
  const { r, root } = p;
  r.onlyKeys(root, ["data_root", "grouping", ...COMMON_KEYS], "");
  const g = r.object(root.grouping ?? {}, "grouping");
  r.onlyKeys(g, ["k", "strategies", "hierarchy", "kmeans_restarts", "grouping_seed"], "grouping");
  r.onlyKeys(p.demoRaw, DEMO_KEYS, "demo");
  return {
    kind: "grouping",
    ...common(p),
    dataRoot: r.str(root, "data_root", ""),
    k: r.num(g, "k", "grouping.", { integer: true, min: 2 }) ?? 8,
    ...groupingSettings(r, g, "grouping."),
    demo: parseDemo(r, p.demoRaw, `${p.out}-demo`),
  };
}

function parseBackbones(p: Parsed): BackbonesConfig {
  const { r, root, demoRaw } = p;
  r.onlyKeys(root, ["backbones", ...COMMON_KEYS], "");
  const list = root.backbones;
  if (!Array.isArray(list) || list.length === 0) {
    throw r.error(`"backbones" must be a non-empty list of {name, data_root}`);
  }
  const names = new Set<string>();
  const backbones = (list as unknown[]).map((item, i) => {
    const b = r.object(item, `backbones[${i}]`);
    r.onlyKeys(b, ["name", "data_root"], `backbones[${i}]`);
    const name = r.str(b, "name", `backbones[${i}].`);
    if (names.has(name)) throw r.error(`backbone "${name}" is listed twice`);
    names.add(name);
    return { name, dataRoot: r.str(b, "data_root", `backbones[${i}].`) };
  });
  r.onlyKeys(demoRaw, [...DEMO_KEYS, "dims"], "demo");
  return {
    kind: "backbones",
    ...common(p),
    backbones,
    demo: {
      ...parseDemo(r, demoRaw, `${p.out}-demo`),
      dims: r.intList(demoRaw, "dims", "demo.", 2) ?? [64, 128, 256],
    },
  };
}

const PARSERS: { [K in AblationKind]: (p: Parsed) => AblationConfigs[K] } = {
  groups_ablation: parseGroupsAblation,
  num_classes: parseNumClasses,
  grouping: parseGrouping,
  backbones: parseBackbones,
};

/**
 * Parses and validates the YAML text of one ablation's config; `source` names the file in errors
 * (`ConfigError`: invalid YAML, an unknown key, a bad value).
 *
 * @example
 * ```ts
 * const text = await Deno.readTextFile("experiments/grouping.yaml");
 * const cfg = parseAblationExperiment(text, "experiments/grouping.yaml", "grouping");
 * cfg.k; // 8
 * ```
 */
export function parseAblationExperiment<K extends AblationKind>(
  text: string,
  source: string,
  kind: K,
): AblationConfigs[K] {
  const parser = PARSERS[kind];
  if (parser === undefined) throw new RangeError(`Unknown ablation kind ${JSON.stringify(kind)}`);
  const r = new ConfigReader(source);
  const root = parseConfigYaml(text, source);
  const out = r.str(root, "out", "");
  return parser({ r, root, out, demoRaw: r.object(root.demo ?? {}, "demo") });
}
