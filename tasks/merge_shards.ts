/**
 * `deno task merge-shards`: concatenates the feature sets of a sharded extraction in shard order.
 *
 * @module
 */
import { UsageError } from "../lib/errors.ts";
import { mergeShards } from "../lib/extract/merge.ts";
import { defineTask, type FlagValuesOf, runTask } from "./_shared/cli.ts";

const SPEC = defineTask({
  name: "merge-shards",
  summary: "Merge the shard feature sets of one `deno task extract --shard i/n` run.",
  usage: "deno task merge-shards --out results/features/train results/features/train.shard*",
  flags: {
    out: { type: "string", required: true, help: "DIR  merged feature set" },
  },
  positionals: true,
  notes: [
    "All shards 0..n-1 must be given (any order); they must share the image list, model,",
    "preprocessing, dtype and outputs. Counts and ranges are checked before anything is written.",
    "--out may not be or hold a shard; files in it that no extract or merge wrote are left alone",
    "(one that would be overwritten is refused). The merge is staged: a failure leaves the",
    "previous result in --out as it was.",
  ],
});

async function main(
  values: FlagValuesOf<typeof SPEC.flags>,
  positionals: string[],
): Promise<void> {
  const out = values.out.replace(/\/+$/, "");
  if (positionals.length === 0) {
    throw new UsageError(
      "give the shard directories after --out; see `deno task merge-shards --help`",
    );
  }
  const dirs = positionals.map((d) => d.replace(/\/+$/, ""));
  // mergeShards refuses an --out that is, holds or lies inside a shard (symlinks resolved).
  const s = await mergeShards(out, dirs, {
    label: "--out",
    writtenBy: "`deno task extract --shard i/n`",
  });
  for (const w of s.warnings) console.error(`warning: ${w}`);
  console.log(
    `merged ${s.shards} shards into ${s.outDir}: ${s.count} images, dim ${s.dim}, ` +
      `${s.skipped} skipped`,
  );
}

if (import.meta.main) await runTask(SPEC, main);
