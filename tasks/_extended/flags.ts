/**
 * table1-extended's flags, typed (tasks/_shared/cli.ts): numbers are checked while parsing.
 *
 * @module
 */
import { THREADS_FLAG } from "../_shared/common_flags.ts";
import { defineFlags, type FlagValuesOf } from "../_shared/cli.ts";
import { metricsConventionFlags } from "../_shared/metrics_convention_flag.ts";

/** The flags of `deno task table1-extended`. */
export const EXTENDED_FLAGS = defineFlags({
  demo: { type: "boolean", help: "run on the seeded synthetic benchmark (no real features)" },
  protocol: {
    type: "string",
    default: "paper",
    help: "paper|heldout   paper: defaults, full ID set; heldout: grid search on ID-val + OOD-val",
  },
  ci: { type: "boolean", help: "add bootstrap 95% CI columns (ID and OOD resampled apart)" },
  resamples: {
    type: "number",
    default: 1000,
    min: 1,
    integer: true,
    help: "N   bootstrap resamples",
  },
  "ci-seed": {
    type: "number",
    default: 0,
    min: 0,
    integer: true,
    help: "N   seed of the bootstrap",
  },
  seeds: {
    type: "number",
    default: 1,
    min: 1,
    integer: true,
    max: 100,
    help: "N   heads trained per kind (mean ± sd)",
  },
  seed: {
    type: "number",
    min: 0,
    integer: true,
    help: "N   first head seed (default: the config's, or 0)",
  },
  methods: { type: "string", help: "LIST  detectors to run (default: all)" },
  config: {
    type: "string",
    default: "experiments/table1.yaml",
    help: "FILE  experiment config (real data)",
  },
  data: { type: "string", help: "DIR   data root of the feature sets (real data)" },
  "ood-val": {
    type: "string",
    help: "DIR   OOD-val feature set (real data; needed by heldout and multi-layer Mahalanobis)",
  },
  "id-val-count": {
    type: "number",
    min: 1,
    integer: true,
    help: "N   ID-val rows (default: a tenth of the set, at most 5000 as OpenOOD)",
  },
  "split-seed": {
    type: "number",
    default: 0,
    min: 0,
    integer: true,
    help: "N   seed of the ID-val split",
  },
  ...metricsConventionFlags("the config's score.fpr_convention; paper with --demo"),
  out: {
    type: "string",
    help: "DIR   output (default results/table1-extended, or -demo with --demo)",
  },
  steps: {
    type: "number",
    min: 1,
    integer: true,
    help: "N   head training steps (demo default 2000)",
  },
  dim: {
    type: "number",
    default: 256,
    min: 2,
    integer: true,
    max: 65536,
    help: "D   demo feature dimension",
  },
  "train-per-class": {
    type: "number",
    default: 30,
    min: 1,
    integer: true,
    help: "N   demo training rows per class",
  },
  "val-per-class": {
    type: "number",
    default: 10,
    min: 1,
    integer: true,
    help: "N   demo ID rows per class",
  },
  "ood-count": {
    type: "number",
    default: 3000,
    min: 1,
    integer: true,
    help: "N   demo rows per OOD set",
  },
  threads: THREADS_FLAG,
  force: { type: "boolean", help: "recompute every stage" },
});

/** The parsed flags. */
export type ExtendedFlags = FlagValuesOf<typeof EXTENDED_FLAGS>;
