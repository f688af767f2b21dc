/**
 * The paper's published numbers (`results/paper/paper_table1.csv`, `paper_table2_groups.csv`,
 * `paper_table3_aupr.csv`, transcribed from the paper, in percent) parsed into typed records keyed
 * by the toolkit's names: methods `msp, odin, mahalanobis, energy, kl, mos`, data sets
 * `inaturalist, sun, places, textures`. Parsing only; the caller reads the files.
 *
 * @module
 */
import { parse } from "npm:csv-parse@7.0.3/sync";
import { DataError } from "../errors.ts";
import { REGISTRY } from "../detectors/registry.ts";

/** Toolkit data set keys of the paper's four OOD sets, in the paper's column order. */
export const PAPER_DATASETS: readonly string[] = Object.freeze([
  "inaturalist",
  "sun",
  "places",
  "textures",
]);

/** Display names of the paper's data sets, by toolkit key. */
export const PAPER_DATASET_LABELS: Readonly<Record<string, string>> = Object.freeze({
  inaturalist: "iNaturalist",
  sun: "SUN",
  places: "Places",
  textures: "Textures",
});

/** The paper's Table 1 method names, by toolkit key (the registry's labels of its six). */
export const PAPER_METHOD_LABELS: Readonly<Record<string, string>> = Object.freeze(
  Object.fromEntries(REGISTRY.filter((d) => d.paper).map((d) => [d.key, d.label])),
);

/** Grouping strategies of the paper's Table 2 (appendix), toolkit key -> the paper's name. */
export const PAPER_STRATEGY_LABELS: Readonly<Record<string, string>> = Object.freeze({
  taxonomy: "taxonomy",
  clustering: "feature clustering",
  random: "random grouping",
});

/** In-distribution top-1 accuracy (%) from the paper's Section 4.3: flat softmax vs MOS. */
export const PAPER_ACCURACY: Readonly<{ flat: number; group: number }> = Object.freeze({
  flat: 75.2,
  group: 75.16,
});

/** File names of the reference tables inside `results/paper/`. */
export const PAPER_FILES: Readonly<{ table1: string; table2: string; table3: string }> = Object
  .freeze({
    table1: "paper_table1.csv",
    table2: "paper_table2_groups.csv",
    table3: "paper_table3_aupr.csv",
  });

/** Path of the shipped `results/paper/` directory, resolved relative to this module. */
export function defaultPaperDir(): string {
  const url = new URL("../../results/paper/", import.meta.url);
  return url.protocol === "file:" ? decodeURIComponent(url.pathname) : url.href;
}

/** AUROC and FPR95 of one method on one data set, in percent. */
export interface AurocFpr {
  /** AUROC in percent (higher is better). */
  auroc: number;
  /** FPR at 95% TPR in percent (lower is better). */
  fpr95: number;
}

/** One row of the paper's Table 1. */
export interface PaperTable1Row {
  /** Toolkit method key (`msp`, ..., `mos`). */
  method: string;
  /** The paper's name (`KL Matching`). */
  label: string;
  /** Test time in minutes for 60k images (the paper's column). */
  testTimeMin: number;
  /** Per data set key (`inaturalist`, ...). */
  datasets: Record<string, AurocFpr>;
  /** The paper's own "Average" column (mean of the four sets). */
  average: AurocFpr;
}

/** The paper's Table 1, one row per method in the paper's order. */
export type PaperTable1 = PaperTable1Row[];

/** One row of the paper's Table 3 (appendix D); `dataset` is a key or `average`. */
export interface PaperTable3Row {
  /** OOD data set key (`inaturalist`, ...) or `average`. */
  dataset: string;
  /** Toolkit method key (`msp`, ..., `mos`). */
  method: string;
  /** AUROC in percent. */
  auroc: number;
  /** FPR at 95% TPR in percent. */
  fpr95: number;
  /** AUPR with ID as positive (AUPR-In). */
  aupr: number;
}

/** One row of the paper's Table 2 (appendix B.2): MOS at one taxonomy level and strategy. */
export interface PaperTable2Row {
  /** Taxonomy level relative to the 8 super-classes (0), from -3 to 6. */
  level: number;
  /** Number of groups K. */
  numGroups: number;
  /** Toolkit strategy key: `taxonomy`, `clustering` or `random`. */
  strategy: string;
  /** The paper's strategy name. */
  strategyLabel: string;
  /** MOS's AUROC / FPR95 per data set key (`inaturalist`, ...). */
  datasets: Record<string, AurocFpr>;
  /** The paper's own Average column (mean of the four sets). */
  average: AurocFpr;
}

function records(text: string, source: string, header: string[]): Record<string, string>[] {
  let rows: string[][];
  try {
    rows = parse(text, { skip_empty_lines: true, trim: true }) as string[][];
  } catch (err) {
    throw new DataError(`${source} is not valid CSV (${(err as Error).message}); restore it`);
  }
  if (rows.length === 0 || rows[0].join(",") !== header.join(",")) {
    throw new DataError(
      `${source}: header must be "${header.join(",")}", got "${(rows[0] ?? []).join(",")}"`,
    );
  }
  return rows.slice(1).map((r, i) => {
    if (r.length !== header.length) {
      throw new DataError(
        `${source} line ${i + 2} has ${r.length} fields; expected ${header.length}`,
      );
    }
    return Object.fromEntries(header.map((h, j) => [h, r[j]]));
  });
}

function num(rec: Record<string, string>, key: string, source: string, line: number): number {
  const s = rec[key];
  const v = /^-?\d+(\.\d+)?$/.test(s) ? Number(s) : NaN;
  if (!Number.isFinite(v)) {
    throw new DataError(`${source} line ${line}: ${key} must be a number, got "${s}"`);
  }
  return v;
}

function keyOf(table: Readonly<Record<string, string>>, name: string): string | undefined {
  const lower = name.trim().toLowerCase();
  for (const [key, label] of Object.entries(table)) {
    if (key === lower || label.toLowerCase() === lower) return key;
  }
  return undefined;
}

/**
 * Toolkit key of a paper method name (`"KL Matching"` -> `"kl"`, `"MOS (ours)"` -> `"mos"`);
 * `undefined` when it is not one of the paper's six methods.
 */
export function paperMethodKey(name: string): string | undefined {
  return keyOf(PAPER_METHOD_LABELS, name.replace(/\s*\(ours\)\s*$/i, ""));
}

/** Toolkit key of a paper data set name (`"iNaturalist"` -> `"inaturalist"`), else `undefined`. */
export function paperDatasetKey(name: string): string | undefined {
  return keyOf(PAPER_DATASET_LABELS, name);
}

function datasetColumns(): string[] {
  return [...PAPER_DATASETS, "average"].flatMap((d) => [`${d}_auroc`, `${d}_fpr95`]);
}

function aurocFpr(
  rec: Record<string, string>,
  d: string,
  source: string,
  line: number,
): AurocFpr {
  return {
    auroc: num(rec, `${d}_auroc`, source, line),
    fpr95: num(rec, `${d}_fpr95`, source, line),
  };
}

function methodKeyOrThrow(name: string, source: string, line: number): string {
  const key = paperMethodKey(name);
  if (!key) {
    throw new DataError(
      `${source} line ${line}: unknown method "${name}"; expected one of ` +
        `${Object.values(PAPER_METHOD_LABELS).join(", ")}`,
    );
  }
  return key;
}

/**
 * Parses `paper_table1.csv` (header `method,test_time_min,inaturalist_auroc,...,average_fpr95`).
 * `source` names the file in error messages.
 */
export function parsePaperTable1(text: string, source = PAPER_FILES.table1): PaperTable1 {
  const header = ["method", "test_time_min", ...datasetColumns()];
  return records(text, source, header).map((rec, i) => {
    const line = i + 2;
    return {
      method: methodKeyOrThrow(rec.method, source, line),
      label: rec.method,
      testTimeMin: num(rec, "test_time_min", source, line),
      datasets: Object.fromEntries(PAPER_DATASETS.map((d) => [d, aurocFpr(rec, d, source, line)])),
      average: aurocFpr(rec, "average", source, line),
    };
  });
}

/** Parses `paper_table3_aupr.csv` (header `dataset,method,auroc,fpr95,aupr`). */
export function parsePaperTable3(text: string, source = PAPER_FILES.table3): PaperTable3Row[] {
  return records(text, source, ["dataset", "method", "auroc", "fpr95", "aupr"]).map((rec, i) => {
    const line = i + 2;
    const dataset = rec.dataset.toLowerCase() === "average"
      ? "average"
      : paperDatasetKey(rec.dataset);
    if (!dataset) {
      throw new DataError(
        `${source} line ${line}: unknown data set "${rec.dataset}"; expected one of ` +
          `${Object.values(PAPER_DATASET_LABELS).join(", ")}, Average`,
      );
    }
    return {
      dataset,
      method: methodKeyOrThrow(rec.method, source, line),
      auroc: num(rec, "auroc", source, line),
      fpr95: num(rec, "fpr95", source, line),
      aupr: num(rec, "aupr", source, line),
    };
  });
}

/**
 * Parses `paper_table2_groups.csv` (header `level,num_groups,strategy,inaturalist_auroc,...`),
 * the appendix table behind Figs 6 and 7.
 */
export function parsePaperTable2(text: string, source = PAPER_FILES.table2): PaperTable2Row[] {
  const header = ["level", "num_groups", "strategy", ...datasetColumns()];
  return records(text, source, header).map((rec, i) => {
    const line = i + 2;
    const strategy = keyOf(PAPER_STRATEGY_LABELS, rec.strategy);
    if (!strategy) {
      throw new DataError(
        `${source} line ${line}: unknown strategy "${rec.strategy}"; expected one of ` +
          `${Object.values(PAPER_STRATEGY_LABELS).join(", ")}`,
      );
    }
    const level = num(rec, "level", source, line);
    const numGroups = num(rec, "num_groups", source, line);
    if (!Number.isInteger(level) || !Number.isInteger(numGroups) || numGroups < 1) {
      throw new DataError(
        `${source} line ${line}: level and num_groups must be integers (num_groups >= 1)`,
      );
    }
    return {
      level,
      numGroups,
      strategy,
      strategyLabel: rec.strategy,
      datasets: Object.fromEntries(PAPER_DATASETS.map((d) => [d, aurocFpr(rec, d, source, line)])),
      average: aurocFpr(rec, "average", source, line),
    };
  });
}
