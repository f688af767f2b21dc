/**
 * The extraction run: images -> backbone -> a feature set directory, resumable and shardable.
 *
 * The shard's images are cut into chunks of `chunkSize` (256) list positions. Each finished chunk
 * is written atomically under `<out>/.parts/` (one `.npy` per output, then a `.json` record that
 * marks it done, tagged with a key of everything that determines its bytes). A rerun with the
 * same arguments reuses the done chunks and computes the rest; batches never cross chunk
 * boundaries, so a resumed run feeds the backbone exactly the batches an uninterrupted one would.
 * When all chunks are done they are concatenated into a staging directory inside `--out`, which
 * is then committed (lib/extract/set_files.ts: `meta.json` last), and `.parts/` is removed file by
 * file from the list in its own `run.json`. Decoding runs ahead of inference through a bounded
 * window, so memory is bounded whatever the dataset size.
 *
 * Containment: `--out` may not overlap an input (model, image root, list); every path written is
 * `--out` joined with a fixed name (model output names are checked before they become file
 * names); a file in `--out` that no extraction wrote is never overwritten or removed. A failed run
 * leaves the previous result as it was, keeps finished chunks for a rerun, and removes an
 * `--out` it created when nothing in it is worth keeping.
 *
 * The stage runner (lib/io/stage.ts) does the directory, lock and release part
 * (`withLockedDir`); the rest is not `runStage`, on purpose: (1) the work is resumable across
 * failed runs, in `.parts/`, which `runStage`'s all-or-nothing compute cannot keep; (2) a feature
 * set's commit removes the previous result's files the new one lacks (e.g. `views.npy` after a
 * rerun without `--views`, which readers would pick up by presence) and refuses foreign files,
 * while the runner's commit only adds and replaces; (3) ownership of those files is recorded in
 * the manifest's `files` list and in meta.json, which is the completion marker readers check.
 * The guarantee is the same: until the final commit the previous result is untouched, and the
 * commit itself (lib/extract/set_files.ts) takes meta.json away first and puts it back last, so
 * a crash at any point leaves either the previous set, or no readable set and a rerun resumes.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { DataError } from "../errors.ts";
import { diskError, writeJsonAtomic } from "../io/atomic.ts";
import { assertOutsideInputs, type NamedPath } from "../io/containment.ts";
import { hashFile, manifestMatches } from "../io/manifest.ts";
import { withLockedDir } from "../io/stage.ts";
import { assertFitsInMemory } from "../memory_budget.ts";
import { f32Tensor } from "../ort/session.ts";
import { type Backbone, openBackbone } from "./backbone_session.ts";
import { assemble } from "./extract_assemble.ts";
import { computeChunks, strictError } from "./extract_compute.ts";
import { type ExtractConfig, type RunContext, viewSettings } from "./extract_config.ts";
import {
  loadRecords,
  type PartRecord,
  PARTS,
  readJsonOrNull,
  removeParts,
  type RunRecord,
  VIEWS,
} from "./extract_parts.ts";
import { listHash } from "./image_list.ts";
import { FIXED_FILES, outputFileName, planSetFiles } from "./set_files.ts";
import { extractLabels } from "./labels.ts";
import { shardRange } from "./shard.ts";
import { DEFAULT_SIZE, inputDims, transformSpec } from "./transform_spec.ts";

export type { ExtractConfig } from "./extract_config.ts";

/** Progress of a run: images handled (decoded or skipped) out of the shard's total. */
export interface ExtractProgress {
  /** Images handled so far by this run (decoded or skipped). */
  done: number;
  /** Images in the shard. */
  total: number;
  /** Unreadable images skipped so far (no feature row). */
  skipped: number;
  /** Images already done by an earlier, interrupted run. */
  resumed: number;
}

/** What a run did. */
export interface ExtractSummary {
  /** The feature set's directory. */
  outDir: string;
  /** Images with features. */
  count: number;
  /** Unreadable images skipped (no feature row). */
  skipped: number;
  /** Images in this shard. */
  total: number;
  /** Columns of features.npy (the primary output's dimension). */
  dim: number;
  /** Images taken from parts of an earlier, interrupted run (0 when up to date). */
  resumed: number;
  /** True when the output was already complete and nothing was recomputed. */
  upToDate: boolean;
  /** Feature-set names of the stored outputs, `features` first. */
  outputs: string[];
  /** Wall-clock duration of the run, in seconds. */
  seconds: number;
  /** Lines for the user (lib prints nothing): foreign files left alone in `--out`. */
  warnings: string[];
}

function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The inputs `cfg.outDir` must stay clear of: the model (and its external `.data` file), the
 * image root, and {@linkcode ExtractConfig.otherInputs}.
 */
export function extractionInputs(cfg: ExtractConfig): NamedPath[] {
  const l = extractLabels(cfg.labels);
  const inputs: NamedPath[] = [{ label: l.model, path: cfg.modelPath }];
  const data = `${cfg.modelPath}.data`;
  if (existsSync(data)) inputs.push({ label: `${l.model} data file`, path: data });
  inputs.push({ label: cfg.list.layout === "list" ? l.root : l.images, path: cfg.list.root });
  return [...inputs, ...(cfg.otherInputs ?? [])];
}

/**
 * Bytes an extraction holds at once: the decode window (`decodeAhead` images, at most `images`,
 * of `3 size^2` bytes, and V crops each with views), the float32 input batch (twice with views),
 * and one chunk's output rows (`chunkSize` rows, at most `images`, of every output plus V view
 * rows; held twice while a chunk is concatenated). `dims` are the model's declared output widths
 * (unknown ones count 0). The full-size decode of one image is bounded separately by the pixel
 * limit ({@linkcode PixelLimitError}).
 */
export function extractionMemoryBytes(o: {
  images: number;
  batch: number;
  size: number;
  views: number;
  chunkSize: number;
  decodeAhead?: number;
  dims: readonly number[];
}): number {
  const per = 3 * o.size * o.size;
  const ahead = Math.min(o.images, o.decodeAhead ?? 2 * o.batch + 8);
  const window = ahead * per * (1 + (o.views > 1 ? o.views : 0));
  const batches = o.batch * per * 4 * (o.views > 1 ? 2 : 1);
  const primary = o.dims[0] ?? 0;
  const rowBytes = 4 * (o.dims.reduce((s, d) => s + d, 0) + (o.views > 1 ? o.views * primary : 0));
  return window + batches + 2 * Math.min(o.images, o.chunkSize) * rowBytes;
}

/** The run with its model open: input side, transform, batch, shard range (key not yet known). */
function resolveRun(cfg: ExtractConfig, backbone: Backbone): Omit<RunContext, "key"> {
  const kind = cfg.preprocess ?? "bit";
  const declared = backbone.inputSize;
  if (cfg.size !== undefined && declared !== undefined && cfg.size !== declared) {
    const l = extractLabels(cfg.labels);
    throw new DataError(
      `${l.size} ${cfg.size}: ${l.model} ${cfg.modelPath} takes ${declared} x ${declared} ` +
        `inputs; drop ${l.size} or pass ${l.size} ${declared}`,
    );
  }
  const size = cfg.size ?? declared ?? DEFAULT_SIZE[kind];
  const vs = viewSettings(cfg, size);
  const { start, end } = shardRange(cfg.list.entries.length, cfg.shard);
  return {
    cfg,
    backbone,
    transform: transformSpec(kind, size, backbone.layout),
    batch: backbone.fixedBatch ?? cfg.batch,
    chunkSize: cfg.chunkSize ?? 256,
    vs,
    start,
    end,
    partsDir: `${cfg.outDir}/${PARTS}`,
    partNames: [...backbone.outputs, ...(vs ? [VIEWS] : [])],
  };
}

function assertMemory(ctx: Omit<RunContext, "key">): void {
  const { cfg, backbone, transform } = ctx;
  const l = extractLabels(cfg.labels);
  const views = cfg.views ?? 1;
  const need = extractionMemoryBytes({
    images: ctx.end - ctx.start,
    batch: ctx.batch,
    size: transform.size,
    views,
    chunkSize: ctx.chunkSize,
    decodeAhead: cfg.decodeAhead,
    dims: backbone.outputs.map((o) => backbone.dims[o] ?? 0),
  });
  assertFitsInMemory(
    need,
    `extracting ${cfg.list.root} (batch ${ctx.batch} of ${transform.size}x${transform.size} ` +
      `images, chunk ${ctx.chunkSize}${views > 1 ? `, ${views} views` : ""})`,
    `use a smaller ${l.batch}, ${l.chunk} or ${l.size}`,
  );
}

/**
 * Runs (or resumes, or skips as up to date) an extraction and writes the feature set.
 * `onProgress` is called after every batch.
 */
export async function runExtraction(
  cfg: ExtractConfig,
  onProgress?: (p: ExtractProgress) => void,
): Promise<ExtractSummary> {
  const t0 = performance.now();
  // Usage before anything else: --out may not be or hold an input (exit 2, nothing created).
  const out = extractLabels(cfg.labels).out;
  assertOutsideInputs({ label: out, path: cfg.outDir }, extractionInputs(cfg));
  viewSettings(cfg, cfg.size ?? DEFAULT_SIZE[cfg.preprocess ?? "bit"]);
  // The model is opened (and its outputs checked) before --out is touched: a bad --model must
  // not create or damage the output directory.
  const backbone = await openBackbone(cfg.modelPath, {
    device: cfg.device,
    threads: cfg.threads,
    featuresOutput: cfg.featuresOutput,
    logitsOutput: cfg.logitsOutput,
    labels: cfg.labels,
  });
  try {
    const base = resolveRun(cfg, backbone);
    assertMemory(base);
    // The stage runner's lock and fresh-directory handling (lib/io/stage.ts); the rest of the
    // sequence is extraction's own, see the module doc.
    return await withLockedDir(
      cfg.outDir,
      { purpose: "extract", label: out },
      () => extractWith(base, onProgress, t0),
    );
  } finally {
    await backbone.session.release().catch(() => {});
  }
}

/** The manifest's config and inputs of a run, and the key of its parts. */
interface RunIdentity {
  config: Record<string, unknown>;
  inputs: Record<string, string>;
  key: string;
}

async function runIdentity(base: Omit<RunContext, "key">): Promise<RunIdentity> {
  const { cfg, backbone, transform, vs } = base;
  const inputs: Record<string, string> = {
    model: `sha256:${await hashFile(cfg.modelPath)}`,
    list: `sha256:${listHash(cfg.list.entries)}`,
  };
  try {
    inputs.model_data = `sha256:${await hashFile(`${cfg.modelPath}.data`)}`;
  } catch { /* no external data file */ }
  const legacy = backbone.outputs.every((o) => backbone.sources[o] === o);
  const config = {
    dataset: cfg.dataset,
    backbone: cfg.backbone,
    size: transform.size,
    resizer: cfg.resizer ?? "pil",
    dtype: cfg.dtype,
    batch: base.batch,
    device: cfg.device,
    shard: cfg.shard,
    chunk: base.chunkSize,
    list_root: cfg.list.root,
    // Only when they differ from the defaults, so that feature sets extracted before these
    // options existed stay up to date.
    ...(vs ? { views: vs } : {}),
    ...(transform.kind !== "bit" ? { preprocess: transform.kind } : {}),
    ...(legacy ? {} : { model_outputs: backbone.sources }),
  };
  const key = createHash("sha256").update(JSON.stringify({ config, inputs })).digest("hex");
  return { config, inputs, key };
}

/** The summary of a result that is complete and up to date, or null when it must be computed. */
async function upToDate(
  ctx: RunContext,
  id: RunIdentity,
  files: string[],
  t0: number,
): Promise<ExtractSummary | null> {
  const { cfg } = ctx;
  const existing = await readJsonOrNull<Record<string, unknown>>(`${cfg.outDir}/meta.json`);
  const manifestKey = { stage: "extract", config: id.config, inputs: id.inputs };
  if (
    cfg.force || existing?.complete !== true || !await manifestMatches(cfg.outDir, manifestKey)
  ) {
    return null;
  }
  const warnings = await removeParts(
    ctx.partsDir,
    await readJsonOrNull<Partial<RunRecord>>(`${ctx.partsDir}/run.json`),
  );
  // Nothing is written, so a foreign file a reader would pick up is only reported.
  const plan = await planSetFiles(cfg.outDir, files, {
    task: "extract",
    internal: [PARTS],
    label: extractLabels(cfg.labels).out,
  })
    .catch((err) => {
      if (err instanceof DataError) return { warnings: [err.message] };
      throw err;
    });
  return {
    outDir: cfg.outDir,
    count: existing.count as number,
    skipped: existing.skipped as number,
    total: ctx.end - ctx.start,
    dim: existing.dim as number,
    resumed: 0,
    upToDate: true,
    outputs: Array.isArray(existing.outputs)
      ? existing.outputs.map((o: { name: string }) => o.name)
      : ["features"],
    seconds: (performance.now() - t0) / 1000,
    warnings: [...plan.warnings, ...warnings],
  };
}

/** Clears parts of another run (or all, with force), then records this run in run.json. */
async function startParts(ctx: RunContext, id: RunIdentity): Promise<RunRecord> {
  const previous = await readJsonOrNull<Partial<RunRecord>>(`${ctx.partsDir}/run.json`);
  if (ctx.cfg.force || (previous && previous.key !== id.key)) {
    await removeParts(ctx.partsDir, previous);
  }
  try {
    await Deno.mkdir(ctx.partsDir, { recursive: true });
  } catch (err) {
    throw diskError(err, ctx.partsDir);
  }
  const chunks = Math.ceil((ctx.end - ctx.start) / ctx.chunkSize);
  const run: RunRecord = { key: id.key, chunks, parts: ctx.partNames };
  await writeJsonAtomic(`${ctx.partsDir}/run.json`, {
    ...run,
    config: id.config,
    inputs: id.inputs,
  });
  return run;
}

async function extractWith(
  base: Omit<RunContext, "key">,
  onProgress: ((p: ExtractProgress) => void) | undefined,
  t0: number,
): Promise<ExtractSummary> {
  const id = await runIdentity(base);
  const ctx: RunContext = { ...base, key: id.key };
  const { cfg } = ctx;
  const total = ctx.end - ctx.start;
  // Every file name below comes from these fixed names and the checked output names.
  const files = [
    ...ctx.partNames.map((o, i) => o === VIEWS ? `${VIEWS}.npy` : outputFileName(o, i === 0)),
    ...FIXED_FILES,
  ];
  let runRecord: RunRecord | null = null;
  let anyChunkDone = false;
  try {
    const done = await upToDate(ctx, id, files, t0);
    if (done) return done;
    // Before anything is written: refuse a foreign file the result would overwrite or a reader
    // would take for part of it. The previous result stays complete until the commit.
    const plan = await planSetFiles(cfg.outDir, files, {
      task: "extract",
      internal: [PARTS],
      label: extractLabels(cfg.labels).out,
    });
    runRecord = await startParts(ctx, id);
    const records = await loadRecords(ctx.partsDir, {
      key: id.key,
      start: ctx.start,
      end: ctx.end,
      chunkSize: ctx.chunkSize,
      parts: ctx.partNames,
    });
    const finished = records.filter((r): r is PartRecord => r !== null);
    anyChunkDone = finished.length > 0;
    const resumed = finished.reduce((s, r) => s + r.end - r.start, 0);
    const progress = {
      done: resumed,
      total,
      skipped: finished.reduce((s, r) => s + r.skipped.length, 0),
      resumed,
    };
    if (cfg.strict) {
      const bad = finished.find((r) => r.skipped.length > 0);
      if (bad) throw strictError(cfg, bad.skipped[0]);
    }
    onProgress?.({ ...progress });
    const todo = records.flatMap((r, c) => r ? [] : [c]);
    if (todo.length > 0) {
      await computeChunks(ctx, todo, (rec) => {
        records[rec.chunk] = rec;
        anyChunkDone = true;
      }, (n, skipped) => {
        progress.done += n;
        progress.skipped += skipped;
        onProgress?.({ ...progress });
      });
    }
    const all = records as PartRecord[];
    const a = await assemble(ctx, all, {
      dims: await resolveDims(ctx, all),
      config: id.config,
      inputs: id.inputs,
      files,
      stale: plan.stale,
      t0,
    });
    const leftovers = await removeParts(ctx.partsDir, runRecord);
    return {
      outDir: cfg.outDir,
      ...a,
      total,
      resumed,
      upToDate: false,
      outputs: ctx.backbone.outputs,
      seconds: (performance.now() - t0) / 1000,
      warnings: [...plan.warnings, ...leftovers],
    };
  } catch (err) {
    // Finished chunks are kept for the rerun; a run that finished none leaves no .parts.
    if (runRecord && !anyChunkDone) await removeParts(ctx.partsDir, runRecord).catch(() => {});
    throw err;
  }
}

/** Output widths: from the parts, else the model's declared shapes, else one blank image. */
async function resolveDims(
  ctx: RunContext,
  records: PartRecord[],
): Promise<Record<string, number>> {
  const withRows = records.find((r) => r.ok > 0);
  if (withRows) return withRows.dims;
  const { backbone, transform } = ctx;
  const dims: Record<string, number> = {};
  let missing = false;
  for (const o of backbone.outputs) {
    const d = backbone.dims[o];
    if (d === undefined) missing = true;
    else dims[o] = d;
  }
  if (!missing) return dims;
  const n = backbone.fixedBatch ?? 1;
  const per = 3 * transform.size * transform.size;
  const out = await backbone.session.run({
    [backbone.input]: f32Tensor(new Float32Array(n * per), inputDims(transform, n)),
  });
  for (const o of backbone.outputs) dims[o] = out[backbone.sources[o]].data.length / n;
  return dims;
}
