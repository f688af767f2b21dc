/**
 * The ImageNet-1k class table `data/imagenet1k_classes.tsv` (sorted-wnid class order, MOS
 * taxonomy group and in-group order from the paper's released code, devkit index) and the 8
 * taxonomy groups derived from it.
 *
 * @module
 */
import { DataError } from "../errors.ts";

/** One ImageNet-1k class. */
export interface ClassInfo {
  /** Class index 0..999 (sorted-wnid order, the label space of feature sets). */
  index: number;
  /** WordNet id, e.g. "n01440764". */
  wnid: string;
  /** Readable class name. */
  name: string;
  /** MOS taxonomy group name, e.g. "animal". */
  group: string;
  /** Position of the group in the MOS group order. */
  groupIndex: number;
  /** Position of the class inside its group (slice index is `subIndex + 1`). */
  subIndex: number;
  /** 1-based index in the ILSVRC2012 devkit's meta.mat. */
  devkitIndex: number;
}

const HEADER = [
  "index",
  "wnid",
  "name",
  "mos_group",
  "mos_group_index",
  "mos_sub_index",
  "devkit_index",
];
const NUM_CLASSES = 1000;

/** Path of the shipped class table, resolved relative to this module. */
export function defaultClassTablePath(): string {
  const url = new URL("../../data/imagenet1k_classes.tsv", import.meta.url);
  return url.protocol === "file:" ? decodeURIComponent(url.pathname) : url.href;
}

/**
 * Reads and validates the class table: the exact header, 1000 rows in index order, integer
 * columns, `n########` wnids. Throws a `DataError` naming the line.
 */
export async function readClassTable(
  path: string = defaultClassTablePath(),
): Promise<ClassInfo[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new DataError(`Class table ${path} not found; restore data/imagenet1k_classes.tsv`);
    }
    throw err;
  }
  const lines = text.replace(/\r/g, "").replace(/\n+$/, "").split("\n");
  if (lines[0] !== HEADER.join("\t")) {
    throw new DataError(
      `${path}: header must be "${HEADER.join("\\t")}", got ${JSON.stringify(lines[0])}`,
    );
  }
  if (lines.length - 1 !== NUM_CLASSES) {
    throw new DataError(`${path} has ${lines.length - 1} class rows; expected ${NUM_CLASSES}`);
  }
  const table: ClassInfo[] = [];
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i].split("\t");
    const where = `${path} line ${i + 1}`;
    if (f.length !== HEADER.length) {
      throw new DataError(`${where} has ${f.length} columns; expected ${HEADER.length}`);
    }
    const ints = [f[0], f[4], f[5], f[6]].map((s) => (/^\d+$/.test(s) ? Number(s) : NaN));
    if (ints.some(Number.isNaN)) {
      throw new DataError(`${where}: index columns must be non-negative integers`);
    }
    const [index, groupIndex, subIndex, devkitIndex] = ints;
    if (index !== i - 1) {
      throw new DataError(`${where}: index ${index} out of order; expected ${i - 1}`);
    }
    if (!/^n\d{8}$/.test(f[1])) throw new DataError(`${where}: bad wnid ${JSON.stringify(f[1])}`);
    table.push({ index, wnid: f[1], name: f[2], group: f[3], groupIndex, subIndex, devkitIndex });
  }
  return table;
}

/**
 * The taxonomy grouping: groups ordered by `groupIndex`, each group's class ids ordered by
 * `subIndex` (so class `groups[k][j]` sits at slice index `j + 1`). Checks that group indices and
 * sub indices are contiguous from 0 and that each group index has one name.
 */
export function taxonomyGroups(table: readonly ClassInfo[]): number[][] {
  const byGroup = new Map<number, ClassInfo[]>();
  for (const c of table) {
    const list = byGroup.get(c.groupIndex) ?? [];
    list.push(c);
    byGroup.set(c.groupIndex, list);
  }
  const groups: number[][] = [];
  for (let k = 0; k < byGroup.size; k++) {
    const members = byGroup.get(k);
    if (!members) {
      throw new DataError(`Class table: group index ${k} is missing; group indices must be 0..K-1`);
    }
    const name = members[0].group;
    const other = members.find((c) => c.group !== name);
    if (other) {
      throw new DataError(
        `Class table: group index ${k} is named both "${name}" and "${other.group}" ` +
          `(class ${other.index})`,
      );
    }
    const ids = new Array<number>(members.length).fill(-1);
    for (const c of members) {
      if (c.subIndex >= members.length || ids[c.subIndex] !== -1) {
        throw new DataError(
          `Class table: class ${c.index} has sub index ${c.subIndex} in group "${name}" of ` +
            `${members.length} classes; sub indices must be 0..${members.length - 1}, each once`,
        );
      }
      ids[c.subIndex] = c.index;
    }
    groups.push(ids);
  }
  return groups;
}

/** Group names in the order of {@linkcode taxonomyGroups}. */
export function taxonomyGroupNames(table: readonly ClassInfo[]): string[] {
  const names: string[] = [];
  for (const c of table) names[c.groupIndex] = c.group;
  return names;
}
