/**
 * Row-wise concatenation of `.npy` files into one, streamed (one input file in memory at a time)
 * and crash-safe (temp file, fsync, rename), for feature sets larger than memory.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import { encodeNpyHeader, itemSize, type NpyDtype, openNpy } from "../io/npy.ts";

const BLOCK = 16 << 20;

/**
 * Writes `path` = the rows of `files` in order, as a `rows` x `cols` array of `dtype`. Every
 * input must be 2-D with that dtype and width (inputs with 0 rows may have any width); the row
 * total must equal `rows`. Bytes are copied unchanged.
 */
export async function concatNpyFiles(
  path: string,
  dtype: NpyDtype,
  cols: number,
  rows: number,
  files: readonly string[],
): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}-${crypto.getRandomValues(new Uint32Array(1))[0]}`;
  const out = await Deno.open(tmp, { write: true, createNew: true });
  const write = async (bytes: Uint8Array) => {
    let off = 0;
    while (off < bytes.length) off += await out.write(bytes.subarray(off));
  };
  try {
    await write(encodeNpyHeader(dtype, [rows, cols]));
    let written = 0;
    const item = itemSize(dtype);
    for (const f of files) {
      const reader = await openNpy(f);
      try {
        const r = reader.rows;
        if (
          reader.shape.length !== 2 || reader.dtype !== dtype || (r > 0 && reader.cols !== cols)
        ) {
          throw new DataError(
            `${f} is ${reader.dtype} (${reader.shape.join(", ")}), expected ${dtype} N x ${cols}`,
          );
        }
        const bytesTotal = r * cols * item;
        const src = await Deno.open(f, { read: true });
        try {
          const size = (await src.stat()).size;
          await src.seek(size - bytesTotal, Deno.SeekMode.Start); // data ends the file
          const buf = new Uint8Array(Math.min(BLOCK, Math.max(1, bytesTotal)));
          let left = bytesTotal;
          while (left > 0) {
            const n = await src.read(buf.subarray(0, Math.min(buf.length, left)));
            if (n === null) throw new DataError(`${f} ended early; the file is truncated`);
            await write(buf.subarray(0, n));
            left -= n;
          }
        } finally {
          src.close();
        }
        written += r;
      } finally {
        reader.close();
      }
    }
    if (written !== rows) {
      throw new DataError(`${path}: inputs hold ${written} rows, expected ${rows}`);
    }
    await out.sync();
    out.close();
    await Deno.rename(tmp, path);
  } catch (err) {
    try {
      out.close();
    } catch { /* already closed */ }
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}
