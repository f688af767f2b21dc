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
 * @module
 */
import { createHash } from "node:crypto";
import { DataError } from "../errors.ts";
import { diskError, writeJsonAtomic, writeTextAtomic } from "../io/atomic.ts";
import { assertOutsideInputs, type NamedPath } from "../io/containment.ts";
import { acquireLock } from "../io/lock.ts";
import { buildManifest, hashFile, manifestMatches, writeManifest } from "../io/manifest.ts";
import { float32ToFloat16Bits, type NpyDtype, writeNpy } from "../io/npy.ts";
import { prepareOutDir, removeFreshOutDir } from "../io/out_dir.ts";
import { createStaging, discardStaging } from "../io/staging.ts";
import { assertFitsInMemory } from "../memory_budget.ts";
import { f32Tensor } from "../ort/session.ts";
import { type Backbone, openBackbone } from "./backbone_session.ts";
import { type ImageList, listHash } from "./image_list.ts";
import { concatNpyFiles } from "./npy_concat.ts";
import {
  configureDecoder,
  cropFlipRgb,
  decodeRgbSizes,
  drawViews,
  PixelLimitError,
  preprocessInfo,
  type Resizer,
  rgbToChw,
  viewResizeFor,
} from "./preprocess.ts";
import {
  commitSetFiles,
  FIXED_FILES,
  isSafeOutputName,
  outputFileName,
  planSetFiles,
  type SetOutput,
  VIEWS_OUTPUT,
} from "./set_files.ts";
import { type Shard, shardRange } from "./shard.ts";

/** Everything an extraction needs. */
export interface ExtractConfig {
  modelPath: string;
  list: ImageList;
  outDir: string;
  /** Dataset name for meta.json. */
  dataset: string;
  /** Backbone name for meta.json. */
  backbone: string;
  batch: number;
  threads: number;
  device: "cpu" | "cuda";
  dtype: "f32" | "f16";
  size: number;
  resizer?: Resizer;
  shard: Shard;
  strict: boolean;
  /** Recompute even when the output is complete and up to date. */
  force?: boolean;
  /** List positions per resumable part (default 256). */
  chunkSize?: number;
  /** Images decoded ahead of inference (default 2 batches + 8). */
  decodeAhead?: number;
  /**
   * Training views per image (default 1: none). With V > 1, `views.npy` gets V rows per image
   * (rows i*V .. i*V+V-1 for image i of features.npy), each the primary output of one draw of
   * the training transform (resize `viewResize`, seeded random `size` crop, random flip);
   * features.npy keeps the evaluation transform.
   */
  views?: number;
  /** Seed of the view draws (default 0). */
  viewSeed?: number;
  /** Square resize before the random crop (default {@linkcode viewResizeFor}(size): 512 at 480). */
  viewResize?: number;
  /**
   * Inputs besides the model and the image root that `outDir` must not overlap, e.g. the
   * `--list` file or an extraction plan (`--config`).
   */
  otherInputs?: NamedPath[];
}

/** Progress of a run: images handled (decoded or skipped) out of the shard's total. */
export interface ExtractProgress {
  done: number;
  total: number;
  skipped: number;
  /** Images already done by an earlier, interrupted run. */
  resumed: number;
}

/** What a run did. */
export interface ExtractSummary {
  outDir: string;
  /** Images with features. */
  count: number;
  skipped: number;
  /** Images in this shard. */
  total: number;
  dim: number;
  resumed: number;
  /** True when the output was already complete and nothing was recomputed. */
  upToDate: boolean;
  outputs: string[];
  seconds: number;
  /** Lines for the user (lib prints nothing): foreign files left alone in `--out`. */
  warnings: string[];
}

interface PartRecord {
  key: string;
  chunk: number;
  start: number;
  end: number;
  ok: number;
  /** List positions (global) and reasons of unreadable images. */
  skipped: [number, string][];
  dims: Record<string, number>;
}

/** `.parts/run.json`: the run's key, and the exact part files it may write (for removal). */
interface RunRecord {
  key: string;
  /** Chunks of the run: part files are `part-NNNNNN.json` and `part-NNNNNN.<part>.npy`. */
  chunks: number;
  /** The `<part>` names: the model's outputs, and `views`. */
  parts: string[];
}

const PARTS = ".parts";

/** Largest chunk count a run.json may claim (a damaged one must not start a huge loop). */
const MAX_CHUNKS = 100_000_000;

function partName(chunk: number): string {
  return `part-${String(chunk).padStart(6, "0")}`;
}

function storageDtype(output: string, dtype: "f32" | "f16"): NpyDtype {
  return output === "logits" || dtype === "f32" ? "<f4" : "<f2";
}

/** Name of the training-views array (its part files: `part-NNNNNN.views.npy`). */
const VIEWS = VIEWS_OUTPUT;

/** The view settings of a config, null when it extracts no training views. */
function viewSettings(cfg: ExtractConfig): { views: number; seed: number; resize: number } | null {
  const views = cfg.views ?? 1;
  if (!Number.isInteger(views) || views < 1) throw new RangeError(`views must be >= 1: ${views}`);
  if (views === 1) return null;
  const resize = cfg.viewResize ?? viewResizeFor(cfg.size);
  if (resize < cfg.size) {
    throw new RangeError(`view resize ${resize} is smaller than the crop ${cfg.size}`);
  }
  return { views, seed: cfg.viewSeed ?? 0, resize };
}

async function readJsonOrNull<T>(path: string): Promise<T | null> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as T;
  } catch {
    return null;
  }
}

/** One line of skipped.tsv: tabs and newlines in reasons would break the format. */
function tsvField(s: string): string {
  return s.replace(/[\t\r\n]+/g, " ");
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
  const inputs: NamedPath[] = [{ label: "--model", path: cfg.modelPath }];
  const data = `${cfg.modelPath}.data`;
  if (existsSync(data)) inputs.push({ label: "--model data file", path: data });
  inputs.push({ label: cfg.list.layout === "list" ? "--root" : "--images", path: cfg.list.root });
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
  assertOutsideInputs({ label: "--out", path: cfg.outDir }, extractionInputs(cfg));
  viewSettings(cfg);
  // The model is opened (and its outputs checked) before --out is touched: a bad --model must
  // not create or damage the output directory.
  const backbone = await openBackbone(cfg.modelPath, {
    device: cfg.device,
    threads: cfg.threads,
  });
  try {
    const chunkSize = cfg.chunkSize ?? 256;
    const views = cfg.views ?? 1;
    const { start, end } = shardRange(cfg.list.entries.length, cfg.shard);
    const need = extractionMemoryBytes({
      images: end - start,
      batch: cfg.batch,
      size: cfg.size,
      views,
      chunkSize,
      decodeAhead: cfg.decodeAhead,
      dims: backbone.outputs.map((o) => backbone.dims[o] ?? 0),
    });
    assertFitsInMemory(
      need,
      `extracting ${cfg.list.root} (batch ${cfg.batch} of ${cfg.size}x${cfg.size} images, ` +
        `chunk ${chunkSize}${views > 1 ? `, ${views} views` : ""})`,
      "use a smaller --batch, --chunk or --size",
    );
    const out = await prepareOutDir(cfg.outDir, "--out");
    try {
      return await extractWith(cfg, backbone, onProgress, t0);
    } catch (err) {
      await removeFreshOutDir(out);
      throw err;
    }
  } finally {
    await backbone.session.release().catch(() => {});
  }
}

/** The part files a run record names, run.json last; names that are not ours are skipped. */
function partFiles(run: Partial<RunRecord> | null): string[] {
  if (!run) return [];
  const chunks = Number.isSafeInteger(run.chunks) && run.chunks! >= 0 && run.chunks! <= MAX_CHUNKS
    ? run.chunks!
    : 0;
  const parts = Array.isArray(run.parts) ? run.parts.filter(isSafeOutputName) : [];
  const files: string[] = [];
  for (let c = 0; c < chunks; c++) {
    files.push(`${partName(c)}.json`);
    for (const p of parts) files.push(`${partName(c)}.${p}.npy`);
  }
  files.push("run.json");
  return files;
}

/**
 * Removes the part files `run` lists, then `.parts` itself if that left it empty. Returns a
 * warning when something else is in there (it is left alone).
 */
async function removeParts(partsDir: string, run: Partial<RunRecord> | null): Promise<string[]> {
  for (const f of partFiles(run)) {
    await Deno.remove(`${partsDir}/${f}`).catch((err) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    });
  }
  try {
    await Deno.remove(partsDir);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    const left: string[] = [];
    for await (const e of Deno.readDir(partsDir)) left.push(e.name);
    if (left.length === 0) throw err;
    return [
      `${partsDir} still holds ${left.length} entries no extraction run lists (${
        left.sort().slice(0, 3).join(", ")
      }${left.length > 3 ? ", ..." : ""}); they were left alone`,
    ];
  }
  return [];
}

async function extractWith(
  cfg: ExtractConfig,
  backbone: Backbone,
  onProgress: ((p: ExtractProgress) => void) | undefined,
  t0: number,
): Promise<ExtractSummary> {
  const chunkSize = cfg.chunkSize ?? 256;
  const resizer = cfg.resizer ?? "pil";
  const entries = cfg.list.entries;
  const { start, end } = shardRange(entries.length, cfg.shard);
  const total = end - start;
  const modelHash = await hashFile(cfg.modelPath);
  const inputs: Record<string, string> = {
    model: `sha256:${modelHash}`,
    list: `sha256:${listHash(entries)}`,
  };
  try {
    inputs.model_data = `sha256:${await hashFile(`${cfg.modelPath}.data`)}`;
  } catch { /* no external data file */ }
  const vs = viewSettings(cfg);
  const config = {
    dataset: cfg.dataset,
    backbone: cfg.backbone,
    size: cfg.size,
    resizer,
    dtype: cfg.dtype,
    batch: cfg.batch,
    device: cfg.device,
    shard: cfg.shard,
    chunk: chunkSize,
    list_root: cfg.list.root,
    // Only with views, so feature sets extracted before views existed stay up to date.
    ...(vs ? { views: vs } : {}),
  };
  const key = createHash("sha256").update(JSON.stringify({ config, inputs })).digest("hex");
  const primary = backbone.outputs[0];
  // Every file name below comes from these fixed names and the checked model output names.
  const partNames = [...backbone.outputs, ...(vs ? [VIEWS] : [])];
  const files = [
    ...partNames.map((o, i) => o === VIEWS ? `${VIEWS}.npy` : outputFileName(o, i === 0)),
    ...FIXED_FILES,
  ];

  const lock = await acquireLock(cfg.outDir, "extract");
  const partsDir = `${cfg.outDir}/${PARTS}`;
  let runRecord: RunRecord | null = null;
  let anyChunkDone = false;
  try {
    const manifestKey = { stage: "extract", config, inputs };
    const existing = await readJsonOrNull<Record<string, unknown>>(`${cfg.outDir}/meta.json`);
    if (
      !cfg.force && existing?.complete === true && await manifestMatches(cfg.outDir, manifestKey)
    ) {
      const warnings = await removeParts(
        partsDir,
        await readJsonOrNull<Partial<RunRecord>>(`${partsDir}/run.json`),
      );
      // Nothing is written, so a foreign file a reader would pick up is only reported.
      const plan = await planSetFiles(cfg.outDir, files, { task: "extract", internal: [PARTS] })
        .catch((err) => {
          if (err instanceof DataError) return { warnings: [err.message] };
          throw err;
        });
      return {
        outDir: cfg.outDir,
        count: existing.count as number,
        skipped: existing.skipped as number,
        total,
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
    // Before anything is written: refuse a foreign file the result would overwrite or a reader
    // would take for part of it. The previous result stays complete until the commit.
    const plan = await planSetFiles(cfg.outDir, files, { task: "extract", internal: [PARTS] });
    const previous = await readJsonOrNull<Partial<RunRecord>>(`${partsDir}/run.json`);
    if (cfg.force || (previous && previous.key !== key)) {
      await removeParts(partsDir, previous);
    }
    try {
      await Deno.mkdir(partsDir, { recursive: true });
    } catch (err) {
      throw diskError(err, partsDir);
    }
    const nChunks = Math.ceil(total / chunkSize);
    runRecord = { key, chunks: nChunks, parts: partNames };
    await writeJsonAtomic(`${partsDir}/run.json`, { ...runRecord, config, inputs });

    const records: (PartRecord | null)[] = new Array(nChunks).fill(null);
    let resumed = 0;
    let skippedCount = 0;
    for (let c = 0; c < nChunks; c++) {
      const rec = await readJsonOrNull<PartRecord>(`${partsDir}/${partName(c)}.json`);
      const a = start + c * chunkSize;
      if (
        rec && rec.key === key && rec.chunk === c &&
        validRecord(rec, a, Math.min(end, a + chunkSize), partNames)
      ) {
        records[c] = rec;
        anyChunkDone = true;
        resumed += rec.end - rec.start;
        skippedCount += rec.skipped.length;
        if (cfg.strict && rec.skipped.length > 0) throw strictError(cfg, rec.skipped[0]);
      }
    }
    const progress = { done: resumed, total, skipped: skippedCount, resumed };
    onProgress?.({ ...progress });

    const todo: number[] = [];
    for (let c = 0; c < nChunks; c++) if (!records[c]) todo.push(c);
    if (todo.length > 0) {
      await computeChunks(cfg, backbone, todo, { start, end, chunkSize, key, partsDir }, (rec) => {
        records[rec.chunk] = rec;
        anyChunkDone = true;
      }, (n, skipped) => {
        progress.done += n;
        progress.skipped += skipped;
        onProgress?.({ ...progress });
      });
    }
    const done = records as PartRecord[];
    const dims = await resolveDims(backbone, done, cfg);
    const summary = await assemble(cfg, backbone, done, {
      start,
      end,
      partsDir,
      primary,
      dims,
      config,
      inputs,
      files,
      stale: plan.stale,
      t0,
    });
    const leftovers = await removeParts(partsDir, runRecord);
    return {
      ...summary,
      resumed,
      seconds: (performance.now() - t0) / 1000,
      warnings: [...plan.warnings, ...leftovers],
    };
  } catch (err) {
    // Finished chunks are kept for the rerun; a run that finished none leaves no .parts.
    if (runRecord && !anyChunkDone) await removeParts(partsDir, runRecord).catch(() => {});
    throw err;
  } finally {
    lock.release();
  }
}

/**
 * Whether a part record describes chunk [a, b) consistently (a damaged record is recomputed, never
 * trusted): its range, an image count plus skipped positions inside the range that cover it, and
 * a positive width for every part array.
 */
function validRecord(rec: PartRecord, a: number, b: number, parts: readonly string[]): boolean {
  if (rec.start !== a || rec.end !== b || !Number.isSafeInteger(rec.ok) || rec.ok < 0) return false;
  if (!Array.isArray(rec.skipped) || rec.ok + rec.skipped.length !== b - a) return false;
  const seen = new Set<number>();
  for (const s of rec.skipped) {
    if (!Array.isArray(s) || !Number.isSafeInteger(s[0]) || typeof s[1] !== "string") return false;
    if (s[0] < a || s[0] >= b || seen.has(s[0])) return false;
    seen.add(s[0]);
  }
  if (rec.ok === 0) return true;
  const dims = rec.dims;
  if (dims === null || typeof dims !== "object") return false;
  return parts.every((p) => Number.isSafeInteger(dims[p]) && dims[p] > 0 && dims[p] <= 1 << 24);
}

function strictError(cfg: ExtractConfig, skipped: [number, string]): DataError {
  const e = cfg.list.entries[skipped[0]];
  return new DataError(
    `${cfg.list.root}/${e.path}: cannot read the image (${skipped[1]}); remove or replace it, ` +
      "or rerun without --strict to skip unreadable images",
  );
}

/** Output widths: from the parts, else the model's declared shapes, else one dummy image. */
async function resolveDims(
  backbone: Backbone,
  records: PartRecord[],
  cfg: ExtractConfig,
): Promise<Record<string, number>> {
  const withRows = records.find((r) => r.ok > 0);
  if (withRows) return withRows.dims;
  const dims: Record<string, number> = {};
  let missing = false;
  for (const o of backbone.outputs) {
    const d = backbone.dims[o];
    if (d === undefined) missing = true;
    else dims[o] = d;
  }
  if (!missing) return dims;
  const per = 3 * cfg.size * cfg.size;
  const out = await backbone.session.run({
    [backbone.input]: f32Tensor(new Float32Array(per), [1, 3, cfg.size, cfg.size]),
  });
  for (const o of backbone.outputs) dims[o] = out[o].data.length;
  return dims;
}

interface Decoded {
  pos: number;
  rgb?: Uint8Array;
  /** Training views (crop x crop HWC RGB), when extracting views. */
  views?: Uint8Array[];
  error?: string;
}

async function computeChunks(
  cfg: ExtractConfig,
  backbone: Backbone,
  chunks: number[],
  ctx: { start: number; end: number; chunkSize: number; key: string; partsDir: string },
  onChunk: (rec: PartRecord) => void,
  onAdvance: (n: number, skipped: number) => void,
): Promise<void> {
  configureDecoder(1);
  const S = cfg.size;
  const per = 3 * S * S;
  const resizer = cfg.resizer ?? "pil";
  const positions: number[] = [];
  for (const c of chunks) {
    const a = ctx.start + c * ctx.chunkSize;
    const b = Math.min(ctx.end, a + ctx.chunkSize);
    for (let p = a; p < b; p++) positions.push(p);
  }
  const ahead = cfg.decodeAhead ?? 2 * cfg.batch + 8;
  const queue: Promise<Decoded>[] = [];
  let next = 0;
  const vs = viewSettings(cfg);
  const decode = (pos: number): Promise<Decoded> =>
    decodeRgbSizes(
      `${cfg.list.root}/${cfg.list.entries[pos].path}`,
      vs ? [S, vs.resize] : [S],
      resizer,
    ).then(
      ([rgb, big]) => {
        if (!vs) return { pos, rgb };
        const draws = drawViews(vs.seed, pos, vs.views, vs.resize, S);
        return { pos, rgb, views: draws.map((d) => cropFlipRgb(big, vs.resize, S, d)) };
      },
      (err) => ({ pos, error: errorReason(err) }),
    );
  const fill = () => {
    while (queue.length < ahead && next < positions.length) queue.push(decode(positions[next++]));
  };
  fill();

  const batchBuf = new Float32Array(cfg.batch * per);
  const viewBuf = vs ? new Float32Array(cfg.batch * per) : null;
  const primary = backbone.outputs[0];
  for (const c of chunks) {
    const a = ctx.start + c * ctx.chunkSize;
    const b = Math.min(ctx.end, a + ctx.chunkSize);
    const rows: Record<string, Float32Array[]> = {};
    const dims: Record<string, number> = {};
    const skipped: [number, string][] = [];
    let inBatch = 0;
    let ok = 0;
    let pendingAdvance = 0;
    let pendingSkipped = 0;
    let inViews = 0;
    const viewRows: Float32Array[] = [];
    // Views go through the backbone in batches of the same size, in image-then-view order, so
    // the rows of image i are i*V .. i*V+V-1; like image batches they never cross a chunk.
    const flushViews = async () => {
      if (inViews === 0) return;
      const out = await backbone.session.run({
        [backbone.input]: f32Tensor(viewBuf!.subarray(0, inViews * per), [inViews, 3, S, S]),
      });
      const data = out[primary].data as Float32Array;
      dims[VIEWS] = data.length / inViews;
      viewRows.push(data.slice());
      inViews = 0;
    };
    const flush = async () => {
      if (inBatch === 0) return;
      const out = await backbone.session.run({
        [backbone.input]: f32Tensor(batchBuf.subarray(0, inBatch * per), [inBatch, 3, S, S]),
      });
      for (const o of backbone.outputs) {
        const t = out[o];
        const data = t.data as Float32Array;
        if (t.type !== "float32" || t.dims.length !== 2 || t.dims[0] !== inBatch) {
          throw new DataError(
            `--model ${cfg.modelPath}: output '${o}' is ${t.type} with shape ` +
              `(${t.dims.join(", ")}) for ${inBatch} images; expected float32 N x D`,
          );
        }
        dims[o] = data.length / inBatch;
        (rows[o] ??= []).push(data.slice());
      }
      ok += inBatch;
      inBatch = 0;
      onAdvance(pendingAdvance, pendingSkipped);
      pendingAdvance = 0;
      pendingSkipped = 0;
    };
    for (let p = a; p < b; p++) {
      const d = await queue.shift()!;
      fill();
      if (d.pos !== p) throw new Error(`decode queue out of order: ${d.pos} != ${p}`);
      pendingAdvance++;
      if (d.error !== undefined) {
        if (cfg.strict) throw strictError(cfg, [p, d.error]);
        skipped.push([p, d.error]);
        pendingSkipped++;
        continue;
      }
      rgbToChw(d.rgb!, S, batchBuf, inBatch * per);
      inBatch++;
      for (const v of d.views ?? []) {
        rgbToChw(v, S, viewBuf!, inViews * per);
        inViews++;
        if (inViews === cfg.batch) await flushViews();
      }
      if (inBatch === cfg.batch) await flush();
    }
    await flushViews();
    await flush();
    if (pendingAdvance > 0) onAdvance(pendingAdvance, pendingSkipped);
    for (const o of backbone.outputs) {
      const cols = dims[o] ?? 0;
      const all = new Float32Array(ok * cols);
      let off = 0;
      for (const r of rows[o] ?? []) {
        all.set(r, off);
        off += r.length;
      }
      const dtype = storageDtype(o, cfg.dtype);
      await writeNpy(`${ctx.partsDir}/${partName(c)}.${o}.npy`, {
        dtype,
        shape: [ok, cols],
        data: dtype === "<f2" ? float32ToFloat16Bits(all) : all,
      });
    }
    if (vs) {
      const cols = dims[VIEWS] ?? 0;
      const all = new Float32Array(ok * vs.views * cols);
      let off = 0;
      for (const r of viewRows) {
        all.set(r, off);
        off += r.length;
      }
      const dtype = storageDtype(primary, cfg.dtype);
      await writeNpy(`${ctx.partsDir}/${partName(c)}.${VIEWS}.npy`, {
        dtype,
        shape: [ok * vs.views, cols],
        data: dtype === "<f2" ? float32ToFloat16Bits(all) : all,
      });
    }
    const rec: PartRecord = { key: ctx.key, chunk: c, start: a, end: b, ok, skipped, dims };
    // The record is written after the arrays: its presence is what marks the chunk done.
    await writeJsonAtomic(`${ctx.partsDir}/${partName(c)}.json`, rec);
    onChunk(rec);
  }
}

/**
 * A stable reason for skipped.tsv. libvips keeps one error buffer per process, so under
 * concurrent decoding a failure's message can carry text from another image's failure; the raw
 * message would make skipped.tsv differ between runs. Reasons are therefore categories, or our
 * own messages built from the image header only (the pixel limit).
 */
function errorReason(err: unknown): string {
  if (err instanceof PixelLimitError) return err.message;
  const msg = err instanceof Error ? err.message : String(err);
  if (/empty|zero-length|0 bytes/i.test(msg)) return "empty file";
  if (/unsupported image format/i.test(msg)) return "not a recognised image format";
  if (/no such file|not found|permission denied/i.test(msg)) return "file cannot be read";
  return "corrupt or truncated image data";
}

async function assemble(
  cfg: ExtractConfig,
  backbone: Backbone,
  records: PartRecord[],
  ctx: {
    start: number;
    end: number;
    partsDir: string;
    primary: string;
    dims: Record<string, number>;
    config: Record<string, unknown>;
    inputs: Record<string, string>;
    /** Every top-level file of the new result (manifest.json lists them). */
    files: string[];
    /** Files of the previous result that the new one lacks. */
    stale: string[];
    t0: number;
  },
): Promise<Omit<ExtractSummary, "resumed" | "seconds" | "warnings">> {
  const entries = cfg.list.entries;
  const count = records.reduce((s, r) => s + r.ok, 0);
  const skipped = records.flatMap((r) => r.skipped);
  const bad = new Set(skipped.map(([p]) => p));
  const labels = new Int32Array(count);
  const paths: string[] = [];
  for (let p = ctx.start, i = 0; p < ctx.end; p++) {
    if (bad.has(p)) continue;
    labels[i++] = entries[p].label;
    paths.push(entries[p].path);
  }
  const vs = viewSettings(cfg);
  const dtypeName = (d: NpyDtype) => (d === "<f4" ? "float32" : "float16") as SetOutput["dtype"];
  const outputs: SetOutput[] = [
    ...backbone.outputs.map((o, i) => ({
      name: o,
      file: outputFileName(o, i === 0),
      dim: ctx.dims[o],
      dtype: dtypeName(storageDtype(o, cfg.dtype)),
    })),
    ...(vs
      ? [{
        name: VIEWS,
        file: `${VIEWS}.npy`,
        dim: ctx.dims[ctx.primary],
        dtype: dtypeName(storageDtype(ctx.primary, cfg.dtype)),
        rows_per_image: vs.views,
      }]
      : []),
  ];
  let staging: string;
  try {
    staging = await createStaging(cfg.outDir);
  } catch (err) {
    throw diskError(err, `${cfg.outDir}/.staging`);
  }
  try {
    for (const o of outputs) {
      const views = o.rows_per_image ?? 1;
      const source = o.name === VIEWS && vs ? VIEWS : o.name;
      await concatNpyFiles(
        `${staging}/${o.file}`,
        source === VIEWS ? storageDtype(ctx.primary, cfg.dtype) : storageDtype(o.name, cfg.dtype),
        o.dim,
        count * views,
        records.map((r) => `${ctx.partsDir}/${partName(r.chunk)}.${source}.npy`),
      ).catch((err) => {
        throw diskError(err, `${cfg.outDir}/${o.file}`);
      });
    }
    await writeNpy(`${staging}/labels.npy`, { dtype: "<i4", shape: [count], data: labels });
    await writeTextAtomic(`${staging}/paths.txt`, paths.map((p) => p + "\n").join(""));
    await writeTextAtomic(
      `${staging}/skipped.tsv`,
      "path\treason\n" +
        skipped.map(([p, why]) => `${tsvField(entries[p].path)}\t${tsvField(why)}\n`).join(""),
    );
    const wall = (performance.now() - ctx.t0) / 1000;
    // `files`: what this directory holds of ours; a later run replaces or removes only these.
    const manifest = {
      ...buildManifest({
        stage: "extract",
        config: ctx.config,
        inputs: ctx.inputs,
        wallSeconds: wall,
      }),
      files: ctx.files,
    };
    await writeManifest(staging, manifest);
    const dim = ctx.dims[ctx.primary];
    const meta = {
      dataset: cfg.dataset,
      backbone: cfg.backbone,
      dim,
      count,
      dtype: cfg.dtype === "f16" ? "float16" : "float32",
      preprocess: preprocessInfo(cfg.size, cfg.resizer ?? "pil"),
      complete: true,
      skipped: skipped.length,
      outputs,
      views: vs ? vs.views : 1,
      ...(vs
        ? {
          view_transform: {
            resize: `${vs.resize}x${vs.resize} (same resizer as features.npy)`,
            crop: `${cfg.size}x${cfg.size} at (top, left) uniform in [0, ${vs.resize - cfg.size}]`,
            flip: "horizontal, probability 0.5",
            seed: vs.seed,
            rows: "views.npy row i*V+v is view v of features.npy row i",
          },
        }
        : {}),
      source: {
        layout: cfg.list.layout,
        root: cfg.list.root,
        images: entries.length,
        ignored_files: cfg.list.ignored,
        ...(cfg.list.classes ? { classes: cfg.list.classes } : {}),
      },
      shard: {
        index: cfg.shard.index,
        count: cfg.shard.count,
        start: ctx.start,
        end: ctx.end,
        total: entries.length,
      },
      list_sha256: ctx.inputs.list.slice(7),
      model_sha256: ctx.inputs.model.slice(7),
      model: cfg.modelPath.split("/").pop(),
      device: cfg.device,
    };
    // Committed last: its `complete: true` is what makes the set readable.
    await writeJsonAtomic(`${staging}/meta.json`, meta);
    await commitSetFiles(staging, cfg.outDir, ctx.stale);
    return {
      outDir: cfg.outDir,
      count,
      skipped: skipped.length,
      total: ctx.end - ctx.start,
      dim,
      upToDate: false,
      outputs: backbone.outputs,
    };
  } catch (err) {
    await discardStaging(staging);
    throw err;
  }
}
