/**
 * Level 0 of the taxonomy for label spaces other than ImageNet-1k (ImageNet-21k, a user's class
 * list): the paper's eight super-classes, assigned by hypernym ancestry.
 *
 * For ImageNet-1k the super-classes are the released code's lists (data/imagenet1k_classes.tsv).
 * Their WordNet synsets are derived from those lists with the deeper levels' rule
 * ({@linkcode levelZeroNodes}): each super-class is the synset of its name, the one above most of
 * its 1k classes where the name is shared (two "plant" synsets: `plant, flora` n00017222 wins), and
 * misc is the paper's Figure 10 trio abstraction n00002137, matter n00020827, location n00027167.
 * On the 1k classes these are common ancestors of the whole group for animal, artifact (teddy
 * aside), fungus, geological formation, natural object, person and plant (for plant the most
 * specific common ancestor is `flower`, too narrow for 21k's 3,776 plants).
 *
 * Assignment rule: a class belongs to the super-class whose synset is NEAREST above it (fewest
 * hypernym links on the shortest path up; strawberry is 6 links below matter via edible fruit,
 * produce, food, solid and 7 below natural object via fruit, so it is misc, as the released lists
 * have it). Ties go to the first super-class in {@linkcode SUPER_CLASS_PRIORITY} (sandbar is 4 links
 * below both natural object and geological formation; the released lists say natural object).
 * A class below none of the synsets (organism, bacteria, cell, land, ...) is misc, "the rest".
 * On the 999 ImageNet-1k classes in ImageNet-21k this reproduces the released lists except for
 * Granny Smith (released: natural object; nearest: misc through edible fruit, like strawberry,
 * orange and lemon, which the released lists put in misc).
 *
 * @module
 */
import { DataError } from "../errors.ts";
import type { Hierarchy } from "./hierarchy.ts";
import {
  type Grouping,
  levelZeroNodes,
  normalizeGroupName,
  type TaxonomyOptions,
} from "./taxonomy_levels.ts";

/** Tie order of {@linkcode assignSuperClasses}: organisms first, misc ("the rest") last. */
export const SUPER_CLASS_PRIORITY: readonly string[] = Object.freeze([
  "person",
  "animal",
  "plant",
  "fungus",
  "natural object",
  "geological formation",
  "artifact",
  "misc",
]);

/** The super-class that takes classes below none of the synsets. */
export const REST_SUPER_CLASS = "misc";

/** Super-class names (in level-0 order) and the wnids of each one's synsets. */
export interface SuperClassNodes {
  names: string[];
  wnids: string[][];
}

/**
 * The synsets of each super-class, derived from a labelled label space (ImageNet-1k: its class
 * table's groups and the 1k hypernym DAG). See the module doc for the rule.
 */
export function deriveSuperClassNodes(options: TaxonomyOptions): SuperClassNodes {
  const roots = levelZeroNodes(options);
  return {
    names: options.level0Names.map(normalizeGroupName),
    wnids: roots.map((r) => r.map((i) => options.hierarchy.wnids[i])),
  };
}

/** Inputs of {@linkcode assignSuperClasses}. */
export interface AssignOptions {
  hierarchy: Hierarchy;
  /** Class wnids in class-id order. */
  classes: readonly string[];
  nodes: SuperClassNodes;
  /** Tie order; default {@linkcode SUPER_CLASS_PRIORITY} (names not in it rank after, in order). */
  priority?: readonly string[];
}

/** Level-0 groups with, per class, the index of its group. */
export interface SuperClassAssignment extends Grouping {
  /** Index into `groups` of each class. */
  superOf: Int32Array;
}

/**
 * Assigns every class to the super-class whose synset is nearest above it (ties by priority;
 * below none: misc). Groups list class ids ascending, in the order of `nodes.names`; a super-class
 * with no class is left out. Throws `DataError` for a class missing from the hierarchy or when no
 * super-class is named misc but a class needs it.
 */
export function assignSuperClasses(o: AssignOptions): SuperClassAssignment {
  const h = o.hierarchy;
  const names = o.nodes.names.map(normalizeGroupName);
  const priority = o.priority ?? SUPER_CLASS_PRIORITY;
  const rank = names.map((n, k) => {
    const p = priority.indexOf(n);
    return p === -1 ? priority.length + k : p;
  });
  const rest = names.indexOf(REST_SUPER_CLASS);
  // Node index -> super-class indices whose synset it is.
  const owners = new Map<number, number[]>();
  o.nodes.wnids.forEach((ws, k) =>
    ws.forEach((w) => {
      const i = h.index.get(w);
      if (i !== undefined) owners.set(i, [...(owners.get(i) ?? []), k]);
    })
  );
  const pick = new Int32Array(o.classes.length);
  o.classes.forEach((w, c) => {
    const start = h.index.get(w);
    if (start === undefined) {
      throw new DataError(
        `${h.source}: class ${c} "${w}" is not in the hierarchy; add a row for "${w}" with its ` +
          `parents or use a hierarchy that covers the label space`,
      );
    }
    let best = -1;
    let bestDist = Infinity;
    // Breadth-first up the DAG: the first hop count at which a synset appears is its distance.
    const seen = new Set<number>([start]);
    let frontier = [start];
    for (let dist = 0; frontier.length > 0 && dist <= bestDist; dist++) {
      const next: number[] = [];
      for (const n of frontier) {
        for (const k of owners.get(n) ?? []) {
          if (dist < bestDist || rank[k] < rank[best]) [best, bestDist] = [k, dist];
        }
        for (const p of h.parents[n]) {
          if (!seen.has(p)) {
            seen.add(p);
            next.push(p);
          }
        }
      }
      frontier = next;
    }
    if (best === -1) {
      if (rest === -1) {
        throw new DataError(
          `Class ${c} "${w}" is below none of the super-class synsets and there is no ` +
            `"${REST_SUPER_CLASS}" super-class to take it; add one`,
        );
      }
      best = rest;
    }
    pick[c] = best;
  });
  const members: number[][] = names.map(() => []);
  pick.forEach((k, c) => members[k].push(c));
  const kept = names.map((_, k) => k).filter((k) => members[k].length > 0);
  const newIndex = new Int32Array(names.length).fill(-1);
  kept.forEach((k, i) => (newIndex[k] = i));
  return {
    groups: kept.map((k) => members[k]),
    names: kept.map((k) => names[k]),
    superOf: pick.map((k) => newIndex[k]),
  };
}
