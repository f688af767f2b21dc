/**
 * `deno task train-head`: trains a flat softmax head or the paper's group-softmax head on a cached
 * feature set with BiT-HyperRule; writes weight.npy, bias.npy, head.json and manifest.json.
 *
 * @module
 */
import { UsageError } from "../lib/errors.ts";
import {
  type FlagValues,
  numberFlag,
  requireString,
  runTask,
  type TaskSpec,
} from "./_shared/cli.ts";
import { runTrainStage } from "./_shared/stages.ts";

export const SPEC: TaskSpec = {
  name: "train-head",
  summary: "Train a flat or group-softmax head on cached features (BiT-HyperRule).",
  usage: "deno task train-head --features DIR --out DIR [--groups flat|taxonomy|FILE.json] " +
    "[--steps N] [--batch N] [--lr X] [--warmup N] [--mixup A] [--seed N] [--val DIR]",
  flags: {
    features: { type: "string", help: "DIR   training feature set" },
    out: { type: "string", help: "DIR   head directory to write" },
    groups: {
      type: "string",
      default: "flat",
      help: "flat|taxonomy|FILE.json   flat softmax, the 8 ImageNet super-classes, or " +
        "[[class ids], ...]",
    },
    steps: { type: "string", help: "N   total steps (default: HyperRule by dataset size)" },
    batch: { type: "string", help: "N   batch size (default 512)" },
    lr: { type: "string", help: "X   peak learning rate (default 0.003 x batch / 512)" },
    warmup: { type: "string", help: "N   linear warm-up steps (default: HyperRule)" },
    mixup: { type: "string", help: "A   mixup alpha (default 0.1 for >= 20k samples, else 0)" },
    seed: { type: "string", default: "0", help: "N   seed of sampling and mixup" },
    val: { type: "string", help: "DIR   labelled feature set for the final accuracy" },
    "num-classes": { type: "string", help: "C   label-space size (default: meta or max label+1)" },
    threads: { type: "string", help: "N   onnxruntime threads (default: all cores)" },
    force: { type: "boolean", help: "retrain even when manifest.json matches" },
  },
  notes: [
    "--steps rescales the HyperRule boundaries (warm-up, x0.1 decays) to the new total.",
    "Training resumes from <out>/.checkpoint after an interruption.",
  ],
};

async function main(values: FlagValues): Promise<void> {
  const features = requireString(values, "features", SPEC.name);
  const out = requireString(values, "out", SPEC.name);
  const steps = numberFlag(values, "steps", { min: 1, integer: true });
  const batch = numberFlag(values, "batch", { min: 1, integer: true });
  const lr = numberFlag(values, "lr", { min: 0, exclusiveMin: true });
  const warmup = numberFlag(values, "warmup", { min: 0, integer: true });
  const mixupAlpha = numberFlag(values, "mixup", { min: 0 });
  const seed = numberFlag(values, "seed", { min: 0, integer: true, max: 2 ** 53 - 1 })!;
  const numClasses = numberFlag(values, "num-classes", { min: 1, integer: true });
  const threads = numberFlag(values, "threads", { min: 1, integer: true });
  if (steps !== undefined && warmup !== undefined && warmup > steps) {
    throw new UsageError(
      `--warmup ${warmup} is longer than --steps ${steps}; use a shorter warm-up`,
    );
  }
  const r = await runTrainStage({
    features,
    out,
    groups: values.groups as string,
    overrides: { steps, batch, lr, warmup, mixupAlpha },
    seed,
    val: values.val as string | undefined,
    threads,
    numClasses,
    force: values.force === true,
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
