/**
 * `deno task scale-demo`: the demo at the scale the paper is about, on the real ImageNet-21k
 * label space (21,843 classes, BiT-M head order) and its level-0 super-classes: a seeded
 * synthetic benchmark -> flat and group head -> the paper's six methods and the post-hoc
 * detectors -> Table 1 at 21k, and Figure 5 (MSP vs MOS) from 50 to 21,843 classes, in
 * results/scale-demo/. The work is in tasks/_scale/run.ts.
 *
 * @module
 */
import { renderTerminal, TERMINAL_WIDTH, wrapText } from "../lib/tables/terminal.ts";
import { defineTask, type FlagValuesOf, runTask } from "./_shared/cli.ts";
import { readDemoConfig } from "./_shared/demo_config.ts";
import { writeReport } from "./_shared/report_stage.ts";
import { withResultDir } from "./_shared/result_dir.ts";
import { intListFlag } from "./_ablation/common.ts";
import { SCALE_FLAGS } from "./_scale/flags.ts";
import {
  checkSubsets,
  DEFAULT_SUBSETS,
  defaultDetectors,
  runScaleDemo,
  scaleLabelSpace,
} from "./_scale/run.ts";

export const SPEC = defineTask({
  name: "scale-demo",
  summary: "The MOS pipeline on a seeded synthetic benchmark over the ImageNet-21k label space.",
  usage: "deno task scale-demo [--out DIR] [--seed N] [--steps N] [--dim D] [--subsets LIST] " +
    "[--lr X] [--force]",
  flags: SCALE_FLAGS,
  notes: [
    "The data are synthetic: the numbers show the pipeline working at 21,843 classes, not the",
    "paper's results. Figure 5's largest point reuses the Table 1 heads (the whole label space).",
  ],
});

async function main(values: FlagValuesOf<typeof SPEC.flags>): Promise<void> {
  const t0 = performance.now();
  const { out, seed, steps, dim, threads } = values;
  const log = (m: string) => console.error(`scale-demo: ${m}`);
  // Everything that can fail on a flag or a data file is checked before --out exists.
  const config = await readDemoConfig();
  const space = await scaleLabelSpace();
  const C = space.classes.length;
  const subsets = checkSubsets(intListFlag(values.subsets, "subsets") ?? DEFAULT_SUBSETS, C);
  const result = await withResultDir(out, { purpose: "scale-demo", inputs: [] }, async (dir) => {
    const r = await runScaleDemo(dir, space, {
      seed,
      dim,
      trainPerClass: values["train-per-class"],
      valPerClass: values["val-per-class"],
      valClasses: values["val-classes"],
      oodCount: values["ood-count"],
      overrides: { steps, lr: values.lr },
      subsets,
      detectors: values["no-detectors"] ? [] : defaultDetectors(),
      threads,
      force: values.force,
      oodGroups: config.oodGroups,
      log,
    });
    const report = await writeReport(dir, (w) => console.error(`warning: ${w}`));
    return { ...r, files: [...r.files, report.path] };
  });
  log(
    `wrote ${result.files.length} files under ${out} in ${
      ((performance.now() - t0) / 1000).toFixed(1)
    } s`,
  );
  // Tables last, after a blank line, below every stderr line; the full tables are in the files.
  console.log("\n" + renderTerminal(result.table1));
  if (result.extended) console.log("\n" + renderTerminal(result.extended));
  console.log("\n" + renderTerminal(result.fig5));
  const closing = `These numbers come from SYNTHETIC data on the ${C}-class label space ` +
    `(${out}/features/README.txt says how each set was made); they show the pipeline working, ` +
    "not the paper's results.";
  console.log(wrapText(closing, TERMINAL_WIDTH).join("\n"));
}

if (import.meta.main) await runTask(SPEC, main);
