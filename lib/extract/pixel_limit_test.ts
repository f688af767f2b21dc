import assert from "node:assert/strict";
import { decodeRgb, MAX_IMAGE_PIXELS, PixelLimitError } from "./preprocess.ts";

/** CRC-32 (PNG's polynomial), bit by bit: a reference small enough to check by eye. */
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * A PNG that is only a header: signature, IHDR (`width` x `height`, 8-bit RGB), an IDAT holding
 * no pixel data, IEND. Its dimensions can be read; decoding it can only fail.
 */
function headerOnlyPng(width: number, height: number): Uint8Array {
  const chunk = (type: string, data: Uint8Array) => {
    const out = new Uint8Array(12 + data.length);
    const view = new DataView(out.buffer);
    view.setUint32(0, data.length);
    for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
    out.set(data, 8);
    view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
    return out;
  };
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    // The start of a zlib stream (header only): the pixel data ends before its first byte.
    chunk("IDAT", new Uint8Array([0x78, 0x9c])),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

Deno.test("MAX_IMAGE_PIXELS is Pillow's limit: 2 x Image.MAX_IMAGE_PIXELS", () => {
  // PIL.Image.MAX_IMAGE_PIXELS = int(1024 * 1024 * 1024 // 4 // 3) = 89478485.
  assert.equal(MAX_IMAGE_PIXELS, 2 * Math.floor((1024 * 1024 * 1024) / 4 / 3));
});

Deno.test("decodeRgb: above the pixel limit the header alone rejects the image", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // 14351 x 12470 is exactly the limit (Pillow accepts it); one more row is over it.
    assert.equal(14351 * 12470, MAX_IMAGE_PIXELS);
    const cases: [number, number, boolean][] = [
      [14351, 12470, false],
      [14351, 12471, true],
      [65535, 65535, true],
      [1_000_000, 1_000_000, true], // above sharp's own default limit too
    ];
    for (const [w, h, over] of cases) {
      const path = `${dir}/${w}x${h}.png`;
      await Deno.writeFile(path, headerOnlyPng(w, h));
      const err = await decodeRgb(path, 32).then(() => null, (e) => e);
      assert.ok(err instanceof Error, `${w}x${h} has no pixel data, so it must not decode`);
      assert.equal(err instanceof PixelLimitError, over, `${w}x${h}: ${err.message}`);
      if (err instanceof PixelLimitError) {
        assert.equal(
          err.message,
          `image is ${w} x ${h} = ${w * h} pixels, above the 178956970-pixel limit ` +
            "(Pillow's decompression-bomb limit); not decoded",
        );
        assert.deepEqual([err.width, err.height], [w, h]);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
