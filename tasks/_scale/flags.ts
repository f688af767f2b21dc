/**
 * The flags of `deno task scale-demo`, with defaults sized so that the default run (21,843
 * classes, D = 256) takes under 10 minutes on an idle 2-core machine.
 *
 * @module
 */
import { DIM_FLAG, THREADS_FLAG } from "../_shared/common_flags.ts";
import { defineFlags } from "../_shared/cli.ts";

/** Flags of `deno task scale-demo`. */
export const SCALE_FLAGS = defineFlags({
  out: { type: "string", default: "results/scale-demo", help: "DIR   output directory" },
  seed: {
    type: "number",
    min: 0,
    integer: true,
    default: 0,
    help: "N   seed of the data, class subsets, sampling and mixup",
  },
  steps: {
    type: "number",
    min: 1,
    integer: true,
    default: 300,
    help: "N   training steps per head (HyperRule schedule rescaled)",
  },
  lr: {
    type: "number",
    min: 0,
    exclusiveMin: true,
    max: 10,
    default: 0.03,
    help: "X   peak learning rate (10x the HyperRule's 0.003: in 300 steps the rule's rate " +
      "leaves a 21,843-way head near chance, 0.4% ID accuracy here; 0.03 reaches 4%, 0.3 diverges)",
  },
  dim: DIM_FLAG,
  "train-per-class": {
    type: "number",
    min: 1,
    integer: true,
    default: 4,
    help: "N   training samples per class (also Figure 5's images per class)",
  },
  "val-per-class": {
    type: "number",
    min: 1,
    integer: true,
    default: 2,
    help: "N   ID test samples per class (of the --val-classes classes)",
  },
  "val-classes": {
    type: "number",
    min: 1,
    integer: true,
    default: 2000,
    help: "N   classes with ID test images: the first N of the nested subset order",
  },
  "ood-count": {
    type: "number",
    min: 1,
    integer: true,
    default: 1000,
    help: "N   samples per OOD set",
  },
  subsets: {
    type: "string",
    help: "LIST  Figure 5's numbers of classes (default 50,200,1000,5000,21843)",
  },
  "no-detectors": {
    type: "boolean",
    help: "score the paper's six methods only (not the post-hoc detectors)",
  },
  threads: THREADS_FLAG,
  force: { type: "boolean", help: "recompute every stage" },
});
