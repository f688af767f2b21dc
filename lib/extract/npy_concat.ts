/**
 * Row-wise concatenation of `.npy` files into one, streamed (one block of one input in memory at a
 * time) and crash-safe (temp file, fsync, rename), for feature sets larger than memory. Inputs are
 * read like every other `.npy` reader does (lib/io/npy.ts): from the header's data offset, and
 * only when the file is exactly header + data.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import { trackResource } from "../io/cleanup.ts";
import { encodeNpyHeader, itemSize, type NpyDtype, openNpy } from "../io/npy.ts";

const BLOCK = 16 << 20;

/**
 * Writes `path` = the rows of `files` in order, as a `rows` x `cols` array of `dtype`. Every
 * input must be 2-D with that dtype and width (inputs with 0 rows may have any width) and exactly
 * header + data bytes long; the row total must equal `rows`. Data bytes are copied unchanged,
 * starting at each input's header data offset.
 */
export async function concatNpyFiles(
  path: string,
  dtype: NpyDtype,
  cols: number,
  rows: number,
  files: readonly string[],
): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}-${crypto.getRandomValues(new Uint32Array(1))[0]}`;
  // Registered before the open: a signal during the copy removes the partial file.
  const untrack = trackResource("temp file", tmp);
  let out: Deno.FsFile;
  try {
    out = await Deno.open(tmp, { write: true, createNew: true });
  } catch (err) {
    untrack();
    throw err;
  }
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
          const got = `${reader.dtype} (${reader.shape.join(", ")})`;
          throw new DataError(`${f} is ${got}, expected ${dtype} N x ${cols}; re-extract it`);
        }
        const bytesTotal = r * cols * item;
        const src = await Deno.open(f, { read: true });
        try {
          // openNpy checked the size rule; a file replaced since then is not read blindly.
          if ((await src.stat()).size !== reader.fileSize) {
            throw new DataError(`${f} changed while it was being merged; rerun`);
          }
          await src.seek(reader.dataOffset, Deno.SeekMode.Start);
          const buf = new Uint8Array(Math.min(BLOCK, Math.max(1, bytesTotal)));
          let left = bytesTotal;
          while (left > 0) {
            const n = await src.read(buf.subarray(0, Math.min(buf.length, left)));
            if (n === null) throw new DataError(`${f} ended early; the file changed, rerun`);
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
    untrack();
  } catch (err) {
    try {
      out.close();
    } catch { /* already closed */ }
    await Deno.remove(tmp).catch(() => {});
    untrack();
    throw err;
  }
}
