import assert from "node:assert/strict";
import { zipSync } from "npm:fflate@0.8.3";
import { DataError } from "../errors.ts";
import { encodeNpy } from "../io/npy.ts";
import { parseNpz } from "./npz.ts";

/** Offset of the first central-directory entry of a zip. */
function centralDirectory(zip: Uint8Array): number {
  const v = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  for (let i = zip.length - 22; i >= 0; i--) if (v.getUint32(i, true) === 0x02014b50) return i;
  throw new Error("no central directory");
}

function rejectsWith(fn: () => unknown, ...parts: string[]) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DataError, `expected DataError, got ${err}`);
    assert.ok(!err.message.includes("\n"), err.message);
    for (const s of parts) assert.ok(err.message.includes(s), `"${err.message}" lacks "${s}"`);
    return true;
  });
}

Deno.test("npz: lying declared sizes are refused before unpacking allocates them", () => {
  const member = encodeNpy({ dtype: "<f4", shape: [4], data: new Float32Array(4) });
  for (const compress of [false, true]) {
    const zip = zipSync({ "w.npy": member }, { level: compress ? 6 : 0 });
    const lie = zip.slice();
    // Uncompressed size (central directory entry + 24): 2 GiB from a few dozen bytes. fflate
    // allocated an output buffer of the declared size.
    new DataView(lie.buffer).setUint32(centralDirectory(lie) + 24, 0x80000000, true);
    rejectsWith(() => parseNpz(lie, "lie.npz"), "lie.npz", '"w.npy"', "declares 2147483648 bytes");
    const big = zip.slice();
    new DataView(big.buffer).setUint32(centralDirectory(big) + 20, 0xfffffff0, true);
    rejectsWith(() => parseNpz(big, "big.npz"), "big.npz", "compressed bytes");
  }
  // A member with bytes after its data is a bad .npy like any other (exactly header + data).
  const trailing = zipSync({ "w.npy": new Uint8Array([...member, 0, 0, 0, 0, 0, 0, 0, 0]) });
  rejectsWith(() => parseNpz(trailing, "t.npz"), "t.npz:w.npy has 8 bytes after its data");
  rejectsWith(() => parseNpz(new Uint8Array(30), "z.npz"), "z.npz is not a readable .npz");
});
