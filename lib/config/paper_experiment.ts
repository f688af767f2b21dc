/**
 * The YAML config of a paper-table experiment (experiments/table1.yaml): which feature sets, how
 * to train the two heads, how to score. Read with lib/config/reader.ts: unknown keys are errors,
 * so a typo never silently falls back to a default.
 *
 * @module
 */
import { type OodGroups, parseOodGroups } from "./ood_groups.ts";
import { ConfigReader, parseConfigYaml } from "./reader.ts";

/** A parsed, validated experiment. */
export interface PaperExperiment {
  dataRoot: string;
  sets: { train: string; id: string; ood: { name: string; dir: string }[] };
  train: {
    seed: number;
    steps?: number;
    batch?: number;
    lr?: number;
    warmup?: number;
    mixup?: number;
  };
  score: {
    klVariant: "paper" | "clean";
    fprConvention: "paper" | "openood";
    odinTemperature: number;
  };
  out: string;
  /** Near-OOD / far-OOD sets (`ood_groups`), for the tables' group averages; absent: none. */
  oodGroups?: OodGroups;
}

/** Parses and validates experiment YAML text; `source` names the file in errors (ConfigError). */
export function parsePaperExperiment(text: string, source: string): PaperExperiment {
  const r = new ConfigReader(source);
  const root = parseConfigYaml(text, source);
  r.onlyKeys(root, ["data_root", "sets", "train", "score", "out", "ood_groups"], "");
  const sets = r.sets(root.sets);
  const train = r.object(root.train ?? {}, "train");
  r.onlyKeys(train, ["seed", "steps", "batch", "lr", "warmup", "mixup"], "train");
  const score = r.object(root.score ?? {}, "score");
  r.onlyKeys(score, ["kl_variant", "fpr_convention", "odin_temperature"], "score");
  return {
    dataRoot: r.str(root, "data_root", ""),
    sets,
    train: {
      seed: r.num(train, "seed", "train.", { integer: true }) ?? 0,
      steps: r.num(train, "steps", "train.", { integer: true, min: 1 }),
      batch: r.num(train, "batch", "train.", { integer: true, min: 1 }),
      lr: r.num(train, "lr", "train.", {}),
      warmup: r.num(train, "warmup", "train.", { integer: true }),
      mixup: r.num(train, "mixup", "train.", {}),
    },
    score: {
      klVariant: r.choice(score, "kl_variant", "score.", ["paper", "clean"], "paper"),
      fprConvention: r.choice(score, "fpr_convention", "score.", ["paper", "openood"], "paper"),
      odinTemperature: r.num(score, "odin_temperature", "score.", {}) ?? 1000,
    },
    out: r.str(root, "out", ""),
    oodGroups: parseOodGroups(root.ood_groups, sets.ood.map((o) => o.name), source),
  };
}
