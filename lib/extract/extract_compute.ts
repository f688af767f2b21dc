/**
 * Computes the missing chunks of an extraction: images are decoded ahead of inference through a
 * bounded window (in list order), fed to the backbone in batches that never cross a chunk
 * boundary, and each finished chunk is written under `.parts/` (arrays first, then the record
 * that marks it done).
 *
 * @module
 */
import { DataError } from "../errors.ts";
import { writeJsonAtomic } from "../io/atomic.ts";
import { float32ToFloat16Bits, writeNpy } from "../io/npy.ts";
import { f32Tensor } from "../ort/session.ts";
import type { ExtractConfig, RunContext } from "./extract_config.ts";
import { partName, type PartRecord, storageDtype, VIEWS } from "./extract_parts.ts";
import { extractLabels } from "./labels.ts";
import {
  configureDecoder,
  cropFlipRgb,
  decodeRgbFull,
  decodeRgbSizes,
  drawViews,
  PixelLimitError,
} from "./preprocess.ts";
import { inputDims, normalizeTables, transformRgb, writeInput } from "./transform_spec.ts";

interface Decoded {
  pos: number;
  rgb?: Uint8Array;
  /** Training views (crop x crop HWC RGB), when extracting views. */
  views?: Uint8Array[];
  error?: string;
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

/** The error of a strict run for the unreadable image at list position `skipped[0]`. */
export function strictError(cfg: ExtractConfig, skipped: [number, string]): DataError {
  const e = cfg.list.entries[skipped[0]];
  return new DataError(
    `${cfg.list.root}/${e.path}: cannot read the image (${skipped[1]}); remove or replace it, ` +
      `or rerun without ${extractLabels(cfg.labels).strict} to skip unreadable images`,
  );
}

/** Decodes the image at list position `pos` into the transform's HWC bytes (and its views). */
async function decodeOne(ctx: RunContext, pos: number): Promise<Decoded> {
  const { cfg, transform: t, vs } = ctx;
  const path = `${cfg.list.root}/${cfg.list.entries[pos].path}`;
  try {
    if (t.kind !== "bit") {
      const full = await decodeRgbFull(path);
      return { pos, rgb: transformRgb(full.rgb, full.width, full.height, t) };
    }
    const S = t.size;
    const [rgb, big] = await decodeRgbSizes(path, vs ? [S, vs.resize] : [S], cfg.resizer ?? "pil");
    if (!vs) return { pos, rgb };
    const draws = drawViews(vs.seed, pos, vs.views, vs.resize, S);
    return { pos, rgb, views: draws.map((d) => cropFlipRgb(big, vs.resize, S, d)) };
  } catch (err) {
    return { pos, error: errorReason(err) };
  }
}

/** A decode window over `positions`: `next()` yields them in order, `ahead` in flight. */
function decodeQueue(ctx: RunContext, positions: number[]): () => Promise<Decoded> {
  const ahead = ctx.cfg.decodeAhead ?? 2 * ctx.batch + 8;
  const queue: Promise<Decoded>[] = [];
  let next = 0;
  const fill = () => {
    while (queue.length < ahead && next < positions.length) {
      queue.push(decodeOne(ctx, positions[next++]));
    }
  };
  fill();
  return () => {
    const d = queue.shift()!;
    fill();
    return d;
  };
}

/** The rows of one chunk as they come out of the backbone. */
interface ChunkRows {
  rows: Record<string, Float32Array[]>;
  dims: Record<string, number>;
  ok: number;
}

/** Reusable input buffers and the normalisation tables of a run. */
interface Buffers {
  batch: Float32Array;
  views: Float32Array | null;
  tables: Float32Array[];
  per: number;
}

/**
 * Runs the backbone on the first `n` images of `buf` and returns each kept output as n rows. A
 * model with a fixed batch size gets the whole buffer (the rows past `n` are leftovers of the
 * previous batch; their outputs are dropped).
 */
async function infer(
  ctx: RunContext,
  buf: Float32Array,
  n: number,
  outputs: readonly string[],
): Promise<Record<string, { data: Float32Array; cols: number }>> {
  const { backbone, transform } = ctx;
  const fed = backbone.fixedBatch ?? n;
  const per = buf.length / ctx.batch;
  const out = await backbone.session.run({
    [backbone.input]: f32Tensor(buf.subarray(0, fed * per), inputDims(transform, fed)),
  });
  const result: Record<string, { data: Float32Array; cols: number }> = {};
  for (const o of outputs) {
    const source = backbone.sources[o];
    const t = out[source];
    const flat = backbone.flattened.includes(o) && t.dims.length === 4 && t.dims[2] === 1 &&
      t.dims[3] === 1;
    if (t.type !== "float32" || (t.dims.length !== 2 && !flat) || t.dims[0] !== fed) {
      throw new DataError(
        `${extractLabels(ctx.cfg.labels).model} ${ctx.cfg.modelPath}: output '${source}' is ` +
          `${t.type} with shape ` +
          `(${t.dims.join(", ")}) for ${fed} images; expected float32 N x D`,
      );
    }
    const cols = Number(t.dims[1]);
    result[o] = { data: (t.data as Float32Array).slice(0, n * cols), cols };
  }
  return result;
}

/** Writes one part array (float32 rows, stored as `--dtype`). */
async function writePart(
  ctx: RunContext,
  chunk: number,
  name: string,
  parts: Float32Array[],
  shape: [number, number],
): Promise<void> {
  const all = new Float32Array(shape[0] * shape[1]);
  let off = 0;
  for (const r of parts) {
    all.set(r, off);
    off += r.length;
  }
  const dtype = storageDtype(name === VIEWS ? ctx.backbone.outputs[0] : name, ctx.cfg.dtype);
  await writeNpy(`${ctx.partsDir}/${partName(chunk)}.${name}.npy`, {
    dtype,
    shape,
    data: dtype === "<f2" ? float32ToFloat16Bits(all) : all,
  });
}

/**
 * Computes chunk `c` from the decode queue: batches of images (and, with views, batches of view
 * crops in image-then-view order, so the rows of image i are i*V .. i*V+V-1), then its part files.
 */
async function runChunk(
  ctx: RunContext,
  c: number,
  next: () => Promise<Decoded>,
  bufs: Buffers,
  onAdvance: (n: number, skipped: number) => void,
): Promise<PartRecord> {
  const a = ctx.start + c * ctx.chunkSize;
  const b = Math.min(ctx.end, a + ctx.chunkSize);
  const primary = ctx.backbone.outputs[0];
  const acc: ChunkRows = { rows: {}, dims: {}, ok: 0 };
  const skipped: [number, string][] = [];
  let inBatch = 0;
  let inViews = 0;
  let pending = { n: 0, skipped: 0 };
  const take = (name: string, r: { data: Float32Array; cols: number }) => {
    acc.dims[name] = r.cols;
    (acc.rows[name] ??= []).push(r.data);
  };
  const flushViews = async () => {
    if (inViews === 0) return;
    take(VIEWS, (await infer(ctx, bufs.views!, inViews, [primary]))[primary]);
    inViews = 0;
  };
  const flush = async () => {
    if (inBatch === 0) return;
    const res = await infer(ctx, bufs.batch, inBatch, ctx.backbone.outputs);
    for (const o of ctx.backbone.outputs) take(o, res[o]);
    acc.ok += inBatch;
    inBatch = 0;
    onAdvance(pending.n, pending.skipped);
    pending = { n: 0, skipped: 0 };
  };
  for (let p = a; p < b; p++) {
    const d = await next();
    if (d.pos !== p) throw new Error(`decode queue out of order: ${d.pos} != ${p}`);
    pending.n++;
    if (d.error !== undefined) {
      if (ctx.cfg.strict) throw strictError(ctx.cfg, [p, d.error]);
      skipped.push([p, d.error]);
      pending.skipped++;
      continue;
    }
    writeInput(d.rgb!, ctx.transform, bufs.tables, bufs.batch, inBatch * bufs.per);
    inBatch++;
    for (const v of d.views ?? []) {
      writeInput(v, ctx.transform, bufs.tables, bufs.views!, inViews * bufs.per);
      if (++inViews === ctx.batch) await flushViews();
    }
    if (inBatch === ctx.batch) await flush();
  }
  await flushViews();
  await flush();
  if (pending.n > 0) onAdvance(pending.n, pending.skipped);
  for (const o of ctx.backbone.outputs) {
    await writePart(ctx, c, o, acc.rows[o] ?? [], [acc.ok, acc.dims[o] ?? 0]);
  }
  if (ctx.vs) {
    const rows = acc.ok * ctx.vs.views;
    await writePart(ctx, c, VIEWS, acc.rows[VIEWS] ?? [], [rows, acc.dims[VIEWS] ?? 0]);
  }
  return { key: ctx.key, chunk: c, start: a, end: b, ok: acc.ok, skipped, dims: acc.dims };
}

/**
 * Computes `chunks` (indices into the shard's chunks) in order. `onChunk` sees each finished
 * chunk's record (written after its arrays: its presence marks the chunk done); `onAdvance`
 * counts images handled after every batch.
 */
export async function computeChunks(
  ctx: RunContext,
  chunks: number[],
  onChunk: (rec: PartRecord) => void,
  onAdvance: (n: number, skipped: number) => void,
): Promise<void> {
  configureDecoder(1);
  const positions: number[] = [];
  for (const c of chunks) {
    const a = ctx.start + c * ctx.chunkSize;
    const b = Math.min(ctx.end, a + ctx.chunkSize);
    for (let p = a; p < b; p++) positions.push(p);
  }
  const per = 3 * ctx.transform.size * ctx.transform.size;
  const bufs: Buffers = {
    batch: new Float32Array(ctx.batch * per),
    views: ctx.vs ? new Float32Array(ctx.batch * per) : null,
    tables: normalizeTables(ctx.transform),
    per,
  };
  const next = decodeQueue(ctx, positions);
  for (const c of chunks) {
    const rec = await runChunk(ctx, c, next, bufs, onAdvance);
    await writeJsonAtomic(`${ctx.partsDir}/${partName(c)}.json`, rec);
    onChunk(rec);
  }
}
