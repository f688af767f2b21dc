/**
 * The YAML config of a paper-table experiment (experiments/table1.yaml): which feature sets, how
 * to train the two heads, how to score. Unknown keys are errors, so a typo never silently falls
 * back to a default.
 *
 * @module
 */
import { parse } from "yaml";
import { DataError } from "../errors.ts";
import { type OodGroups, parseOodGroups } from "./ood_groups.ts";

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

type Obj = Record<string, unknown>;

function object(v: unknown, where: string, source: string): Obj {
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw new DataError(`${source}: "${where}" must be a mapping`);
  }
  return v as Obj;
}

function onlyKeys(o: Obj, allowed: string[], where: string, source: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) {
      throw new DataError(
        `${source}: unknown key "${where ? `${where}.` : ""}${k}"; allowed: ${allowed.join(", ")}`,
      );
    }
  }
}

function str(o: Obj, key: string, where: string, source: string): string {
  const v = o[key];
  if (typeof v !== "string" || v === "") {
    throw new DataError(`${source}: "${where}${key}" must be a non-empty string`);
  }
  return v;
}

function num(o: Obj, key: string, where: string, source: string, integer: boolean) {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || (integer && !Number.isInteger(v))) {
    throw new DataError(
      `${source}: "${where}${key}" must be a non-negative ${integer ? "integer" : "number"}, ` +
        `got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

/** Parses and validates experiment YAML text; `source` names the file in errors. */
export function parsePaperExperiment(text: string, source: string): PaperExperiment {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    // The yaml library's first line ends with ":" before a source excerpt; drop it.
    const first = (e as Error).message.split("\n")[0].replace(/:\s*$/, "");
    throw new DataError(`${source} is not valid YAML: ${first}`);
  }
  const root = object(doc, "(top level)", source);
  onlyKeys(root, ["data_root", "sets", "train", "score", "out", "ood_groups"], "", source);
  const sets = object(root.sets, "sets", source);
  onlyKeys(sets, ["train", "id", "ood"], "sets", source);
  const ood = object(sets.ood, "sets.ood", source);
  if (Object.keys(ood).length === 0) throw new DataError(`${source}: "sets.ood" is empty`);
  const train = object(root.train ?? {}, "train", source);
  onlyKeys(train, ["seed", "steps", "batch", "lr", "warmup", "mixup"], "train", source);
  const score = object(root.score ?? {}, "score", source);
  onlyKeys(score, ["kl_variant", "fpr_convention", "odin_temperature"], "score", source);
  const kl = score.kl_variant ?? "paper";
  if (kl !== "paper" && kl !== "clean") {
    throw new DataError(`${source}: "score.kl_variant" must be paper or clean, got ${kl}`);
  }
  const fpr = score.fpr_convention ?? "paper";
  if (fpr !== "paper" && fpr !== "openood") {
    throw new DataError(`${source}: "score.fpr_convention" must be paper or openood, got ${fpr}`);
  }
  const steps = num(train, "steps", "train.", source, true);
  if (steps === 0) throw new DataError(`${source}: "train.steps" must be >= 1`);
  const batch = num(train, "batch", "train.", source, true);
  if (batch === 0) throw new DataError(`${source}: "train.batch" must be >= 1`);
  const oodSets = Object.entries(ood).map(([name, dir]) => {
    if (typeof dir !== "string" || dir === "") {
      throw new DataError(`${source}: "sets.ood.${name}" must be a directory name`);
    }
    return { name, dir };
  });
  return {
    dataRoot: str(root, "data_root", "", source),
    sets: {
      train: str(sets, "train", "sets.", source),
      id: str(sets, "id", "sets.", source),
      ood: oodSets,
    },
    train: {
      seed: num(train, "seed", "train.", source, true) ?? 0,
      steps,
      batch,
      lr: num(train, "lr", "train.", source, false),
      warmup: num(train, "warmup", "train.", source, true),
      mixup: num(train, "mixup", "train.", source, false),
    },
    score: {
      klVariant: kl,
      fprConvention: fpr,
      odinTemperature: num(score, "odin_temperature", "score.", source, false) ?? 1000,
    },
    out: str(root, "out", "", source),
    oodGroups: parseOodGroups(root.ood_groups, oodSets.map((o) => o.name), source),
  };
}
