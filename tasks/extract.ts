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
import { PREPROCESS_KINDS } from "../lib/extract/transform_spec.ts";
import { CUDA_INSTALL } from "../lib/extract/backbone_session.ts";
import { createProgress, type Progress } from "./_shared/progress.ts";
import { EXTRACT_FLAG_LABELS } from "./_shared/extract_labels.ts";
import { resolveShard } from "./_shared/shard_flags.ts";
import { choiceFlag, defineTask, type FlagValuesOf, runTask } from "./_shared/cli.ts";

const SPEC = defineTask({
  name: "extract",
  summary: "Extract penultimate backbone features of an image dataset into a feature set.",
  usage: "deno task extract --model models/bit_s_r101x1.onnx --images /data/imagenet/val " +
    "--out results/features/imagenet_val",
  flags: {
    model: { type: "string", required: true, help: "FILE  backbone .onnx (bit-to-onnx, or any)" },
    images: {
      type: "string",
      help: "DIR  ImageFolder (wnid folders: ImageNet indices; else sorted) or flat folder",
    },
    list: { type: "string", help: "FILE  lines 'relative/path [label]' (with --root)" },
    root: { type: "string", help: "DIR  root the --list paths are relative to" },
    out: { type: "string", required: true, help: "DIR  output feature set" },
    dataset: { type: "string", help: "NAME  dataset name for meta.json (default: folder name)" },
    backbone: { type: "string", help: "NAME  backbone name for meta.json (default: model name)" },
    preprocess: {
      type: "string",
      default: "bit",
      help: "bit | torchvision | clip  input transform (bit: the MOS protocol)",
    },
    "features-output": { type: "string", help: "NAME  model output stored as features.npy" },
    "logits-output": { type: "string", help: "NAME  model output stored as logits.npy" },
    batch: {
      type: "number",
      default: 4,
      integer: true,
      min: 1,
      max: 4096,
      help: "N  images per inference batch",
    },
    device: { type: "string", default: "cpu", help: "cpu | cuda (CUDA: see the notes)" },
    threads: {
      type: "number",
      integer: true,
      min: 1,
      max: 1024,
      help: "N  inference threads (default: all cores)",
    },
    dtype: { type: "string", default: "f32", help: "f32 | f16  storage type of features.npy" },
    shard: { type: "string", help: "i/n  run shard i of n (default: Slurm / Kubernetes env)" },
    "shard-count": {
      type: "number",
      integer: true,
      min: 1,
      max: MAX_SHARDS,
      help: "N  shards, with JOB_COMPLETION_INDEX (Kubernetes)",
    },
    strict: { type: "boolean", help: "fail on the first unreadable image instead of skipping it" },
    size: {
      type: "number",
      integer: true,
      min: 32,
      max: 4096,
      help: "N  input side (default: the model's, else 480 for bit, 224 for torchvision / clip)",
    },
    resize: {
      type: "string",
      default: "pil",
      help: "pil | sharp  (bit) Pillow-exact bilinear, or libvips' faster linear kernel",
    },
    force: { type: "boolean", help: "recompute even when the output is complete and up to date" },
    chunk: {
      type: "number",
      default: 256,
      integer: true,
      min: 1,
      max: 1 << 20,
      help: "N  images per resumable part file",
    },
    views: {
      type: "number",
      default: 1,
      integer: true,
      min: 1,
      max: 64,
      help: "V  training views per image in views.npy (resize 512, seeded random 480 crop, flip)",
    },
    "view-seed": {
      type: "number",
      default: 0,
      integer: true,
      min: 0,
      max: Number.MAX_SAFE_INTEGER,
      help: "N  seed of the view crops and flips",
    },
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
    "Any ONNX image model: --preprocess torchvision (resize 256, crop 224, ImageNet mean/std) or",
    "clip (bicubic 224, crop 224, CLIP mean/std); its (N, D) output is features.npy and an",
    "(N, C) one logits.npy, found by shape or named with --features-output / --logits-output.",
    "--device cuda needs onnxruntime's CUDA provider (Linux x64, CUDA 12, cuDNN 9); install it once:",
    `  ${CUDA_INSTALL}`,
  ],
});

type Values = FlagValuesOf<typeof SPEC.flags>;

function baseName(path: string): string {
  return path.replace(/\/+$/, "").split("/").pop() ?? path;
}

/** The image list of `--images DIR` or `--list FILE --root DIR` (usage checked first). */
async function imageList(values: Values): Promise<ImageList> {
  const { images, list, root, model, out } = values;
  if ((images === undefined) === (list === undefined)) {
    throw new UsageError(
      "give exactly one of --images DIR or --list FILE --root DIR; see `deno task extract --help`",
    );
  }
  if (list !== undefined && root === undefined) {
    throw new UsageError("--list needs --root DIR, the folder its paths are relative to");
  }
  if (images !== undefined && root !== undefined) {
    throw new UsageError("--root goes with --list; with --images the folder is the root");
  }
  // Containment is checked before the images are listed: a usage error must come first.
  assertOutsideInputs({ label: "--out", path: out }, [
    { label: "--model", path: model },
    ...(images !== undefined
      ? [{ label: "--images", path: images }]
      : [{ label: "--list", path: list! }, { label: "--root", path: root! }]),
  ]);
  if (images !== undefined) {
    return await listImageFolder(images.replace(/\/+$/, ""), {
      unlabeled: values.unlabeled,
      labels: EXTRACT_FLAG_LABELS,
    });
  }
  const read = await readImageList(list!, root!.replace(/\/+$/, ""), EXTRACT_FLAG_LABELS);
  if (!values.unlabeled) return read;
  return { ...read, entries: read.entries.map((e) => ({ ...e, label: -1 })) };
}

/** Choice flags and the combinations that only the bit transform supports. */
function choices(values: Values) {
  const preprocess = choiceFlag(values, "preprocess", PREPROCESS_KINDS, "bit");
  const resizer = choiceFlag(values, "resize", ["pil", "sharp"] as const, "pil");
  if (preprocess !== "bit" && (values.views > 1 || resizer !== "pil")) {
    throw new UsageError(
      `--preprocess ${preprocess} takes neither --views nor --resize sharp (bit only); ` +
        "drop them or use --preprocess bit",
    );
  }
  return {
    preprocess,
    resizer,
    device: choiceFlag(values, "device", ["cpu", "cuda"] as const, "cpu"),
    dtype: choiceFlag(values, "dtype", ["f32", "f16"] as const, "f32"),
  };
}

async function main(values: Values): Promise<void> {
  const { model, out } = values;
  const chosen = choices(values);
  const shard = resolveShard(values.shard, values["shard-count"], Deno.env.toObject());
  if (shard.count > MAX_SHARDS) {
    throw new UsageError(
      `--shard ${shard.index}/${shard.count}: at most ${MAX_SHARDS} shards; use fewer shards`,
    );
  }
  const list = await imageList(values);
  let progress: Progress | undefined;
  const shardText = shard.count > 1 ? ` shard ${shard.index}/${shard.count}` : "";
  const summary = await runExtraction(
    {
      modelPath: model,
      list,
      outDir: out.replace(/\/+$/, ""),
      dataset: values.dataset ?? baseName(values.images ?? values.root!),
      backbone: values.backbone ?? baseName(model).replace(/\.onnx$/, ""),
      batch: values.batch,
      threads: values.threads ?? navigator.hardwareConcurrency ?? 1,
      ...chosen,
      size: values.size,
      featuresOutput: values["features-output"],
      logitsOutput: values["logits-output"],
      shard,
      strict: values.strict,
      force: values.force,
      chunkSize: values.chunk,
      views: values.views,
      viewSeed: values["view-seed"],
      otherInputs: values.list !== undefined ? [{ label: "--list", path: values.list }] : [],
      labels: EXTRACT_FLAG_LABELS,
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
      (list.labelOrder ? `, labels: ${labelOrderText(list.labelOrder)}` : "") +
      (values.views > 1 ? `, ${values.views} training views per image in views.npy` : "") +
      `, ${summary.seconds.toFixed(1)} s (${rate.toFixed(1)} img/s)`,
  );
}

function labelOrderText(order: "imagenet1k" | "sorted folders"): string {
  return order === "imagenet1k"
    ? "wnid folders -> ImageNet-1k class indices"
    : "class folders in sorted order (0..C-1)";
}

if (import.meta.main) await runTask(SPEC, main);
