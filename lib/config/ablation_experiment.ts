/**
 * The YAML configs of the four ablations (experiments/groups_ablation.yaml, num_classes.yaml,
 * grouping.yaml, backbones.yaml): which feature sets, the ablation's own settings, how to train
 * and score, and the sizes of the `--demo` run on the synthetic benchmark. Unknown keys are
 * errors, so a typo never silently falls back to a default.
 *
 * @module
 */
import { parse } from "yaml";
import { DataError } from "../errors.ts";
import { TAXONOMY_LEVELS } from "../grouping/taxonomy_levels.ts";

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

type Obj = Record<string, unknown>;

/** Typed field readers that throw a `DataError` naming `source` and the key path. */
function createReader(source: string) {
  const error = (msg: string): DataError => new DataError(`${source}: ${msg}`);
  return {
    error,

    object(v: unknown, where: string): Obj {
      if (v === null || typeof v !== "object" || Array.isArray(v)) {
        throw error(`"${where}" must be a mapping`);
      }
      return v as Obj;
    },

    onlyKeys(o: Obj, allowed: readonly string[], where: string): void {
      for (const k of Object.keys(o)) {
        if (!allowed.includes(k)) {
          throw error(
            `unknown key "${where ? `${where}.` : ""}${k}"; allowed: ${allowed.join(", ")}`,
          );
        }
      }
    },

    str(o: Obj, key: string, where: string, fallback?: string): string {
      const v = o[key];
      if (v === undefined && fallback !== undefined) return fallback;
      if (typeof v !== "string" || v === "") {
        throw error(`"${where}${key}" must be a non-empty string`);
      }
      return v;
    },

    num(
      o: Obj,
      key: string,
      where: string,
      rule: { integer?: boolean; min?: number },
    ): number | undefined {
      const v = o[key];
      if (v === undefined) return undefined;
      const min = rule.min ?? 0;
      if (
        typeof v !== "number" || !Number.isFinite(v) || v < min ||
        (rule.integer && !Number.isInteger(v))
      ) {
        throw error(
          `"${where}${key}" must be ${rule.integer ? "an integer" : "a number"} >= ${min}, ` +
            `got ${JSON.stringify(v)}`,
        );
      }
      return v;
    },

    bool(o: Obj, key: string, where: string, fallback: boolean): boolean {
      const v = o[key];
      if (v === undefined) return fallback;
      if (typeof v !== "boolean") throw error(`"${where}${key}" must be true or false`);
      return v;
    },

    intList(o: Obj, key: string, where: string, min: number): number[] | undefined {
      const v = o[key];
      if (v === undefined) return undefined;
      if (!Array.isArray(v) || v.length === 0) {
        throw error(`"${where}${key}" must be a non-empty list of integers`);
      }
      for (const x of v) {
        if (typeof x !== "number" || !Number.isInteger(x) || x < min) {
          throw error(`"${where}${key}" has ${JSON.stringify(x)}; give integers >= ${min}`);
        }
      }
      const seen = new Set<number>();
      for (const x of v as number[]) {
        if (seen.has(x)) throw error(`"${where}${key}" lists ${x} twice`);
        seen.add(x);
      }
      return v as number[];
    },

    choiceList<T extends string>(
      o: Obj,
      key: string,
      where: string,
      allowed: readonly T[],
    ): T[] | undefined {
      const v = o[key];
      if (v === undefined) return undefined;
      if (!Array.isArray(v) || v.length === 0) {
        throw error(`"${where}${key}" must be a non-empty list of ${allowed.join(", ")}`);
      }
      for (const x of v) {
        if (!(allowed as readonly unknown[]).includes(x)) {
          throw error(
            `"${where}${key}" has ${JSON.stringify(x)}; choose from ${allowed.join(", ")}`,
          );
        }
      }
      return [...new Set(v as T[])];
    },
  };
}

type Reader = ReturnType<typeof createReader>;

const COMMON_KEYS = ["sets", "train", "score", "demo", "out"];
const DEMO_KEYS = ["seed", "dim", "train_per_class", "steps", "out"];

function parseSets(r: Reader, v: unknown): SetNames {
  const sets = r.object(v, "sets");
  r.onlyKeys(sets, ["train", "id", "ood"], "sets");
  const ood = r.object(sets.ood, "sets.ood");
  if (Object.keys(ood).length === 0) {
    throw r.error(`"sets.ood" is empty; name at least one OOD set`);
  }
  return {
    train: r.str(sets, "train", "sets."),
    id: r.str(sets, "id", "sets."),
    ood: Object.entries(ood).map(([name, dir]) => {
      if (typeof dir !== "string" || dir === "") {
        throw r.error(`"sets.ood.${name}" must be a directory name`);
      }
      return { name, dir };
    }),
  };
}

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
  const fpr = score.fpr_convention ?? "paper";
  if (fpr !== "paper" && fpr !== "openood") {
    throw r.error(`"score.fpr_convention" must be paper or openood, got ${JSON.stringify(fpr)}`);
  }
  return fpr;
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

function readDoc(text: string, source: string): Obj {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    const first = (e as Error).message.split("\n")[0];
    throw new DataError(`${source} is not valid YAML: ${first}`);
  }
  return createReader(source).object(doc, "(top level)");
}

function common(r: Reader, root: Obj): AblationCommon {
  return {
    sets: parseSets(r, root.sets),
    train: parseTrain(r, root.train),
    fprConvention: parseFpr(r, root.score),
    out: r.str(root, "out", ""),
  };
}

/**
 * Parses and validates the YAML text of one ablation's config; `source` names the file in errors
 * (`DataError`: invalid YAML, an unknown key, a bad value).
 *
 * @example
 * ```ts
 * const cfg = parseAblationExperiment(text, "experiments/grouping.yaml", "grouping");
 * cfg.k; // 8
 * ```
 */
export function parseAblationExperiment<K extends AblationKind>(
  text: string,
  source: string,
  kind: K,
): AblationConfigs[K] {
  const r = createReader(source);
  const root = readDoc(text, source);
  const out = r.str(root, "out", "");
  const demoRaw = r.object(root.demo ?? {}, "demo");
  switch (kind) {
    case "groups_ablation": {
      r.onlyKeys(root, ["data_root", "groups_ablation", ...COMMON_KEYS], "");
      const g = r.object(root.groups_ablation ?? {}, "groups_ablation");
      r.onlyKeys(
        g,
        ["levels", "strategies", "hierarchy", "kmeans_restarts", "grouping_seed", "compare_paper"],
        "groups_ablation",
      );
      r.onlyKeys(demoRaw, DEMO_KEYS, "demo");
      const cfg: GroupsAblationConfig = {
        kind: "groups_ablation",
        ...common(r, root),
        dataRoot: r.str(root, "data_root", ""),
        levels: parseLevels(r, g, "groups_ablation.") ?? [...TAXONOMY_LEVELS],
        strategies: r.choiceList(g, "strategies", "groups_ablation.", STRATEGIES) ??
          [...STRATEGIES],
        hierarchy: r.str(
          g,
          "hierarchy",
          "groups_ablation.",
          "data/imagenet1k_wordnet_hypernyms.tsv",
        ),
        kmeansRestarts:
          r.num(g, "kmeans_restarts", "groups_ablation.", { integer: true, min: 1 }) ??
            10,
        groupingSeed: r.num(g, "grouping_seed", "groups_ablation.", { integer: true }) ?? 0,
        comparePaper: r.bool(g, "compare_paper", "groups_ablation.", true),
        demo: parseDemo(r, demoRaw, `${out}-demo`),
      };
      return cfg as AblationConfigs[K];
    }
    case "num_classes": {
      r.onlyKeys(root, ["data_root", "num_classes", ...COMMON_KEYS], "");
      const n = r.object(root.num_classes ?? {}, "num_classes");
      r.onlyKeys(
        n,
        ["classes", "settings", "per_class", "total_images", "sample_seed"],
        "num_classes",
      );
      r.onlyKeys(demoRaw, [...DEMO_KEYS, "per_class", "total_images"], "demo");
      const classes = r.intList(n, "classes", "num_classes.", 2) ??
        [50, 200, 300, 400, 500, 600, 700, 800, 900, 1000];
      const cfg: NumClassesConfig = {
        kind: "num_classes",
        ...common(r, root),
        dataRoot: r.str(root, "data_root", ""),
        classes: [...classes].sort((a, b) => a - b),
        settings: r.choiceList(n, "settings", "num_classes.", ["per_class", "fixed_total"]) ??
          ["per_class", "fixed_total"],
        perClass: r.num(n, "per_class", "num_classes.", { integer: true, min: 1 }) ?? 700,
        totalImages: r.num(n, "total_images", "num_classes.", { integer: true, min: 1 }) ?? 35000,
        sampleSeed: r.num(n, "sample_seed", "num_classes.", { integer: true }) ?? 0,
        demo: {
          ...parseDemo(r, demoRaw, `${out}-demo`),
          perClass: r.num(demoRaw, "per_class", "demo.", { integer: true, min: 1 }) ?? 30,
          totalImages: r.num(demoRaw, "total_images", "demo.", { integer: true, min: 1 }) ?? 1500,
        },
      };
      return cfg as AblationConfigs[K];
    }
    case "grouping": {
      r.onlyKeys(root, ["data_root", "grouping", ...COMMON_KEYS], "");
      const g = r.object(root.grouping ?? {}, "grouping");
      r.onlyKeys(
        g,
        ["k", "strategies", "hierarchy", "kmeans_restarts", "grouping_seed"],
        "grouping",
      );
      r.onlyKeys(demoRaw, DEMO_KEYS, "demo");
      const cfg: GroupingConfig = {
        kind: "grouping",
        ...common(r, root),
        dataRoot: r.str(root, "data_root", ""),
        k: r.num(g, "k", "grouping.", { integer: true, min: 2 }) ?? 8,
        strategies: r.choiceList(g, "strategies", "grouping.", STRATEGIES) ?? [...STRATEGIES],
        hierarchy: r.str(g, "hierarchy", "grouping.", "data/imagenet1k_wordnet_hypernyms.tsv"),
        kmeansRestarts: r.num(g, "kmeans_restarts", "grouping.", { integer: true, min: 1 }) ?? 10,
        groupingSeed: r.num(g, "grouping_seed", "grouping.", { integer: true }) ?? 0,
        demo: parseDemo(r, demoRaw, `${out}-demo`),
      };
      return cfg as AblationConfigs[K];
    }
    case "backbones": {
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
      const cfg: BackbonesConfig = {
        kind: "backbones",
        ...common(r, root),
        backbones,
        demo: {
          ...parseDemo(r, demoRaw, `${out}-demo`),
          dims: r.intList(demoRaw, "dims", "demo.", 2) ?? [64, 128, 256],
        },
      };
      return cfg as AblationConfigs[K];
    }
  }
  throw new RangeError(`Unknown ablation kind ${JSON.stringify(kind)}`);
}
