/**
 * A class hierarchy (for ImageNet: the WordNet 3.0 hypernym DAG of the 1,000 classes) read from a
 * TSV with the header `wnid`, `name`, `parent_wnids` (parents comma-separated, empty for a root);
 * `parents` is accepted for the third column too (data/imagenet21k_wordnet_hypernyms.tsv).
 * Works for any label space: the classes are a list of node ids (wnids) looked up in the graph.
 *
 * The parse validates what the taxonomy levels rely on: unique ids, known parents, no cycles
 * (a `DataError` names the nodes on the cycle and the file), so later walks up the graph terminate.
 *
 * @module
 */
import { DataError } from "../errors.ts";

/** A parsed hierarchy; node `i` is `wnids[i]`. */
export interface Hierarchy {
  /** Where the hierarchy came from (a file path), used in error messages. */
  source: string;
  /** Node ids in file order. */
  wnids: string[];
  /** Human-readable node names (not unique: WordNet has two "plant" synsets). */
  names: string[];
  /** Parent node indices of each node, sorted by wnid so every walk is deterministic. */
  parents: number[][];
  /** Child node indices of each node, sorted by wnid. */
  children: number[][];
  /** wnid -> node index. */
  index: Map<string, number>;
  /** Node indices with every node after all of its parents (roots first). */
  order: Int32Array;
}

const HEADER = ["wnid", "name", "parent_wnids"];
/** Accepted names of the third column. */
const PARENT_COLUMNS = ["parent_wnids", "parents"];

/**
 * Parses hierarchy TSV text. Throws `DataError` (naming `source`) on a bad header, a short row, a
 * duplicate wnid, a parent that has no row, or a cycle.
 *
 * @example
 * ```ts
 * const h = parseHierarchy("wnid\tname\tparent_wnids\nr\troot\t\na\tleaf\tr\n", "toy.tsv");
 * h.parents[h.index.get("a")!]; // [0]
 * ```
 */
export function parseHierarchy(text: string, source = "hierarchy"): Hierarchy {
  const lines = text.split(/\r?\n/);
  const header = (lines[0] ?? "").split("\t").map((s) => s.trim());
  if (header[0] !== HEADER[0] || header[1] !== HEADER[1] || !PARENT_COLUMNS.includes(header[2])) {
    throw new DataError(
      `${source}: expected the header "${HEADER.join("\\t")}", got ${
        JSON.stringify(lines[0] ?? "")
      }; ` +
        `give a hierarchy TSV like data/imagenet1k_wordnet_hypernyms.tsv`,
    );
  }
  const wnids: string[] = [];
  const names: string[] = [];
  const parentIds: string[][] = [];
  const lineOf: number[] = [];
  const index = new Map<string, number>();
  for (let ln = 1; ln < lines.length; ln++) {
    const line = lines[ln];
    if (line.trim() === "") continue;
    const cols = line.split("\t");
    const wnid = cols[0].trim();
    if (cols.length < 2 || wnid === "") {
      throw new DataError(
        `${source}: line ${ln + 1} has no wnid and name (${JSON.stringify(line)}); ` +
          `each row needs wnid, name and parent_wnids separated by tabs`,
      );
    }
    if (index.has(wnid)) {
      throw new DataError(
        `${source}: wnid "${wnid}" appears again on line ${ln + 1} (first on line ` +
          `${lineOf[index.get(wnid)!]}); give each node one row with all its parents`,
      );
    }
    index.set(wnid, wnids.length);
    wnids.push(wnid);
    names.push((cols[1] ?? "").trim());
    lineOf.push(ln + 1);
    parentIds.push(
      (cols[2] ?? "").split(",").map((s) => s.trim()).filter((s) => s !== ""),
    );
  }
  if (wnids.length === 0) {
    throw new DataError(`${source}: the hierarchy has no nodes; give a non-empty hierarchy TSV`);
  }
  const byWnid = (a: number, b: number) => (wnids[a] < wnids[b] ? -1 : wnids[a] > wnids[b] ? 1 : 0);
  const parents = parentIds.map((ps, i) => {
    const out = ps.map((p) => {
      const j = index.get(p);
      if (j === undefined) {
        throw new DataError(
          `${source}: node "${wnids[i]}" (${names[i]}, line ${
            lineOf[i]
          }) names the unknown parent ` +
            `"${p}"; add a row for "${p}" or fix the parent list`,
        );
      }
      return j;
    });
    return [...new Set(out)].sort(byWnid);
  });
  const children: number[][] = wnids.map(() => []);
  parents.forEach((ps, i) => ps.forEach((p) => children[p].push(i)));
  children.forEach((cs) => cs.sort(byWnid));
  const order = topologicalOrder(wnids, names, parents, children, source);
  return { source, wnids, names, parents, children, index, order };
}

/**
 * Reads and parses a hierarchy TSV file; a missing or unreadable file is a `DataError` naming it.
 */
export async function readHierarchy(path: string): Promise<Hierarchy> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new DataError(
      `Cannot read the hierarchy file "${path}" (${(e as Error).message}); ` +
        `pass a hierarchy TSV such as data/imagenet1k_wordnet_hypernyms.tsv`,
    );
  }
  return parseHierarchy(text, path);
}

/**
 * Node index of each class wnid, in class order. A class wnid with no node in the hierarchy is a
 * `DataError` naming the wnid, its class id and the hierarchy file.
 */
export function classNodes(h: Hierarchy, classWnids: readonly string[]): Int32Array {
  const out = new Int32Array(classWnids.length);
  const seen = new Map<number, number>();
  classWnids.forEach((w, c) => {
    const i = h.index.get(w);
    if (i === undefined) {
      throw new DataError(
        `${h.source}: class ${c} "${w}" is not in the hierarchy; ` +
          `add a row for "${w}" with its parents or use a hierarchy that covers the label space`,
      );
    }
    if (seen.has(i)) {
      throw new DataError(
        `Class wnid "${w}" is listed for classes ${seen.get(i)} and ${c}; ` +
          `each class needs its own wnid`,
      );
    }
    seen.set(i, c);
    out[c] = i;
  });
  return out;
}

const ancestorCache = new WeakMap<Hierarchy, Set<number>[]>();

/**
 * Ancestor set of every node (including the node itself), computed once per hierarchy in
 * topological order and shared between calls (the taxonomy levels of 21k classes ask for it once
 * per level); callers must not change the sets.
 */
export function ancestorSets(h: Hierarchy): Set<number>[] {
  const cached = ancestorCache.get(h);
  if (cached) return cached;
  const out: Set<number>[] = new Array(h.wnids.length);
  for (const i of h.order) {
    const s = new Set<number>([i]);
    for (const p of h.parents[i]) for (const a of out[p]) s.add(a);
    out[i] = s;
  }
  ancestorCache.set(h, out);
  return out;
}

/** Node indices whose name equals `name` (WordNet names are not unique), in wnid order. */
export function nodesNamed(h: Hierarchy, name: string): number[] {
  const out: number[] = [];
  h.names.forEach((n, i) => {
    if (n === name) out.push(i);
  });
  return out.sort((a, b) => (h.wnids[a] < h.wnids[b] ? -1 : 1));
}

/**
 * Kahn's algorithm gives the order; when it stalls, the remaining nodes contain a cycle, which a
 * walk along parents inside the remainder finds (every remaining node keeps a remaining parent).
 */
function topologicalOrder(
  wnids: string[],
  names: string[],
  parents: number[][],
  children: number[][],
  source: string,
): Int32Array {
  const n = wnids.length;
  const pending = new Int32Array(n);
  const queue: number[] = [];
  parents.forEach((ps, i) => {
    pending[i] = ps.length;
    if (ps.length === 0) queue.push(i);
  });
  const order = new Int32Array(n);
  let count = 0;
  for (let q = 0; q < queue.length; q++) {
    const i = queue[q];
    order[count++] = i;
    for (const c of children[i]) if (--pending[c] === 0) queue.push(c);
  }
  if (count === n) return order;
  let start = -1;
  for (let i = 0; i < n; i++) {
    if (pending[i] > 0 && (start === -1 || wnids[i] < wnids[start])) start = i;
  }
  const position = new Map<number, number>();
  const walk: number[] = [];
  let cur = start;
  while (!position.has(cur)) {
    position.set(cur, walk.length);
    walk.push(cur);
    cur = parents[cur].find((p) => pending[p] > 0)!;
  }
  const cycle = walk.slice(position.get(cur)!);
  // Report the cycle going down (parent -> child) starting at its smallest wnid, so the message is
  // the same whichever node the search started from.
  cycle.reverse();
  let first = 0;
  cycle.forEach((c, k) => {
    if (wnids[c] < wnids[cycle[first]]) first = k;
  });
  const ring = [...cycle.slice(first), ...cycle.slice(0, first), cycle[first]];
  throw new DataError(
    `${source}: the hierarchy has a cycle ${
      ring.map((c) => `${wnids[c]} (${names[c]})`).join(" -> ")
    }; remove one of these parent links so every node leads up to a root`,
  );
}
