/**
 * `deno task extract`: images -> frozen backbone (ONNX) -> a cached feature set directory.
 *
 * @module
 */
import { UsageError } from "../lib/errors.ts";
import { runExtraction } from "../lib/extract/extract_run.ts";
import { MAX_SHARDS } from "../lib/extract/merge.ts";
import { assertOutsideInputs } from "../lib/io/containment.ts";
import { type ImageList, listImageFolder, readImageList } from "../lib/extract/image_list.ts";
import { MAX_IMAGE_PIXELS } from "../lib/extract/preprocess.ts";
import { resolveShard } from "../lib/extract/shard.ts";
import { createProgress, type Progress } from "./_shared/progress.ts";
import {
  choiceFlag,
  type FlagValues,
  numberFlag,
  requireString,
  runTask,
  type TaskSpec,
} from "./_shared/cli.ts";

const SPEC: TaskSpec = {
  name: "extract",
  summary: "Extract penultimate backbone features of an image dataset into a feature set.",
  usage: "deno task extract --model models/bit_s_r101x1.onnx --images /data/imagenet/val " +
    "--out results/features/imagenet_val",
  flags: {
    model: { type: "string", help: "FILE  backbone .onnx (from `deno task bit-to-onnx`)" },
    images: { type: "string", help: "DIR  ImageFolder (class folders = labels) or flat folder" },
    list: { type: "string", help: "FILE  lines 'relative/path [label]' (with --root)" },
    root: { type: "string", help: "DIR  root the --list paths are relative to" },
    out: { type: "string", help: "DIR  output feature set" },
    dataset: { type: "string", help: "NAME  dataset name for meta.json (default: folder name)" },
    backbone: { type: "string", help: "NAME  backbone name for meta.json (default: model name)" },
    batch: { type: "string", default: "4", help: "N  images per inference batch" },
    device: { type: "string", default: "cpu", help: "cpu | cuda" },
    threads: { type: "string", help: "N  inference threads (default: all cores)" },
    dtype: { type: "string", default: "f32", help: "f32 | f16  storage type of features.npy" },
    shard: { type: "string", help: "i/n  run shard i of n (default: Slurm / Kubernetes env)" },
    "shard-count": { type: "string", help: "N  shards, with JOB_COMPLETION_INDEX (Kubernetes)" },
    strict: { type: "boolean", help: "fail on the first unreadable image instead of skipping it" },
    size: { type: "string", default: "480", help: "N  input resolution (the protocol uses 480)" },
    resize: {
      type: "string",
      default: "pil",
      help: "pil | sharp  Pillow-exact bilinear, or libvips' faster linear kernel",
    },
    force: { type: "boolean", help: "recompute even when the output is complete and up to date" },
    chunk: { type: "string", default: "256", help: "N  images per resumable part file" },
    views: {
      type: "string",
      default: "1",
      help: "V  training views per image in views.npy (resize 512, seeded random 480 crop, flip)",
    },
    "view-seed": { type: "string", default: "0", help: "N  seed of the view crops and flips" },
    unlabeled: {
      type: "boolean",
      help: "labels -1 even with class folders (OOD sets shipped as folders, e.g. dtd/images)",
    },
  },
  notes: [
    "Interrupted runs resume: rerun the same command and finished chunks (--chunk) are reused.",
    "Unreadable images are listed in <out>/skipped.tsv (use --strict to fail instead).",
    "Sharded runs (--shard i/n, or SLURM_ARRAY_TASK_ID / JOB_COMPLETION_INDEX) each write their",
    "own feature set; combine them with `deno task merge-shards --out DIR SHARD_DIRS...`.",
    "--out may not be or hold an input (model, images, list). Files in it that no extract",
    "wrote are left alone and named in a warning (one the result would overwrite is refused);",
    `images above ${MAX_IMAGE_PIXELS} pixels (Pillow's limit) are skipped from their header.`,
    "--views V (> 1, for training sets): features.npy keeps the evaluation transform and",
    "views.npy gets V x N rows (rows i*V..i*V+V-1 are image i's views; ImageNet train at V = 4",
    "in f16 is ~21 GB); `train-head` then draws one view per example per step.",
  ],
};

function baseName(path: string): string {
  return path.replace(/\/+$/, "").split("/").pop() ?? path;
}

async function main(values: FlagValues): Promise<void> {
  const model = requireString(values, "model", SPEC.name);
  const out = requireString(values, "out", SPEC.name);
  const images = values.images as string | undefined;
  const listPath = values.list as string | undefined;
  const rootFlag = values.root as string | undefined;
  if ((images === undefined) === (listPath === undefined)) {
    throw new UsageError(
      "give exactly one of --images DIR or --list FILE --root DIR; see `deno task extract --help`",
    );
  }
  if (listPath !== undefined && rootFlag === undefined) {
    throw new UsageError("--list needs --root DIR, the folder its paths are relative to");
  }
  if (images !== undefined && rootFlag !== undefined) {
    throw new UsageError("--root goes with --list; with --images the folder is the root");
  }
  const batch = numberFlag(values, "batch", { integer: true, min: 1, max: 4096 }) ?? 4;
  const threads = numberFlag(values, "threads", { integer: true, min: 1, max: 1024 }) ??
    navigator.hardwareConcurrency ?? 1;
  const size = numberFlag(values, "size", { integer: true, min: 32, max: 4096 }) ?? 480;
  const chunkSize = numberFlag(values, "chunk", { integer: true, min: 1, max: 1 << 20 }) ?? 256;
  const views = numberFlag(values, "views", { integer: true, min: 1, max: 64 }) ?? 1;
  const viewSeed = numberFlag(values, "view-seed", {
    integer: true,
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
  }) ?? 0;
  const shardCount = numberFlag(values, "shard-count", { integer: true, min: 1, max: MAX_SHARDS });
  const device = choiceFlag(values, "device", ["cpu", "cuda"] as const, "cpu");
  const dtype = choiceFlag(values, "dtype", ["f32", "f16"] as const, "f32");
  const resizer = choiceFlag(values, "resize", ["pil", "sharp"] as const, "pil");
  const shard = resolveShard(values.shard as string | undefined, shardCount, Deno.env.toObject());
  if (shard.count > MAX_SHARDS) {
    throw new UsageError(
      `--shard ${shard.index}/${shard.count}: at most ${MAX_SHARDS} shards; use fewer shards`,
    );
  }
  // Containment is checked before the images are listed: a usage error must come first.
  assertOutsideInputs({ label: "--out", path: out }, [
    { label: "--model", path: model },
    ...(images !== undefined
      ? [{ label: "--images", path: images }]
      : [{ label: "--list", path: listPath! }, { label: "--root", path: rootFlag! }]),
  ]);

  let list: ImageList = images !== undefined
    ? await listImageFolder(images.replace(/\/+$/, ""))
    : await readImageList(listPath!, rootFlag!.replace(/\/+$/, ""));
  if (values.unlabeled === true) {
    list = { ...list, entries: list.entries.map((e) => ({ ...e, label: -1 })) };
  }
  const dataset = (values.dataset as string | undefined) ?? baseName(images ?? rootFlag!);
  const backbone = (values.backbone as string | undefined) ??
    baseName(model).replace(/\.onnx$/, "");

  let progress: Progress | undefined;
  const shardText = shard.count > 1 ? ` shard ${shard.index}/${shard.count}` : "";
  const summary = await runExtraction(
    {
      modelPath: model,
      list,
      outDir: out.replace(/\/+$/, ""),
      dataset,
      backbone,
      batch,
      threads,
      device,
      dtype,
      size,
      resizer,
      shard,
      strict: values.strict === true,
      force: values.force === true,
      chunkSize,
      views,
      viewSeed,
      otherInputs: listPath !== undefined ? [{ label: "--list", path: listPath }] : [],
    },
    (p) => {
      progress ??= createProgress({
        label: `extract${shardText}`,
        total: p.total,
        unit: "img",
        start: p.resumed,
      });
      progress.update(p.done, p.skipped > 0 ? `${p.skipped} skipped` : "");
    },
  );
  progress?.finish();
  for (const w of summary.warnings) console.error(`warning: ${w}`);
  if (summary.upToDate) {
    console.log(
      `${summary.outDir} is up to date (${summary.count} images, dim ${summary.dim}); ` +
        "use --force to recompute",
    );
    return;
  }
  const rate = (summary.total - summary.resumed) / Math.max(summary.seconds, 1e-9);
  console.log(
    `extracted ${summary.count} of ${summary.total} images${shardText} into ${summary.outDir}: ` +
      `dim ${summary.dim}, ${summary.skipped} skipped` +
      (summary.resumed > 0 ? `, ${summary.resumed} resumed` : "") +
      (list.ignored > 0 ? `, ${list.ignored} non-image files ignored` : "") +
      (views > 1 ? `, ${views} training views per image in views.npy` : "") +
      `, ${summary.seconds.toFixed(1)} s (${rate.toFixed(1)} img/s)`,
  );
}

if (import.meta.main) await runTask(SPEC, main);
