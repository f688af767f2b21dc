/**
 * The one `.npy` reading rule (issue 11), checked in every reader that takes `.npy` bytes: a file
 * with trailing bytes or with missing bytes is one `DataError` line naming the file, and data is
 * read from the header's offset (v2 headers, offsets that are not multiples of 64).
 */
import assert from "node:assert/strict";
import { zipSync } from "npm:fflate@0.8.3";
import { parseNpz } from "../bit/npz.ts";
import { DataError } from "../errors.ts";
import { concatNpyFiles } from "../extract/npy_concat.ts";
import { openFileSource } from "../train/file_source.ts";
import { openViewSource } from "../train/view_source.ts";
import { createRng } from "../random.ts";
import { readFeatureSet, writeFeatureSet } from "./feature_set.ts";
import { openFeatureStream } from "./feature_stream.ts";
import { readHead, writeHead } from "./head.ts";
import { encodeNpy, openNpy, parseNpy, readNpy, readNpyHeader } from "./npy.ts";

const latin1 = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * A `.npy` laid out by hand with the header padded to a multiple of `align` (1: no padding, so the
 * data offset is wherever the header text ends).
 */
function handNpy(major: 1 | 2, dict: string, data: Uint8Array, align: number): Uint8Array {
  const prefix = major === 1 ? 10 : 12;
  const pad = (align - ((prefix + dict.length + 1) % align)) % align;
  const text = dict + " ".repeat(pad) + "\n";
  const len = major === 1
    ? new Uint8Array([text.length & 0xff, text.length >> 8])
    : new Uint8Array(new Uint32Array([text.length]).buffer);
  return concat(latin1("\x93NUMPY"), new Uint8Array([major, 0]), len, latin1(text), data);
}

const f32 = (n: number, seed: number) => {
  const rng = createRng(seed);
  return new Float32Array(n).map(() => rng.normal());
};
const bytesOf = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Asserts `p` rejects with one DataError line that names `file` and mentions `what`. */
async function rejectsNaming(p: Promise<unknown> | (() => unknown), file: string, what: RegExp) {
  const run = typeof p === "function" ? Promise.resolve().then(p) : p;
  await assert.rejects(run, (e: unknown) => {
    assert.ok(e instanceof DataError, `expected a DataError, got ${e}`);
    assert.ok(!/[\r\n]/.test(e.message), `not one line: ${e.message}`);
    assert.ok(e.message.includes(file), `"${e.message}" does not name ${file}`);
    assert.match(e.message, what);
    return true;
  });
}

const TRAILING = /has 8 bytes after its data: .*rewrite it/;
const TRAILING_ANY = /has 8 bytes after its data/;
const MISSING = /is truncated: .*needs 48 data bytes .* but the file has 44/;

Deno.test("size rule: every .npy reader refuses trailing and missing bytes, naming the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mos_size_rule_" });
  try {
    const good = encodeNpy({ dtype: "<f4", shape: [4, 3], data: f32(12, 1) });
    const variants = {
      trailing: { bytes: concat(good, new Uint8Array(8)), what: TRAILING },
      missing: { bytes: good.subarray(0, good.length - 4), what: MISSING },
    };
    for (const [name, v] of Object.entries(variants)) {
      const path = `${dir}/${name}.npy`;
      await Deno.writeFile(path, v.bytes);
      await rejectsNaming(() => parseNpy(v.bytes, `${name}.npy`), `${name}.npy`, v.what);
      await rejectsNaming(readNpy(path), path, v.what);
      await rejectsNaming(readNpyHeader(path), path, v.what);
      await rejectsNaming(openNpy(path), path, v.what);
      await rejectsNaming(openFileSource(path), path, v.what);
      const out = `${dir}/merged_${name}.npy`;
      await Deno.writeFile(`${dir}/ok.npy`, good);
      await rejectsNaming(concatNpyFiles(out, "<f4", 3, 8, [`${dir}/ok.npy`, path]), path, v.what);
      const zip = zipSync({ "w.npy": v.bytes }, { level: 0 });
      await rejectsNaming(() => parseNpz(zip, "w.npz"), "w.npz:w.npy", v.what);
    }
    // The good file reads in each of them (so the refusals above are about the bytes).
    assert.deepEqual((await readNpy(`${dir}/ok.npy`)).shape, [4, 3]);
    assert.equal(parseNpz(zipSync({ "w.npy": good }, { level: 0 }), "w.npz").get("w")?.shape[0], 4);
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.startsWith("merged")),
      [],
      "a refused concatenation leaves no output or temp file",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("size rule: feature sets, streams, heads and views refuse a features / weight / views file with trailing bytes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mos_size_rule_sets_" });
  try {
    const [N, D] = [6, 4];
    await writeFeatureSet(`${dir}/set`, {
      meta: { dataset: "t", backbone: "b", views: 2 },
      features: { data: f32(N * D, 2), rows: N, cols: D },
      labels: new Int32Array(N),
    });
    await Deno.writeFile(
      `${dir}/set/views.npy`,
      encodeNpy({ dtype: "<f4", shape: [N * 2, D], data: f32(N * 2 * D, 3) }),
    );
    await writeHead(`${dir}/head`, {
      info: { kind: "flat", num_classes: 3, groups: [] },
      weight: { data: f32(3 * D, 4), rows: 3, cols: D },
      bias: f32(3, 5),
    });
    // Reads fine as written.
    assert.equal((await readFeatureSet(`${dir}/set`)).features.rows, N);
    assert.equal((await readHead(`${dir}/head`)).weight.rows, 3);
    const append = async (path: string) =>
      await Deno.writeFile(path, new Uint8Array(8), { append: true });

    await append(`${dir}/set/views.npy`);
    await rejectsNaming(openViewSource(`${dir}/set`, 0), `${dir}/set/views.npy`, TRAILING_ANY);
    // Above the in-memory limit the views are streamed: the same rule.
    await rejectsNaming(openViewSource(`${dir}/set`, 0, 1), `${dir}/set/views.npy`, TRAILING_ANY);
    await append(`${dir}/set/features.npy`);
    await rejectsNaming(readFeatureSet(`${dir}/set`), `${dir}/set/features.npy`, TRAILING_ANY);
    await rejectsNaming(openFeatureStream(`${dir}/set`), `${dir}/set/features.npy`, TRAILING_ANY);
    await append(`${dir}/head/weight.npy`);
    await rejectsNaming(readHead(`${dir}/head`), `${dir}/head/weight.npy`, TRAILING_ANY);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("size rule: data starts at the header's offset (v2 header, offsets not multiples of 64)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mos_size_rule_offset_" });
  try {
    const a = f32(2 * 3, 6);
    const b = f32(4 * 3, 7);
    const c = f32(1 * 3, 8);
    const files = {
      // v2.0 header (12-byte prefix), padded to 64.
      a: handNpy(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", bytesOf(a), 64),
      // v1.0 header not padded: data at offset 70, not a multiple of 64 (nor of 4).
      b: handNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }", bytesOf(b), 1),
      // Old NumPy's 16-byte alignment.
      c: handNpy(1, "{'shape': (1, 3), 'fortran_order': False, 'descr': '<f4'}", bytesOf(c), 16),
    };
    const offsets: Record<string, number> = {};
    for (const [name, bytes] of Object.entries(files)) {
      await Deno.writeFile(`${dir}/${name}.npy`, bytes);
      offsets[name] = (await readNpyHeader(`${dir}/${name}.npy`)).dataOffset;
    }
    assert.deepEqual(offsets, { a: 128, b: 70, c: 80 });
    const expected = { a, b, c };
    for (const name of ["a", "b", "c"] as const) {
      const want = Array.from(expected[name]);
      assert.deepEqual(
        Array.from((await readNpy(`${dir}/${name}.npy`)).data as Float32Array),
        want,
      );
      const r = await openNpy(`${dir}/${name}.npy`);
      const out = new Float32Array(r.rows * r.cols);
      await r.readRows(0, r.rows, out);
      r.close();
      assert.deepEqual(Array.from(out), want);
    }
    // Concatenation copies each file's rows from its own offset: rows a, b, c in order.
    await concatNpyFiles(
      `${dir}/merged.npy`,
      "<f4",
      3,
      7,
      ["a", "b", "c"].map((n) => `${dir}/${n}.npy`),
    );
    const merged = await readNpy(`${dir}/merged.npy`);
    assert.deepEqual(merged.shape, [7, 3]);
    assert.deepEqual(Array.from(merged.data as Float32Array), [...a, ...b, ...c]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
