/**
 * The taxonomy levels -3..6 of the paper's Table 2 ablation (appendix B.2).
 *
 * Level 0 is the paper's 8 super-classes exactly as the released code lists them
 * (`data/imagenet1k_classes.tsv`: animal 398, artifact 521, geological formation 9, fungus 7,
 * misc 52, natural object 8, person 3, plant 2), passed in as `level0Groups` / `level0Names`.
 *
 * Negative levels merge super-classes; appendix B.2 lists them as:
 * > Level -3 There are 2 groups in Level -3: {animal, plant, fungus}, {artifact, natural object,
 * > geological formation, person, misc}.
 * > Level -2 There are 3 groups in Level -2: {animal, plant, fungus}, {artifact, natural object},
 * > {geological formation, person, misc}.
 * > Level -1 There are 6 groups in Level -1: {animal, plant, fungus}, {artifact}, {natural object},
 * > {geological formation}, {person}, {misc}.
 *
 * Positive levels: "Groups in Level i are direct children of the nodes in Level (i - 1)" in the
 * WordNet hypernym DAG. The paper does not publish its exact rule, so ours is:
 * - Level-0 nodes: each super-class is the WordNet synset of the same name (WordNet has two
 *   "plant" synsets; the one that is an ancestor of most of the group's classes wins, ties by
 *   smallest wnid). "misc" is not a synset: following the paper's Figure 10 ("The super-class of
 *   misc contains 3 leaf nodes: abstract entity, matter, and location") it is a virtual node whose
 *   children are the synsets `abstraction`, `matter` and `location`, so level 1 splits misc into
 *   (at most) those three groups and level 2 into their children.
 * - Label spaces larger than ImageNet-1k (ImageNet-21k) hold misc classes below none of those
 *   three synsets (`organism`, `cell`, `land`, ...). Such a class hangs from the most specific of
 *   the fallback nodes `physical entity` and `entity` ({@linkcode DEFAULT_FALLBACK_NODES}) that is
 *   its ancestor, as one more child of the virtual misc node. A fallback node is used only by
 *   classes below none of the primary nodes, so the ImageNet-1k levels do not change.
 * - A class below several of its super-class's nodes hangs from the most specific of them (those
 *   that are not an ancestor of another one it is below).
 * - Each class follows ONE path down from its super-class node. In a DAG a node can have several
 *   parents; walking up from the class we take the parent (among those below the super-class node)
 *   that covers the fewest classes of the label space, i.e. the most specific hypernym, ties by
 *   smallest wnid. This keeps small, specific branches apart the way a tree drawn from the classes
 *   would, and of the rules we tried it comes closest to the paper's counts (longest path to the
 *   root gives 34/81/193/352/522/664 for levels 1..6, shortest path 37/87/238/442/674/819, fewest
 *   classes 37/85/216/407/625/788 against the paper's 36/85/225/416/642/789).
 * - A class whose path ends above level i (the class node itself is reached earlier) stays in its
 *   own singleton group at every deeper level; its deepest node is the class itself, so "alone" and
 *   "with its deepest node" coincide.
 * - Groups of level i >= 1 are keyed by (super-class, node), so every level refines level 0 and
 *   level i - 1 even where two super-classes' paths meet in one WordNet node.
 *
 * Order: level 0 keeps the given groups and their in-group order (the released code's sub order).
 * Merged and deeper groups list classes ascending by class id; groups are ordered by super-class
 * (level-0 order) and then by their smallest class id.
 *
 * @module
 */
import { DataError, UsageError } from "../errors.ts";
import { validateGroups } from "../groups.ts";
import { ancestorSets, classNodes, type Hierarchy, nodesNamed } from "./hierarchy.ts";

/** The paper's Table 2 group counts per taxonomy level. */
export const PAPER_GROUP_COUNTS: Readonly<Record<number, number>> = Object.freeze({
  [-3]: 2,
  [-2]: 3,
  [-1]: 6,
  0: 8,
  1: 36,
  2: 85,
  3: 225,
  4: 416,
  5: 642,
  6: 789,
});

/** The taxonomy levels of Table 2, in order. */
export const TAXONOMY_LEVELS: readonly number[] = Object.freeze([-3, -2, -1, 0, 1, 2, 3, 4, 5, 6]);

/** Appendix B.2's merges of the super-classes for levels -3, -2, -1. */
export const LEVEL_MERGES: Readonly<Record<number, readonly (readonly string[])[]>> = Object.freeze(
  {
    [-3]: [
      ["animal", "plant", "fungus"],
      ["artifact", "natural object", "geological formation", "person", "misc"],
    ],
    [-2]: [
      ["animal", "plant", "fungus"],
      ["artifact", "natural object"],
      ["geological formation", "person", "misc"],
    ],
    [-1]: [
      ["animal", "plant", "fungus"],
      ["artifact"],
      ["natural object"],
      ["geological formation"],
      ["person"],
      ["misc"],
    ],
  },
);

/**
 * The hierarchy nodes (names or wnids) under each super-class that is not itself a synset name.
 * "misc" follows the paper's Figure 10.
 */
export const DEFAULT_GROUP_NODES: Readonly<Record<string, readonly string[]>> = Object.freeze({
  misc: ["abstraction", "matter", "location"],
});

/**
 * Nodes a super-class's classes hang from when they are below none of its
 * {@linkcode DEFAULT_GROUP_NODES} (misc classes of ImageNet-21k such as `organism`).
 */
export const DEFAULT_FALLBACK_NODES: Readonly<Record<string, readonly string[]>> = Object.freeze({
  misc: ["physical entity", "entity"],
});

/** Inputs of {@linkcode taxonomyLevel}. */
export interface TaxonomyOptions {
  /** The class hierarchy (WordNet hypernyms for ImageNet). */
  hierarchy: Hierarchy;
  /** Class wnids in class-id order (ImageNet: the wnid column of data/imagenet1k_classes.tsv). */
  classes: readonly string[];
  /** The level-0 groups: class ids per super-class, in slice order. */
  level0Groups: readonly (readonly number[])[];
  /** Super-class names, one per level-0 group ("geological_formation" and "geological formation" both work). */
  level0Names: readonly string[];
  /** Hierarchy nodes (names or wnids) for super-classes that are not a node name; default {@linkcode DEFAULT_GROUP_NODES}. */
  groupNodes?: Readonly<Record<string, readonly string[]>>;
  /** Nodes for classes below none of `groupNodes`' nodes; default {@linkcode DEFAULT_FALLBACK_NODES}. */
  fallbackNodes?: Readonly<Record<string, readonly string[]>>;
}

/** A grouping: class ids per group and a readable name per group. */
export interface Grouping {
  /** Class ids of each group. */
  groups: number[][];
  /** A readable name per group, in the order of `groups`. */
  names: string[];
}

/** Lower-cases and turns underscores into spaces, so "natural_object" matches "natural object". */
export function normalizeGroupName(name: string): string {
  return name.trim().toLowerCase().replace(/_/g, " ").replace(/\s+/g, " ");
}

/**
 * The grouping of one taxonomy level (-3..6). Throws `UsageError` for a level outside -3..6 and
 * `DataError` when the level-0 groups, the class list and the hierarchy do not fit together.
 *
 * @example
 * ```ts
 * import { readHierarchy } from "./hierarchy.ts";
 * const hierarchy = await readHierarchy("data/imagenet1k_wordnet_hypernyms.tsv");
 * // ImageNet-1k wnids in class-id order and the paper's 8 super-classes (class ids, names).
 * declare const classes: string[], level0Groups: number[][], level0Names: string[];
 * const { groups, names } = taxonomyLevel(-1, { hierarchy, classes, level0Groups, level0Names });
 * groups.length; // 6
 * ```
 */
export function taxonomyLevel(level: number, options: TaxonomyOptions): Grouping {
  if (!TAXONOMY_LEVELS.includes(level)) {
    throw new UsageError(
      `Taxonomy level ${JSON.stringify(level)} is not available; use an integer from -3 to 6`,
    );
  }
  const { level0Groups, level0Names, classes } = options;
  if (level0Names.length !== level0Groups.length) {
    throw new DataError(
      `Got ${level0Groups.length} level-0 groups but ${level0Names.length} names; ` +
        `give one name per super-class group`,
    );
  }
  const names0 = level0Names.map(normalizeGroupName);
  validateGroups(level0Groups.map((g) => [...g]), classes.length, "level-0 taxonomy groups");
  if (level === 0) {
    return { groups: level0Groups.map((g) => [...g]), names: names0 };
  }
  if (level < 0) return mergeLevel(level, level0Groups, names0);
  return deeperLevel(level, options, names0);
}

/** Every taxonomy level -3..6 at once (the shared walk up the hierarchy is done per level). */
export function taxonomyLevels(options: TaxonomyOptions): Map<number, Grouping> {
  const out = new Map<number, Grouping>();
  for (const level of TAXONOMY_LEVELS) out.set(level, taxonomyLevel(level, options));
  return out;
}

function mergeLevel(
  level: number,
  level0Groups: readonly (readonly number[])[],
  names0: string[],
): Grouping {
  const merges = LEVEL_MERGES[level];
  const used = new Set<string>();
  const groups = merges.map((members) =>
    members.flatMap((m) => {
      const k = names0.indexOf(m);
      if (k === -1) {
        throw new DataError(
          `Taxonomy level ${level} merges the paper's ImageNet super-classes but the level-0 groups ` +
            `have no "${m}" (they are ${
              names0.join(", ")
            }); use levels 0..6 for other label spaces`,
        );
      }
      used.add(m);
      return [...level0Groups[k]];
    }).sort((a, b) => a - b)
  );
  const left = names0.filter((n) => !used.has(n));
  if (left.length > 0) {
    throw new DataError(
      `Taxonomy level ${level} has no place for the level-0 group "${left[0]}"; ` +
        `negative levels need exactly the paper's 8 super-classes`,
    );
  }
  return { groups, names: merges.map((m) => m.join(" + ")) };
}

function deeperLevel(level: number, options: TaxonomyOptions, names0: string[]): Grouping {
  const h = options.hierarchy;
  const nodes = classNodes(h, options.classes);
  const anc = ancestorSets(h);
  // How many label-space classes each node covers: the "most specific parent" rule's measure.
  const covered = new Int32Array(h.wnids.length);
  for (const n of nodes) for (const a of anc[n]) covered[a]++;

  const keyed = new Map<string, { group0: number; node: number; classes: number[] }>();
  options.level0Groups.forEach((members, g) => {
    const { rootsOf, virtual } = superClassRoots(options, names0[g], members, nodes, anc);
    // Several roots (misc) sit under a virtual super-class node, one level above them.
    const depth = level - (virtual ? 1 : 0);
    members.forEach((c, m) => {
      const roots = rootsOf[m];
      const below = (n: number) => roots.some((r) => anc[n].has(r));
      const path = [nodes[c]];
      let cur = nodes[c];
      while (!roots.includes(cur)) {
        let best = -1;
        for (const p of h.parents[cur]) {
          if (!below(p)) continue;
          // Parents are sorted by wnid, so strict < keeps the smallest wnid on ties.
          if (best === -1 || covered[p] < covered[best]) best = p;
        }
        cur = best;
        path.push(cur);
      }
      path.reverse();
      const target = path[Math.min(depth, path.length - 1)];
      const key = `${g}:${target}`;
      const entry = keyed.get(key) ?? { group0: g, node: target, classes: [] };
      entry.classes.push(c);
      keyed.set(key, entry);
    });
  });
  const entries = [...keyed.values()];
  entries.forEach((e) => e.classes.sort((a, b) => a - b));
  entries.sort((a, b) => a.group0 - b.group0 || a.classes[0] - b.classes[0]);
  return {
    groups: entries.map((e) => e.classes),
    names: entries.map((e) => `${h.names[e.node]} (${h.wnids[e.node]})`),
  };
}

/**
 * The hierarchy nodes of each level-0 group (node indices into `options.hierarchy`), resolved as
 * the deeper levels resolve them: the group's name or its {@linkcode DEFAULT_GROUP_NODES} entries,
 * a name shared by several nodes meaning the one above most of the group's classes. Fallback nodes
 * are not included. A group with no such node is a `DataError`.
 */
export function levelZeroNodes(options: TaxonomyOptions): number[][] {
  const h = options.hierarchy;
  const nodes = classNodes(h, options.classes);
  const anc = ancestorSets(h);
  const groupNodes = options.groupNodes ?? DEFAULT_GROUP_NODES;
  return options.level0Groups.map((members, g) => {
    const name = normalizeGroupName(options.level0Names[g]);
    const entries = groupNodes[name] ?? [name];
    const roots = resolveNodes(h, entries, members, nodes, anc);
    if (roots.length === 0) throw noNodeError(h, name, entries);
    return roots;
  });
}

/**
 * The nodes each class of one super-class hangs from (the most specific of the group's nodes it is
 * below, else of the fallback nodes), and whether the group has several (a virtual group node).
 */
function superClassRoots(
  options: TaxonomyOptions,
  name: string,
  members: readonly number[],
  nodes: Int32Array,
  anc: Set<number>[],
): { rootsOf: number[][]; virtual: boolean } {
  const h = options.hierarchy;
  const entries = (options.groupNodes ?? DEFAULT_GROUP_NODES)[name] ?? [name];
  const fallbackEntries = (options.fallbackNodes ?? DEFAULT_FALLBACK_NODES)[name] ?? [];
  const primary = resolveNodes(h, entries, members, nodes, anc);
  const fallback = resolveNodes(h, fallbackEntries, members, nodes, anc);
  if (primary.length === 0 && fallback.length === 0) throw noNodeError(h, name, entries);
  const used = new Set<number>();
  const rootsOf = members.map((c) => {
    const above = (list: number[]) => list.filter((r) => anc[nodes[c]].has(r));
    let mine = above(primary);
    if (mine.length === 0) mine = above(fallback);
    mine = mine.filter((r) => !mine.some((o) => o !== r && anc[o].has(r)));
    if (mine.length === 0) {
      throw new DataError(
        `${h.source}: class ${c} "${options.classes[c]}" of super-class "${name}" is not below ` +
          `its node(s) ${
            [...primary, ...fallback].map((r) => h.wnids[r]).join(", ")
          }; fix the class's parents or its group`,
      );
    }
    for (const r of mine) used.add(r);
    return mine;
  });
  return { rootsOf, virtual: used.size > 1 };
}

function noNodeError(h: Hierarchy, groupName: string, entries: readonly string[]): DataError {
  return new DataError(
    `${h.source}: no node named ${entries.map((e) => `"${e}"`).join(" or ")} is an ancestor of ` +
      `the super-class "${groupName}"'s classes; add the node or map the super-class to ` +
      `hierarchy nodes (groupNodes)`,
  );
}

/**
 * Hierarchy nodes of one super-class. Each entry is a wnid or a node name; a name shared by several
 * nodes resolves to the one that is an ancestor of most of the group's classes, ties by wnid. An
 * entry above none of the group's classes is skipped (a label space without, say, a "location"
 * class still has a misc group); classes left uncovered are reported by the caller.
 */
function resolveNodes(
  h: Hierarchy,
  entries: readonly string[],
  members: readonly number[],
  nodes: Int32Array,
  anc: Set<number>[],
): number[] {
  const roots: number[] = [];
  for (const entry of entries) {
    const direct = h.index.get(entry);
    const candidates = direct !== undefined ? [direct] : nodesNamed(h, entry);
    let best = -1;
    let bestCount = 0;
    for (const cand of candidates) {
      let count = 0;
      for (const c of members) if (anc[nodes[c]].has(cand)) count++;
      if (count > bestCount) {
        best = cand;
        bestCount = count;
      }
    }
    if (best !== -1 && !roots.includes(best)) roots.push(best);
  }
  return roots;
}
