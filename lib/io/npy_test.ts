import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import { createRng } from "../random.ts";
import { assertClose } from "../../tests/assert_close.ts";
import {
  encodeNpy,
  float16BitsToFloat32,
  float32ToFloat16Bits,
  float32ToFloat16BitsReference,
  type NpyArray,
  openNpy,
  parseNpy,
  parseNpyHeader,
  readNpy,
  readNpyHeader,
  toFloat32,
  writeNpy,
} from "./npy.ts";

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

/** A hand-laid-out .npy file: magic, version, length field, the header text, then data. */
function handNpy(major: number, header: string, data: Uint8Array): Uint8Array {
  const len = major === 1
    ? new Uint8Array([header.length & 0xff, header.length >> 8])
    : new Uint8Array(new Uint32Array([header.length]).buffer);
  return concat(latin1("\x93NUMPY"), new Uint8Array([major, 0]), len, latin1(header), data);
}

function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

function expectDataError(fn: () => unknown, ...parts: string[]) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DataError, `expected DataError, got ${err}`);
    for (const p of parts) assert.ok(err.message.includes(p), `"${err.message}" lacks "${p}"`);
    return true;
  });
}

// np.save of np.arange(6, dtype='<f4').reshape(2, 3): 59-char dict + 58 spaces + '\n' is a
// 118-byte (0x76) header, so header + 10 prefix bytes = 128.
const ARANGE_HEADER = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" +
  " ".repeat(58) + "\n";
const ARANGE_NPY = concat(
  latin1("\x93NUMPY\x01\x00\x76\x00"),
  latin1(ARANGE_HEADER),
  f32Bytes([0, 1, 2, 3, 4, 5]),
);

Deno.test("npy: parses NumPy's bytes for arange(6).reshape(2, 3) as a view", () => {
  const arr = parseNpy(ARANGE_NPY, "a.npy");
  assert.equal(arr.dtype, "<f4");
  assert.deepEqual(arr.shape, [2, 3]);
  assert.deepEqual(Array.from(arr.data as Float32Array), [0, 1, 2, 3, 4, 5]);
  assert.equal(arr.data.buffer, ARANGE_NPY.buffer, "data must be a view, not a copy");
  assert.equal(parseNpyHeader(ARANGE_NPY, "a.npy").dataOffset, 128);
});

Deno.test("npy: encodes arange(6).reshape(2, 3) byte-identically to np.save", () => {
  const enc = encodeNpy({
    dtype: "<f4",
    shape: [2, 3],
    data: new Float32Array([0, 1, 2, 3, 4, 5]),
  });
  assert.deepEqual(enc, ARANGE_NPY);
});

Deno.test("npy: shapes (), (0,), (N,), (N, D), (0, D) round-trip for every dtype", () => {
  const cases: NpyArray[] = [
    { dtype: "<f4", shape: [], data: new Float32Array([3.5]) },
    { dtype: "<f4", shape: [0], data: new Float32Array(0) },
    { dtype: "<i4", shape: [4], data: new Int32Array([-1, 0, 7, 2147483647]) },
    { dtype: "<i8", shape: [3], data: new BigInt64Array([-1n, 5n, 1n << 40n]) },
    { dtype: "<f2", shape: [2, 2], data: new Uint16Array([0x3c00, 0xc000, 0x7c00, 0x0001]) },
    { dtype: "<f4", shape: [3, 5], data: new Float32Array(15).map((_, i) => i * 0.25 - 1) },
    { dtype: "<f4", shape: [0, 7], data: new Float32Array(0) },
  ];
  for (const c of cases) {
    const bytes = encodeNpy(c);
    assert.equal(parseNpyHeader(bytes, "x").dataOffset % 64, 0, "data must be 64-byte aligned");
    const back = parseNpy(bytes, "x.npy");
    assert.equal(back.dtype, c.dtype);
    assert.deepEqual(back.shape, c.shape);
    assert.deepEqual(
      Array.from(back.data as ArrayLike<number>),
      Array.from(c.data as ArrayLike<number>),
    );
  }
  // NumPy writes 0-d shapes as "()" and 1-d as "(N,)".
  const text = new TextDecoder().decode(encodeNpy(cases[0]).subarray(10));
  assert.ok(text.includes("'shape': ()"), text);
  assert.ok(new TextDecoder().decode(encodeNpy(cases[2])).includes("'shape': (4,)"));
});

Deno.test("npy: reads v2.0 and v3.0 headers and other key orders", () => {
  const dict2 = "{'shape': (2,), 'fortran_order': False, 'descr': '<i4'}";
  const h2 = dict2 + " ".repeat(64 - ((12 + dict2.length + 1) % 64)) + "\n";
  const v2 = parseNpy(handNpy(2, h2, new Uint8Array(new Int32Array([9, -3]).buffer)), "v2.npy");
  assert.deepEqual([v2.dtype, v2.shape, Array.from(v2.data as Int32Array)], ["<i4", [2], [9, -3]]);

  const dict3 = '{"descr": "<f4", "fortran_order": False, "shape": (1, 1)}';
  const h3 = dict3 + " ".repeat(64 - ((12 + dict3.length + 1) % 64)) + "\n";
  const v3 = parseNpy(handNpy(3, h3, f32Bytes([2.5])), "v3.npy");
  assert.deepEqual([v3.shape, Array.from(v3.data as Float32Array)], [[1, 1], [2.5]]);
});

Deno.test("npy: writes v2.0 when the header does not fit v1.0's 65535 bytes", () => {
  const shape = new Array(12000).fill(1); // "1, " x 12000 = 36 KB ... x2 below
  const big = [...shape, ...shape];
  const bytes = encodeNpy({ dtype: "<f4", shape: big, data: new Float32Array([1.5]) });
  assert.equal(bytes[6], 2);
  const back = parseNpy(bytes, "big.npy");
  assert.equal(back.shape.length, 24000);
  assert.equal((back.data as Float32Array)[0], 1.5);
});

Deno.test("npy: rejects bad dtypes, fortran order, truncation, bad magic and bad headers", () => {
  const withDict = (dict: string, data = new Uint8Array(64)) => {
    const h = dict + " ".repeat(64 - ((10 + dict.length + 1) % 64)) + "\n";
    return handNpy(1, h, data);
  };
  const d = (descr: string, extra = "'fortran_order': False, 'shape': (2,)") =>
    withDict(`{'descr': '${descr}', ${extra}, }`);
  expectDataError(() => parseNpy(d(">f4"), "be.npy"), "be.npy", "big-endian", "'>f4'");
  expectDataError(
    () => parseNpy(d("<f8"), "f8.npy"),
    "f8.npy",
    "np.save(path, a.astype(np.float32))",
  );
  expectDataError(() => parseNpy(d("|O"), "o.npy"), "o.npy", "object dtype");
  expectDataError(() => parseNpy(d("O"), "o.npy"), "object dtype");
  expectDataError(() => parseNpy(d("|u1"), "u1.npy"), "u1.npy", "'|u1' is not supported");
  expectDataError(
    () =>
      parseNpy(
        withDict("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }"),
        "s.npy",
      ),
    "structured dtype",
  );
  expectDataError(
    () => parseNpy(d("<f4", "'fortran_order': True, 'shape': (2, 2)"), "f.npy"),
    "f.npy",
    "Fortran-order",
  );
  expectDataError(
    () =>
      parseNpy(withDict("{'descr': '<f4', 'fortran_order': False, 'shape': (100, 3), }"), "t.npy"),
    "t.npy is truncated",
    "needs 1200 data bytes",
  );
  expectDataError(() => parseNpy(latin1("\x93NUMPX\x01\x00\x00\x00"), "m.npy"), "m.npy", "magic");
  expectDataError(() => parseNpy(latin1("\x93NUM"), "short.npy"), "short.npy", "magic");
  expectDataError(
    () => parseNpy(latin1("\x93NUMPY\x01\x00\xff\x00{'descr'"), "h.npy"),
    "h.npy",
    "header length 255 runs past the end",
  );
  expectDataError(() => parseNpy(withDict("{'descr': '<f4', 'shape': (2,"), "x.npy"), "malformed");
  expectDataError(
    () => parseNpy(withDict("{'descr': '<f4', 'shape': (2,)}"), "x.npy"),
    "fortran_order",
  );
  expectDataError(
    () => parseNpy(d("<f4", "'fortran_order': False, 'shape': (2, -1)"), "neg.npy"),
    "invalid shape",
  );
  expectDataError(() => parseNpy(withDict("[1, 2]"), "l.npy"), "not a dict");
  expectDataError(() => parseNpy(latin1("\x93NUMPY\x09\x00\x00\x00"), "v9.npy"), "version 9.0");
});

/** Independent half -> float reference: the IEEE 754 binary16 definition. */
function halfValue(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

Deno.test("npy: float16 -> float32 is exact for all 65536 halves (subnormals, inf, nan)", () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const got = float16BitsToFloat32(all);
  const expected = Array.from(all, halfValue);
  assertClose(got, expected, { atol: 0, rtol: 0, reason: "every half is exactly a float32" });
  assert.ok(Object.is(got[0x8000], -0));
  const hand = float16BitsToFloat32(
    new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x7c00]),
  );
  assert.deepEqual(Array.from(hand), [1, -2, 65504, 2 ** -24, 1023 * 2 ** -24, Infinity]);
});

Deno.test("npy: float32 -> float16 rounds to nearest even like Float16Array", () => {
  const rng = createRng(7);
  const n = 200_000;
  const bits = new Uint32Array(n);
  for (let i = 0; i < n; i++) bits[i] = rng.uint32();
  const values = new Float32Array(bits.buffer);
  // Plus values inside the half range and exact midpoints between neighbouring halves (ties).
  const extra: number[] = [];
  for (let i = 0; i < 20000; i++) extra.push((rng.float() - 0.5) * 2 ** (rng.int(40) - 26));
  for (let h = 0; h < 0x7c00; h += 7) extra.push((halfValue(h) + halfValue(h + 1)) / 2);
  extra.push(65519, 65520, 65504, 2 ** -25, 2 ** -25 * 1.0001, -(2 ** -25), 1e9, -1e9, 0, -0);
  const all = new Float32Array([...values, ...extra]);
  const got = float32ToFloat16Bits(all);
  const ref = new Uint16Array(new Float16Array(all).buffer);
  let mismatches = 0;
  for (let i = 0; i < all.length; i++) {
    if (Number.isNaN(all[i])) {
      if ((got[i] & 0x7c00) !== 0x7c00 || (got[i] & 0x3ff) === 0) mismatches++;
    } else if (got[i] !== ref[i]) mismatches++;
  }
  assert.equal(mismatches, 0);
  // Round trip of every finite half is the identity.
  const halves = new Uint16Array(65536).map((_, i) => i).filter((h) => (h & 0x7c00) !== 0x7c00);
  assert.deepEqual(float32ToFloat16Bits(float16BitsToFloat32(halves)), halves);
});

Deno.test("npy: toFloat32 returns f4 data without copying and converts the rest", () => {
  const f = new Float32Array([1, 2]);
  assert.equal(toFloat32({ dtype: "<f4", shape: [2], data: f }), f);
  assert.deepEqual(
    Array.from(toFloat32({ dtype: "<f2", shape: [2], data: new Uint16Array([0x3800, 0xbc00]) })),
    [
      0.5,
      -1,
    ],
  );
  assert.deepEqual(
    Array.from(toFloat32({ dtype: "<i4", shape: [2], data: new Int32Array([-3, 4]) })),
    [-3, 4],
  );
  assert.deepEqual(
    Array.from(toFloat32({ dtype: "<i8", shape: [1], data: new BigInt64Array([12n]) })),
    [12],
  );
});

Deno.test("npy: writeNpy / readNpy round trip in a temp dir, atomically", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const rng = createRng(3);
    const data = new Float32Array(37 * 11).map(() => rng.normal());
    await writeNpy(`${dir}/a.npy`, { dtype: "<f4", shape: [37, 11], data });
    const back = await readNpy(`${dir}/a.npy`);
    assert.deepEqual(back.shape, [37, 11]);
    assert.deepEqual(back.data, data);
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.deepEqual(names, ["a.npy"], "no temp file may remain");
    await assert.rejects(readNpy(`${dir}/missing.npy`), DataError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("npy: openNpy streams rows of f4, f2 and i4 files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const rng = createRng(11);
    const rows = 53;
    const cols = 9;
    const f32 = new Float32Array(rows * cols).map(() => rng.normal() * 10);
    const f16 = float32ToFloat16Bits(f32);
    const i32 = new Int32Array(rows * cols).map(() => rng.int(1000) - 500);
    await writeNpy(`${dir}/f4.npy`, { dtype: "<f4", shape: [rows, cols], data: f32 });
    await writeNpy(`${dir}/f2.npy`, { dtype: "<f2", shape: [rows, cols], data: f16 });
    await writeNpy(`${dir}/i4.npy`, { dtype: "<i4", shape: [rows, 3, 3], data: i32 });
    const expected: Record<string, Float32Array> = {
      "f4": f32,
      "f2": float16BitsToFloat32(f16),
      "i4": Float32Array.from(i32),
    };
    for (const [name, full] of Object.entries(expected)) {
      const r = await openNpy(`${dir}/${name}.npy`);
      try {
        assert.equal(r.rows, rows);
        assert.equal(r.cols, cols);
        const block = new Float32Array(10 * cols);
        for (let s = 0; s < rows; s += 10) {
          const n = Math.min(10, rows - s);
          if (s % 20 === 0) await r.readRows(s, n, block);
          else r.readRowsSync(s, n, block);
          assert.deepEqual(block.subarray(0, n * cols), full.subarray(s * cols, (s + n) * cols));
        }
        await assert.rejects(r.readRows(50, 10, new Float32Array(10 * cols)), RangeError);
        assert.throws(() => r.readRowsSync(0, 2, new Float32Array(cols)), RangeError);
      } finally {
        r.close();
      }
    }
    // Truncated file is caught at open.
    const bytes = await Deno.readFile(`${dir}/f4.npy`);
    await Deno.writeFile(`${dir}/cut.npy`, bytes.subarray(0, bytes.length - 4));
    await assert.rejects(openNpy(`${dir}/cut.npy`), /cut\.npy is truncated/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("npy: openNpy reads headers longer than its 64 KiB first read", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const shape = [2, ...new Array(30000).fill(1)];
    await writeNpy(`${dir}/long.npy`, { dtype: "<f4", shape, data: new Float32Array([4, 5]) });
    const r = await openNpy(`${dir}/long.npy`);
    const out = new Float32Array(2);
    await r.readRows(0, 2, out);
    r.close();
    assert.deepEqual(Array.from(out), [4, 5]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const hasNumpy = (() => {
  try {
    return new Deno.Command("/usr/bin/python3", { args: ["-c", "import numpy"] }).outputSync()
      .success;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "npy: round trip through NumPy (skipped when numpy is missing)",
  ignore: !hasNumpy,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const data = new Float32Array([0.5, -1.25, 3, 1e-3, 7, 8]);
      await writeNpy(`${dir}/ours.npy`, { dtype: "<f4", shape: [2, 3], data });
      const script = `import numpy as np
a = np.load("${dir}/ours.npy"); assert a.shape == (2, 3) and a.dtype == np.float32
np.save("${dir}/theirs.npy", (a * 2).astype(np.float16))
np.save("${dir}/arange.npy", np.arange(6, dtype='<f4').reshape(2, 3))
np.save("${dir}/s0.npy", np.float32(3.5).reshape(()))
np.save("${dir}/s1.npy", np.zeros((0,), '<i4'))
np.save("${dir}/s2.npy", np.arange(12345, dtype='<i8'))
np.save("${dir}/s3.npy", np.ones((1281167, 0), '<f2'))`;
      const res = await new Deno.Command("/usr/bin/python3", { args: ["-c", script] }).output();
      assert.ok(res.success, new TextDecoder().decode(res.stderr));
      const theirs = await readNpy(`${dir}/theirs.npy`);
      assert.equal(theirs.dtype, "<f2");
      assertClose(toFloat32(theirs), Array.from(data, (x) => x * 2), {
        rtol: 1e-3,
        reason: "float16 keeps 11 significant bits",
      });
      assert.deepEqual(await Deno.readFile(`${dir}/arange.npy`), ARANGE_NPY);
      const same: [string, NpyArray][] = [
        ["s0", { dtype: "<f4", shape: [], data: new Float32Array([3.5]) }],
        ["s1", { dtype: "<i4", shape: [0], data: new Int32Array(0) }],
        ["s2", {
          dtype: "<i8",
          shape: [12345],
          data: new BigInt64Array(12345).map((_, i) => BigInt(i)),
        }],
        ["s3", { dtype: "<f2", shape: [1281167, 0], data: new Uint16Array(0) }],
      ];
      for (const [name, arr] of same) {
        assert.deepEqual(await Deno.readFile(`${dir}/${name}.npy`), encodeNpy(arr), name);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("npy: lying headers are refused before anything sized by them is read", async () => {
  const withDict = (dict: string, data = new Uint8Array(4)) => {
    const h = dict + " ".repeat(64 - ((10 + dict.length + 1) % 64)) + "\n";
    return handNpy(1, h, data);
  };
  // A '__proto__' key once made the dict inherit 'descr', 'fortran_order' and 'shape'.
  const proto = withDict(
    "{'__proto__': {'descr': '<f4', 'fortran_order': False, 'shape': (1,)}}",
  );
  expectDataError(() => parseNpy(proto, "p.npy"), "p.npy", "no 'descr' key");
  // Deep nesting is a malformed header, not a stack overflow.
  const deep = withDict(`{'descr': '<f4', 'fortran_order': False, 'shape': ${"(".repeat(20000)}}`);
  expectDataError(() => parseNpy(deep, "n.npy"), "n.npy", "nesting deeper than 32");
  // A dtype holding a newline still gives a one-line message.
  assert.throws(
    () => parseNpy(withDict("{'descr': '<f4\n', 'fortran_order': False, 'shape': (1,)}"), "nl.npy"),
    (e: unknown) => {
      assert.ok(e instanceof DataError && !e.message.includes("\n"), String(e));
      return true;
    },
  );

  const dir = await Deno.makeTempDir();
  try {
    // A v2 length field of 4 GiB in a 100-byte file, and one of 2 MiB in a 2 MiB + 100 file.
    const huge = new Uint8Array(100);
    huge.set(latin1("\x93NUMPY\x02\x00"));
    new DataView(huge.buffer).setUint32(8, 0xffffffff, true);
    await Deno.writeFile(`${dir}/huge.npy`, huge);
    for (const read of [readNpy, openNpy, readNpyHeader]) {
      await assert.rejects(read(`${dir}/huge.npy`), /header length 4294967295 is over 1048576/);
    }
    const long = new Uint8Array((2 << 20) + 100).fill(0x20);
    long.set(latin1("\x93NUMPY\x02\x00"));
    new DataView(long.buffer).setUint32(8, 2 << 20, true);
    await Deno.writeFile(`${dir}/long.npy`, long);
    await assert.rejects(readNpy(`${dir}/long.npy`), /header length 2097152 is over/);
    // A header claiming 10^9 x 1000 floats over 16 data bytes: refused from its size.
    await Deno.writeFile(
      `${dir}/lie.npy`,
      withDict(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 1000), }",
        new Uint8Array(16),
      ),
    );
    for (const read of [readNpy, openNpy, readNpyHeader]) {
      await assert.rejects(
        read(`${dir}/lie.npy`),
        /lie\.npy is truncated: .*needs 4000000000000 data bytes/,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("npy: native float32 -> float16 equals the bit-loop reference, NaN sign and payload too", () => {
  const rng = createRng(11);
  const n = 100_000;
  const bits = new Uint32Array(n);
  for (let i = 0; i < n; i++) bits[i] = rng.uint32();
  // Every float32 NaN class: quiet and signalling, both signs, payloads in the kept and the
  // dropped bits, next to infinities.
  bits.set([0x7fc00000, 0xffc00000, 0x7f800001, 0xff800001, 0x7fbfffff, 0x7fc02000, 0x7f800000], 0);
  const all = new Float32Array(bits.buffer);
  const fast = float32ToFloat16Bits(all);
  const ref = float32ToFloat16BitsReference(all);
  assert.deepEqual(fast, ref);
  // Hand-worked NaN halves: sign | 0x7e00 (quiet) | top 9 payload bits.
  assert.deepEqual([...fast.subarray(0, 7)], [
    0x7e00,
    0xfe00,
    0x7e00,
    0xfe00,
    0x7fff,
    0x7e01,
    0x7c00,
  ]);
  // A subarray view with an offset converts its own elements.
  const view = all.subarray(3, 9);
  assert.deepEqual(float32ToFloat16Bits(view), ref.subarray(3, 9));
});
