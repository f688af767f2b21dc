/**
 * Label spaces: the classes a head predicts, their hypernym DAG and the taxonomy's level 0.
 *
 * - `imagenet1k`: data/imagenet1k_classes.tsv (sorted-wnid order) with the released code's eight
 *   super-class lists as level 0 and data/imagenet1k_wordnet_hypernyms.tsv.
 * - `imagenet21k`: data/imagenet21k_classes.tsv, the 21,843 synsets in the order of BiT-M's head,
 *   and data/imagenet21k_wordnet_hypernyms.tsv; level 0 assigned by hypernym ancestry
 *   (lib/grouping/super_classes.ts) with the super-class synsets derived from the 1k lists.
 * - a FILE.tsv in the 21k format (`index`, `wnid`, `name`, `parents`: comma-separated parent wnids),
 *   classes in head order. Its DAG is the 21k hypernym DAG plus a row for each class it lacks, so
 *   a class outside WordNet's 21k synsets needs parents that are in it (or in the file).
 *
 * Every level -3..6 then follows lib/grouping/taxonomy_levels.ts, the same rules at every size.
 * ImageNet-21k gets level 0 = animal 3,821, artifact 7,881, geological formation 149, fungus 299,
 * misc 2,722, natural object 359, person 2,836, plant 3,776 classes, and 461, 1,668, 4,330, 8,211,
 * 12,211, 15,841 groups at levels 1..6 (`deno task taxonomy --label-space imagenet21k`).
 *
 * @module
 */
import { DataError, UsageError } from "../errors.ts";
import { readClassTable, taxonomyGroupNames, taxonomyGroups } from "../io/classes.ts";
import { type Hierarchy, parseHierarchy, readHierarchy } from "./hierarchy.ts";
import {
  assignSuperClasses,
  deriveSuperClassNodes,
  type SuperClassNodes,
} from "./super_classes.ts";
import {
  type Grouping,
  normalizeGroupName,
  TAXONOMY_LEVELS,
  taxonomyLevel,
} from "./taxonomy_levels.ts";

/** The shipped label spaces (`--label-space` names); anything else is a class-list file. */
export const LABEL_SPACE_NAMES = ["imagenet1k", "imagenet21k"] as const;

/** A label space with what its taxonomy levels need. */
export interface LabelSpace {
  /** `imagenet1k`, `imagenet21k` or the class-list file's path. */
  id: string;
  /** Class wnids in class-id (head) order. */
  classes: string[];
  /** Readable class names, same order. */
  classNames: string[];
  /** WordNet hypernym DAG that places every class (a class list's own parents join it). */
  hierarchy: Hierarchy;
  /** Level 0: class ids per super-class (1k: the released in-group order; else ascending). */
  level0Groups: number[][];
  /** Super-class names, normalised ("natural object"). */
  level0Names: string[];
}

/** Path of a shipped data file, resolved relative to this module. */
export function dataFile(name: string): string {
  const url = new URL(`../../data/${name}`, import.meta.url);
  return url.protocol === "file:" ? decodeURIComponent(url.pathname) : url.href;
}

/** One row of a 21k-format class list. */
export interface ClassRow {
  wnid: string;
  name: string;
  parents: string[];
}

const LIST_HEADER = ["index", "wnid", "name", "parents"];

/**
 * Parses a class list in the 21k format: header `index wnid name parents` (tab-separated), rows in
 * index order 0..C-1. Throws `DataError` naming `source` and the line.
 */
export function parseClassList(text: string, source: string): ClassRow[] {
  const lines = text.replace(/\r/g, "").replace(/\n+$/, "").split("\n");
  if (lines[0] !== LIST_HEADER.join("\t")) {
    throw new DataError(
      `${source}: header must be "${LIST_HEADER.join("\\t")}", got ${
        JSON.stringify(lines[0])
      }; give a class list like data/imagenet21k_classes.tsv`,
    );
  }
  const rows: ClassRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i].split("\t");
    const where = `${source} line ${i + 1}`;
    if (f.length < 3 || f[1].trim() === "") {
      throw new DataError(`${where} needs index, wnid, name and parents separated by tabs`);
    }
    if (f[0] !== String(i - 1)) {
      throw new DataError(
        `${where}: index ${JSON.stringify(f[0])} out of order; expected ${i - 1}`,
      );
    }
    const parents = (f[3] ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
    rows.push({ wnid: f[1].trim(), name: f[2].trim(), parents });
  }
  if (rows.length < 2) {
    throw new DataError(`${source} lists ${rows.length} classes; a label space needs at least 2`);
  }
  return rows;
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    throw new DataError(
      `Cannot read ${what} ${path} (${(err as Error).message}); ` +
        `give imagenet1k, imagenet21k or a readable class-list TSV`,
    );
  }
}

/** The super-class synsets, derived once from the shipped ImageNet-1k lists and DAG. */
export async function imagenetSuperClassNodes(): Promise<SuperClassNodes> {
  const table = await readClassTable();
  return deriveSuperClassNodes({
    hierarchy: await readHierarchy(dataFile("imagenet1k_wordnet_hypernyms.tsv")),
    classes: table.map((c) => c.wnid),
    level0Groups: taxonomyGroups(table),
    level0Names: taxonomyGroupNames(table),
  });
}

/**
 * Loads a label space by name (`imagenet1k`, `imagenet21k`) or class-list path. Throws `DataError`
 * for an unreadable or malformed file or a class the hierarchy cannot place.
 *
 * @example
 * ```ts
 * const space = await loadLabelSpace("imagenet21k");
 * labelSpaceLevel(space, 0).groups.length; // 8
 * ```
 */
export async function loadLabelSpace(spec: string): Promise<LabelSpace> {
  if (spec === "imagenet1k") {
    const table = await readClassTable();
    return {
      id: spec,
      classes: table.map((c) => c.wnid),
      classNames: table.map((c) => c.name),
      hierarchy: await readHierarchy(dataFile("imagenet1k_wordnet_hypernyms.tsv")),
      level0Groups: taxonomyGroups(table),
      level0Names: taxonomyGroupNames(table).map(normalizeGroupName),
    };
  }
  const path = spec === "imagenet21k" ? dataFile("imagenet21k_classes.tsv") : spec;
  const rows = parseClassList(await readText(path, "the class list"), path);
  const dagPath = dataFile("imagenet21k_wordnet_hypernyms.tsv");
  const dagText = await readText(dagPath, "the hierarchy");
  let hierarchy: Hierarchy;
  if (spec === "imagenet21k") {
    hierarchy = parseHierarchy(dagText, dagPath);
  } else {
    // The file's classes that WordNet's 21k DAG lacks join it with their own parents.
    const known = new Set(dagText.split("\n").map((l) => l.slice(0, l.indexOf("\t"))));
    const extra = rows.filter((r) => !known.has(r.wnid))
      .map((r) => `${r.wnid}\t${r.name}\t${r.parents.join(",")}`);
    const text = dagText.replace(/\n*$/, "\n") + extra.join("\n");
    hierarchy = parseHierarchy(text, `${path} + ${dagPath}`);
  }
  const classes = rows.map((r) => r.wnid);
  const level0 = assignSuperClasses({
    hierarchy,
    classes,
    nodes: await imagenetSuperClassNodes(),
  });
  return {
    id: spec,
    classes,
    classNames: rows.map((r) => r.name),
    hierarchy,
    level0Groups: level0.groups,
    level0Names: level0.names,
  };
}

/** The grouping of one taxonomy level (-3..6) of a label space. */
export function labelSpaceLevel(space: LabelSpace, level: number): Grouping {
  return taxonomyLevel(level, {
    hierarchy: space.hierarchy,
    classes: space.classes,
    level0Groups: space.level0Groups,
    level0Names: space.level0Names,
  });
}

/**
 * The taxonomy level (-3..6) of `space` with exactly `k` groups, for features over `numClasses`
 * classes. A different class count is a `DataError`; no level with k groups a `UsageError`
 * listing the counts there are, naming `k` as `o.label` (default "group count") and ending with
 * `o.hint` (default: pick a listed count or group another way). A task passes its flag wording.
 */
export function levelWithGroups(
  space: LabelSpace,
  k: number,
  numClasses: number,
  o: { label?: string; hint?: string } = {},
): Grouping {
  if (numClasses !== space.classes.length) {
    throw new DataError(
      `Taxonomy groups of label space ${space.id} cover ${space.classes.length} classes but the ` +
        `features have ${numClasses}; pass the label space the features were labelled in`,
    );
  }
  const counts: number[] = [];
  for (const level of TAXONOMY_LEVELS) {
    // Levels -3..-1 merge the paper's eight super-classes; a space with fewer has none.
    if (level < 0 && space.level0Groups.length !== 8) continue;
    const g = labelSpaceLevel(space, level);
    if (g.groups.length === k) return g;
    counts.push(g.groups.length);
  }
  throw new UsageError(
    `${o.label ?? "group count"} ${k}: no taxonomy level of ${space.id} has ${k} groups ` +
      `(they have ${counts.join(", ")}); ` +
      (o.hint ?? "pick one of these or group the classes by another strategy than taxonomy"),
  );
}
