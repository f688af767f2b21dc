/**
 * `deno task extract-all`: extracts every image set of an extraction plan
 * (experiments/extract.yaml: the paper's ImageNet train / val and four OOD sets) with one
 * command. Each set is checked (folder present, expected image count) before anything runs;
 * finished sets are reused and interrupted ones resume, as with `deno task extract`.
 *
 * @module
 */
import { DataError, UsageError } from "../lib/errors.ts";
import { runExtraction } from "../lib/extract/extract_run.ts";
import {
  type ExtractPlan,
  parseExtractPlan,
  type PlannedSet,
} from "../lib/extract/extract_plan.ts";
import { type ImageList, listImageFolder } from "../lib/extract/image_list.ts";
import { assertOutsideInputs } from "../lib/io/containment.ts";
import { createProgress, type Progress } from "./_shared/progress.ts";
import { EXTRACT_FLAG_LABELS } from "./_shared/extract_labels.ts";
import { CUDA_INSTALL } from "../lib/extract/backbone_session.ts";
import { choiceFlag, defineTask, type FlagValuesOf, runTask } from "./_shared/cli.ts";

const SPEC = defineTask({
  name: "extract-all",
  summary: "Extract all image sets of an extraction plan (default: the paper's six sets).",
  usage: "deno task extract-all [--config experiments/extract.yaml] [--only imagenet_val,sun]",
  flags: {
    config: { type: "string", default: "experiments/extract.yaml", help: "FILE  extraction plan" },
    only: { type: "string", help: "NAMES  comma list of set names from the plan" },
    model: { type: "string", help: "FILE  backbone .onnx (default: the plan's model)" },
    device: { type: "string", default: "cpu", help: "cpu | cuda (CUDA: see the notes)" },
    batch: {
      type: "number",
      integer: true,
      min: 1,
      max: 4096,
      help: "N  images per batch (default: the plan's)",
    },
    threads: {
      type: "number",
      integer: true,
      min: 1,
      max: 1024,
      help: "N  inference threads (default: all cores)",
    },
    force: { type: "boolean", help: "recompute sets that are complete and up to date" },
    "skip-count-check": {
      type: "boolean",
      help: "extract even when a set's image count differs from the plan",
    },
    "dry-run": { type: "boolean", help: "check the sets and print the plan; extract nothing" },
  },
  notes: [
    "Outputs go to <out_root>/<set name> (experiments/table1.yaml reads them from there).",
    "For a cluster, run `deno task extract --shard i/n` per set instead (see the README).",
    "No set's output may be or hold the plan, the model or any set's images (checked first).",
    "--device cuda needs onnxruntime's CUDA provider (Linux x64, CUDA 12, cuDNN 9); install it once:",
    `  ${CUDA_INSTALL}`,
  ],
});

type Values = FlagValuesOf<typeof SPEC.flags>;

interface Checked {
  set: PlannedSet;
  list: ImageList;
}

async function checkSets(plan: ExtractPlan, sets: PlannedSet[], countCheck: boolean) {
  const missing: string[] = [];
  const checked: Checked[] = [];
  for (const set of sets) {
    let isDir = false;
    try {
      isDir = (await Deno.stat(set.images)).isDirectory;
    } catch { /* missing */ }
    if (!isDir) {
      missing.push(`${set.name} (${set.images}${set.source ? `; get it via ${set.source}` : ""})`);
      continue;
    }
    const list = await listImageFolder(set.images.replace(/\/+$/, ""), {
      unlabeled: set.unlabeled,
      labels: EXTRACT_FLAG_LABELS,
    });
    if (countCheck && list.entries.length !== set.count) {
      throw new DataError(
        `${set.name}: ${set.images} holds ${list.entries.length} images but the plan expects ` +
          `${set.count}; fix the folder (an incomplete download or unpack?) or pass ` +
          "--skip-count-check",
      );
    }
    checked.push({ set, list });
  }
  if (missing.length > 0) {
    throw new DataError(`image folders not found: ${missing.join("; ")}`);
  }
  try {
    await Deno.stat(plan.model);
  } catch {
    throw new DataError(
      `model ${plan.model} not found; create it with \`deno task fetch-bit --model BiT-S-R101x1\``,
    );
  }
  return checked;
}

/** A set's output folder: the plan's out_root and the set's name (checked to be one plain name). */
function outDirOf(plan: ExtractPlan, set: PlannedSet): string {
  return `${plan.outRoot}/${set.name}`;
}

async function main(values: Values): Promise<void> {
  const configPath = values.config;
  let text: string;
  try {
    text = await Deno.readTextFile(configPath);
  } catch {
    throw new UsageError(`--config ${configPath} not found; pass an extraction plan YAML file`);
  }
  const plan = parseExtractPlan(text, configPath);
  if (values.model !== undefined) plan.model = values.model;
  let sets = plan.sets;
  if (values.only !== undefined) {
    const names = values.only.split(",").map((s) => s.trim()).filter((s) => s !== "");
    for (const n of names) {
      if (!sets.some((s) => s.name === n)) {
        throw new UsageError(
          `--only: no set "${n}" in ${configPath}; sets: ${sets.map((s) => s.name).join(", ")}`,
        );
      }
    }
    sets = sets.filter((s) => names.includes(s.name));
  }
  const batch = values.batch;
  const threads = values.threads ?? navigator.hardwareConcurrency ?? 1;
  const device = choiceFlag(values, "device", ["cpu", "cuda"] as const, "cpu");
  // Every set's output is checked against every input before any set runs: a later set's
  // images inside an earlier set's output would otherwise be found only after hours of work.
  const inputs = [
    { label: "--config", path: configPath },
    { label: "model", path: plan.model },
    ...plan.sets.map((s) => ({ label: `images of set ${s.name}`, path: s.images })),
  ];
  for (const set of sets) {
    assertOutsideInputs({ label: `output of set ${set.name}`, path: outDirOf(plan, set) }, inputs);
  }
  const checked = await checkSets(plan, sets, !values["skip-count-check"]);
  if (values["dry-run"]) {
    for (const { set, list } of checked) {
      console.log(
        `${set.name}: ${list.entries.length} images in ${set.images} -> ${plan.outRoot}/` +
          `${set.name} (${set.dtype}${set.views > 1 ? `, ${set.views} views` : ""}` +
          `${set.unlabeled ? ", unlabeled" : ""})`,
      );
    }
    return;
  }
  const t0 = performance.now();
  for (const { set, list } of checked) {
    let progress: Progress | undefined;
    const summary = await runExtraction(
      {
        modelPath: plan.model,
        list,
        outDir: outDirOf(plan, set),
        dataset: set.name,
        backbone: plan.backbone,
        batch: batch ?? set.batch,
        threads,
        device,
        dtype: set.dtype,
        size: set.size,
        resizer: set.resize,
        shard: { index: 0, count: 1 },
        strict: false,
        force: values.force,
        views: set.views,
        viewSeed: set.viewSeed,
        otherInputs: inputs,
        labels: EXTRACT_FLAG_LABELS,
      },
      (p) => {
        progress ??= createProgress({
          label: `extract ${set.name}`,
          total: p.total,
          unit: "img",
          start: p.resumed,
        });
        progress.update(p.done, p.skipped > 0 ? `${p.skipped} skipped` : "");
      },
    );
    progress?.finish();
    for (const w of summary.warnings) console.error(`warning: ${w}`);
    console.log(
      `${set.name}: ${summary.upToDate ? "up to date" : "extracted"} ${summary.count} of ` +
        `${summary.total} images into ${summary.outDir} (dim ${summary.dim}, ` +
        `${summary.skipped} skipped${set.views > 1 ? `, ${set.views} views` : ""})`,
    );
  }
  console.log(
    `extract-all: ${checked.length} sets in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
}

if (import.meta.main) await runTask(SPEC, main);
