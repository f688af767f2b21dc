/**
 * The last step of an extraction: the finished chunks are concatenated into a staging directory
 * inside `--out` with labels, paths, skipped.tsv, manifest.json and meta.json (last: its
 * `complete: true` makes the set readable), then committed (lib/extract/set_files.ts).
 *
 * @module
 */
import { diskError, writeJsonAtomic, writeTextAtomic } from "../io/atomic.ts";
import { buildManifest, writeManifest } from "../io/manifest.ts";
import { type NpyDtype, writeNpy } from "../io/npy.ts";
import { createStaging, discardStaging } from "../io/staging.ts";
import type { RunContext } from "./extract_config.ts";
import { partName, type PartRecord, storageDtype, VIEWS } from "./extract_parts.ts";
import { concatNpyFiles } from "./npy_concat.ts";
import { preprocessInfo } from "./preprocess.ts";
import { commitSetFiles, outputFileName, type SetOutput } from "./set_files.ts";
import { transformInfo } from "./transform_spec.ts";

/** What {@linkcode assemble} needs besides the run. */
export interface AssembleInput {
  /** Width of every part array. */
  dims: Record<string, number>;
  config: Record<string, unknown>;
  inputs: Record<string, string>;
  /** Every top-level file of the new result (manifest.json lists them). */
  files: string[];
  /** Files of the previous result that the new one lacks. */
  stale: string[];
  t0: number;
}

/** What an assembled result holds. */
export interface Assembled {
  count: number;
  skipped: number;
  dim: number;
}

/** One line of skipped.tsv: tabs and newlines in reasons would break the format. */
function tsvField(s: string): string {
  return s.replace(/[\t\r\n]+/g, " ");
}

const dtypeName = (d: NpyDtype) => (d === "<f4" ? "float32" : "float16") as SetOutput["dtype"];

/** The output arrays of the set, as meta.json lists them. */
function setOutputs(ctx: RunContext, dims: Record<string, number>): SetOutput[] {
  const { backbone, cfg, vs } = ctx;
  const primary = backbone.outputs[0];
  return [
    ...backbone.outputs.map((o, i) => ({
      name: o,
      file: outputFileName(o, i === 0),
      dim: dims[o],
      dtype: dtypeName(storageDtype(o, cfg.dtype)),
    })),
    ...(vs
      ? [{
        name: VIEWS,
        file: `${VIEWS}.npy`,
        dim: dims[primary],
        dtype: dtypeName(storageDtype(primary, cfg.dtype)),
        rows_per_image: vs.views,
      }]
      : []),
  ];
}

/** How the images were turned into network inputs, for meta.json. */
function preprocessMeta(ctx: RunContext): Record<string, unknown> {
  const base = preprocessInfo(ctx.transform.size, ctx.cfg.resizer ?? "pil");
  if (ctx.transform.kind === "bit") return base;
  return { decoder: base.decoder, color: base.color, ...transformInfo(ctx.transform) };
}

/** meta.json of the result. */
function buildMeta(
  ctx: RunContext,
  o: {
    count: number;
    skipped: number;
    dim: number;
    outputs: SetOutput[];
    inputs: AssembleInput["inputs"];
  },
): Record<string, unknown> {
  const { cfg, vs } = ctx;
  const S = ctx.transform.size;
  const legacy = ctx.backbone.outputs.every((n) => ctx.backbone.sources[n] === n);
  return {
    dataset: cfg.dataset,
    backbone: cfg.backbone,
    dim: o.dim,
    count: o.count,
    dtype: cfg.dtype === "f16" ? "float16" : "float32",
    preprocess: preprocessMeta(ctx),
    complete: true,
    skipped: o.skipped,
    outputs: o.outputs,
    ...(legacy ? {} : { model_outputs: ctx.backbone.sources }),
    views: vs ? vs.views : 1,
    ...(vs
      ? {
        view_transform: {
          resize: `${vs.resize}x${vs.resize} (same resizer as features.npy)`,
          crop: `${S}x${S} at (top, left) uniform in [0, ${vs.resize - S}]`,
          flip: "horizontal, probability 0.5",
          seed: vs.seed,
          rows: "views.npy row i*V+v is view v of features.npy row i",
        },
      }
      : {}),
    source: {
      layout: cfg.list.layout,
      root: cfg.list.root,
      images: cfg.list.entries.length,
      ignored_files: cfg.list.ignored,
      ...(cfg.list.classes ? { classes: cfg.list.classes } : {}),
      ...(cfg.list.labelOrder ? { label_order: cfg.list.labelOrder } : {}),
    },
    shard: {
      index: cfg.shard.index,
      count: cfg.shard.count,
      start: ctx.start,
      end: ctx.end,
      total: cfg.list.entries.length,
    },
    list_sha256: o.inputs.list.slice(7),
    model_sha256: o.inputs.model.slice(7),
    model: cfg.modelPath.split("/").pop(),
    device: cfg.device,
  };
}

/** Labels and paths of the images that have features, in list order. */
function survivors(ctx: RunContext, bad: Set<number>, count: number) {
  const labels = new Int32Array(count);
  const paths: string[] = [];
  for (let p = ctx.start, i = 0; p < ctx.end; p++) {
    if (bad.has(p)) continue;
    labels[i++] = ctx.cfg.list.entries[p].label;
    paths.push(ctx.cfg.list.entries[p].path);
  }
  return { labels, paths };
}

/** Concatenates the finished chunks into the result and commits it (see the module doc). */
export async function assemble(
  ctx: RunContext,
  records: PartRecord[],
  a: AssembleInput,
): Promise<Assembled> {
  const { cfg } = ctx;
  const count = records.reduce((s, r) => s + r.ok, 0);
  const skipped = records.flatMap((r) => r.skipped);
  const { labels, paths } = survivors(ctx, new Set(skipped.map(([p]) => p)), count);
  const outputs = setOutputs(ctx, a.dims);
  const primary = ctx.backbone.outputs[0];
  let staging: string;
  try {
    staging = await createStaging(cfg.outDir);
  } catch (err) {
    throw diskError(err, `${cfg.outDir}/.staging`);
  }
  try {
    for (const o of outputs) {
      await concatNpyFiles(
        `${staging}/${o.file}`,
        storageDtype(o.name === VIEWS ? primary : o.name, cfg.dtype),
        o.dim,
        count * (o.rows_per_image ?? 1),
        records.map((r) => `${ctx.partsDir}/${partName(r.chunk)}.${o.name}.npy`),
      ).catch((err) => {
        throw diskError(err, `${cfg.outDir}/${o.file}`);
      });
    }
    await writeNpy(`${staging}/labels.npy`, { dtype: "<i4", shape: [count], data: labels });
    await writeTextAtomic(`${staging}/paths.txt`, paths.map((p) => p + "\n").join(""));
    await writeTextAtomic(
      `${staging}/skipped.tsv`,
      "path\treason\n" +
        skipped.map(([p, why]) => `${tsvField(cfg.list.entries[p].path)}\t${tsvField(why)}\n`).join(
          "",
        ),
    );
    // `files`: what this directory holds of ours; a later run replaces or removes only these.
    const manifest = {
      ...buildManifest({
        stage: "extract",
        config: a.config,
        inputs: a.inputs,
        wallSeconds: (performance.now() - a.t0) / 1000,
      }),
      files: a.files,
    };
    await writeManifest(staging, manifest);
    const dim = a.dims[primary];
    const meta = buildMeta(ctx, { count, skipped: skipped.length, dim, outputs, inputs: a.inputs });
    // Committed last: its `complete: true` is what makes the set readable.
    await writeJsonAtomic(`${staging}/meta.json`, meta);
    await commitSetFiles(staging, cfg.outDir, a.stale);
    return { count, skipped: skipped.length, dim };
  } catch (err) {
    await discardStaging(staging);
    throw err;
  }
}
