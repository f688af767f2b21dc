/**
 * `deno task taxonomy`: the taxonomy of a label space (ImageNet-1k, ImageNet-21k or a class-list
 * file): the level-0 super-class sizes and the group counts of levels -3..6, and optionally one
 * level (or a seeded random grouping) written as a groups JSON file for
 * `deno task train-head --groups FILE.json`.
 *
 * @module
 */
import { UsageError } from "../lib/errors.ts";
import { LABEL_SPACE_NAMES, labelSpaceLevel, loadLabelSpace } from "../lib/grouping/label_space.ts";
import { randomGroups } from "../lib/grouping/random_grouping.ts";
import { TAXONOMY_LEVELS } from "../lib/grouping/taxonomy_levels.ts";
import { writeJsonAtomic } from "../lib/io/atomic.ts";
import { assertOutsideInputs } from "../lib/io/containment.ts";
import { defineTask, type FlagValuesOf, runTask } from "./_shared/cli.ts";

export const SPEC = defineTask({
  name: "taxonomy",
  summary: "Taxonomy levels of a label space: super-class sizes and group counts per level.",
  usage: "deno task taxonomy [--label-space imagenet1k|imagenet21k|FILE.tsv] [--level N] " +
    "[--random K] [--out FILE.json]",
  flags: {
    "label-space": {
      type: "string",
      default: "imagenet1k",
      help: `${LABEL_SPACE_NAMES.join("|")}|FILE.tsv  classes in head order (FILE: index, wnid, ` +
        "name, parents)",
    },
    level: {
      type: "number",
      integer: true,
      min: -3,
      max: 6,
      help: "N   print (and with --out write) the groups of one level",
    },
    random: {
      type: "number",
      integer: true,
      min: 2,
      help: "K   a seeded random grouping into K groups instead of a level",
    },
    seed: { type: "number", integer: true, min: 0, default: 0, help: "N   seed of --random" },
    out: { type: "string", help: "FILE.json  write [[class ids], ...] of --level or --random" },
  },
  notes: [
    "ImageNet-21k's level 0 assigns each class to the super-class whose WordNet synset is nearest",
    "above it (lib/grouping/super_classes.ts); levels 1..6 follow the hypernym DAG as for 1k.",
  ],
});

/** "largest .. smallest, N singletons" of a grouping. */
function sizeSummary(groups: number[][]): string {
  const sizes = groups.map((g) => g.length).sort((a, b) => b - a);
  const singletons = sizes.filter((s) => s === 1).length;
  return `sizes ${sizes[0]} .. ${sizes[sizes.length - 1]}, ${singletons} singletons`;
}

async function main(values: FlagValuesOf<typeof SPEC.flags>): Promise<void> {
  const { level, random, seed, out } = values;
  if (level !== undefined && random !== undefined) {
    throw new UsageError("--level and --random both given; pick one grouping to print or write");
  }
  if (out !== undefined && level === undefined && random === undefined) {
    throw new UsageError(`--out ${out} needs --level N or --random K: which grouping to write`);
  }
  if (out !== undefined && !out.endsWith(".json")) {
    throw new UsageError(`--out ${out} should end in .json`);
  }
  const spec = values["label-space"];
  if (out !== undefined && !(LABEL_SPACE_NAMES as readonly string[]).includes(spec)) {
    assertOutsideInputs({ label: "--out", path: out }, [{ label: "--label-space", path: spec }]);
  }
  const t0 = performance.now();
  const space = await loadLabelSpace(spec);
  const C = space.classes.length;
  if (random !== undefined && random > C) {
    throw new UsageError(`--random ${random} is more groups than the ${C} classes; use 2..${C}`);
  }
  console.log(`label space ${space.id}: ${C} classes`);
  const level0 = labelSpaceLevel(space, 0);
  console.log(
    "level 0 super-classes: " +
      level0.names.map((n, k) => `${n} ${level0.groups[k].length}`).join(", "),
  );
  for (const l of TAXONOMY_LEVELS) {
    // Levels -3..-1 merge the paper's eight super-classes; a file with fewer has none.
    if (l < 0 && level0.groups.length !== 8) continue;
    const g = labelSpaceLevel(space, l);
    console.log(`level ${l}: ${g.groups.length} groups (${sizeSummary(g.groups)})`);
  }
  let chosen: { groups: number[][]; names: string[] } | undefined;
  if (level !== undefined) chosen = labelSpaceLevel(space, level);
  if (random !== undefined) {
    const groups = randomGroups(C, random, seed);
    chosen = { groups, names: groups.map((_, k) => `random ${k}`) };
  }
  if (chosen && chosen.groups.length <= 64) {
    for (const [k, g] of chosen.groups.entries()) {
      console.log(`  ${chosen.names[k]}: ${g.length} classes`);
    }
  }
  if (chosen && out !== undefined) {
    await writeJsonAtomic(out, chosen.groups);
    console.log(`wrote ${chosen.groups.length} groups to ${out}`);
  }
  console.error(`taxonomy: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

if (import.meta.main) await runTask(SPEC, main);
