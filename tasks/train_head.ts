/**
 * `deno task train-head`: trains a flat softmax head or the paper's group-softmax head on a cached
 * feature set with BiT-HyperRule; writes weight.npy, bias.npy, head.json and manifest.json.
 *
 * @module
 */
import { THREADS_FLAG } from "./_shared/common_flags.ts";
import { UsageError } from "../lib/errors.ts";
import { defineTask, type FlagValuesOf, runTask } from "./_shared/cli.ts";
import { runTrainStage } from "./_shared/stages.ts";
import { labelSpaceLevel, loadLabelSpace } from "../lib/grouping/label_space.ts";

export const SPEC = defineTask({
  name: "train-head",
  summary: "Train a flat or group-softmax head on cached features (BiT-HyperRule).",
  usage: "deno task train-head --features DIR --out DIR [--groups flat|taxonomy|FILE.json] " +
    "[--steps N] [--batch N] [--lr X] [--warmup N] [--mixup A] [--seed N] [--val DIR]",
  flags: {
    features: { type: "string", required: true, help: "DIR   training feature set" },
    out: { type: "string", required: true, help: "DIR   head directory to write" },
    groups: {
      type: "string",
      default: "flat",
      help: "flat|taxonomy|FILE.json   flat softmax, the 8 ImageNet super-classes, or " +
        "[[class ids], ...]",
    },
    "label-space": {
      type: "string",
      default: "imagenet1k",
      help: "imagenet1k|imagenet21k|FILE.tsv   label space of --groups taxonomy (21k and files: " +
        "the 8 super-classes by WordNet ancestry, see `deno task taxonomy`)",
    },
    steps: {
      type: "number",
      min: 1,
      integer: true,
      help: "N   total steps (default: HyperRule by dataset size)",
    },
    batch: { type: "number", min: 1, integer: true, help: "N   batch size (default 512)" },
    lr: {
      type: "number",
      min: 0,
      exclusiveMin: true,
      help: "X   peak learning rate (default 0.003 x batch / 512)",
    },
    warmup: {
      type: "number",
      min: 0,
      integer: true,
      help: "N   linear warm-up steps (default: HyperRule)",
    },
    mixup: {
      type: "number",
      min: 0,
      help: "A   mixup alpha (default 0.1 for >= 20k samples, else 0)",
    },
    seed: {
      type: "number",
      min: 0,
      integer: true,
      default: 0,
      help: "N   seed of sampling and mixup",
    },
    val: { type: "string", help: "DIR   labelled feature set for the final accuracy" },
    "num-classes": {
      type: "number",
      min: 1,
      integer: true,
      help: "C   label-space size (default: meta or max label+1)",
    },
    threads: THREADS_FLAG,
    force: { type: "boolean", help: "retrain even when manifest.json matches" },
  },
  notes: [
    "--steps rescales the HyperRule boundaries (warm-up, x0.1 decays) to the new total.",
    "Training resumes from <out>/.checkpoint after an interruption.",
  ],
});

async function main(values: FlagValuesOf<typeof SPEC.flags>): Promise<void> {
  const { features, out, steps, batch, lr, warmup, seed, threads } = values;
  if (steps !== undefined && warmup !== undefined && warmup > steps) {
    throw new UsageError(
      `--warmup ${warmup} is longer than --steps ${steps}; use a shorter warm-up`,
    );
  }
  const r = await runTrainStage({
    features,
    out,
    // ImageNet-1k keeps the released lists (resolved in the stage); other spaces by ancestry.
    groups: values.groups === "taxonomy" && values["label-space"] !== "imagenet1k"
      ? labelSpaceLevel(await loadLabelSpace(values["label-space"]), 0).groups
      : values.groups,
    overrides: { steps, batch, lr, warmup, mixupAlpha: values.mixup },
    seed,
    val: values.val,
    threads,
    numClasses: values["num-classes"],
    force: values.force,
  });
  const info = r.head.info;
  const train = info.train ?? {};
  if (r.skipped) {
    console.error(`train-head: ${out} is up to date (manifest matches); --force retrains`);
  }
  console.log(
    `${info.kind} head: ${info.num_classes} classes` +
      (info.kind === "group" ? ` in ${info.groups.length} groups` : "") +
      `, ${r.head.weight.rows} outputs x D ${r.head.weight.cols}; steps ${train.steps}, ` +
      `final loss ${Number(train.final_loss).toFixed(4)}` +
      (r.valAccuracy === null ? "" : `, val accuracy ${(100 * r.valAccuracy).toFixed(2)}%`) +
      ` -> ${out}`,
  );
}

if (import.meta.main) await runTask(SPEC, main);
