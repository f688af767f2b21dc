/**
 * `deno task import-features`: gives a feature set made elsewhere (features.npy, optional
 * labels.npy / logits.npy / paths.txt from your own model) a validated, hashed meta.json, so it
 * carries the same guarantees as an extracted set. A set without meta.json is read as it is too;
 * this adds the names, the hashes and one up-front check of every array.
 *
 * @module
 */
import { importFeatureSet } from "../lib/io/import_features.ts";
import { defineTask, type FlagValuesOf, runTask } from "./_shared/cli.ts";

export const SPEC = defineTask({
  name: "import-features",
  summary: "Validate a feature set made elsewhere and write its meta.json (hashes, names).",
  usage: "deno task import-features --dir DIR [--dataset NAME] [--backbone NAME] " +
    "[--num-classes C] [--force]",
  flags: {
    dir: {
      type: "string",
      required: true,
      help: "DIR   holds features.npy (N x D float32/float16); labels.npy, logits.npy optional",
    },
    dataset: { type: "string", help: "NAME   data set name (default: the directory's name)" },
    backbone: { type: "string", help: "NAME   model the features come from (default: unknown)" },
    "num-classes": {
      type: "number",
      min: 1,
      integer: true,
      help: "C   check every label is in [-1, C)",
    },
    force: { type: "boolean", help: "replace the meta.json of an earlier import" },
  },
  notes: [
    "Labels: class indices of your head, -1 for OOD / unlabeled (an OOD set needs no labels.npy).",
    "Only meta.json is written (atomically); the arrays are never changed.",
  ],
});

async function main(values: FlagValuesOf<typeof SPEC.flags>): Promise<void> {
  const meta = await importFeatureSet(values.dir, {
    dataset: values.dataset,
    backbone: values.backbone,
    numClasses: values["num-classes"],
    force: values.force,
    forceHint: "pass --force to import the set again",
  });
  console.log(
    `import-features: ${values.dir}/meta.json written: ${meta.dataset}, ${meta.count} x ` +
      `${meta.dim} ${meta.dtype}, backbone ${meta.backbone}`,
  );
}

if (import.meta.main) await runTask(SPEC, main);
