import assert from "node:assert/strict";
import { unzipSync, zipSync } from "npm:fflate@0.8.3";
import { DataError } from "../errors.ts";
import { parseTorchCheckpoint, readTorchCheckpoint } from "./checkpoint.ts";
import { isTensor, tensorValues, type TorchTensor } from "./tensor.ts";

const enc = new TextEncoder();
const FIXTURES = new URL("../../tests/fixtures/torch/", import.meta.url).pathname;

function pk(...parts: (number | string | number[] | Uint8Array)[]): number[] {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === "number") out.push(p);
    else if (typeof p === "string") out.push(...enc.encode(p));
    else out.push(...p);
  }
  return out;
}

const str = (s: string) => pk(0x8c, s.length, s);

/** A hand-made tensor entry: storage type, element count, view. */
interface Spec {
  storage: string;
  numel: number;
  offset: number;
  shape: number[];
  stride: number[];
}

/** The object pickle `{"w": _rebuild_tensor_v2(<storage "0">, offset, shape, stride, ...)}`. */
function objectPickle(s: Spec, legacy: boolean, global = "torch._utils\n_rebuild_tensor_v2\n") {
  const tuple = (xs: number[]) => pk(0x28, ...xs.flatMap((x) => [0x4b, x]), 0x74);
  return pk(
    0x80,
    2,
    0x7d,
    ...str("w"),
    0x63,
    global,
    0x28, // dict, "w", fn, MARK
    0x28,
    ...str("storage"),
    0x63,
    `torch\n${s.storage}\n`,
    ...str("0"),
    ...str("cpu"),
    0x4b,
    s.numel,
    ...(legacy ? [0x4e] : []),
    0x74,
    0x51, // pid tuple, BINPERSID
    0x4b,
    s.offset,
    ...tuple(s.shape),
    ...tuple(s.stride),
    0x89,
    0x63,
    "collections\nOrderedDict\n",
    0x29,
    0x52, // OrderedDict()
    0x74,
    0x52,
    0x73,
    0x2e, // args tuple, REDUCE, SETITEM, STOP
  );
}

function zipCheckpoint(s: Spec, data: Uint8Array, byteorder?: string, global?: string) {
  const files: Record<string, Uint8Array> = {
    "archive/data.pkl": new Uint8Array(objectPickle(s, false, global)),
    "archive/data/0": data,
  };
  if (byteorder) files["archive/byteorder"] = enc.encode(byteorder);
  return zipSync(files, { level: 0 });
}

function legacyCheckpoint(s: Spec, data: Uint8Array, count = s.numel) {
  const magic = pk(
    0x80,
    2,
    0x8a,
    10,
    [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19],
    0x2e,
  );
  const proto = pk(0x80, 2, 0x4d, [0xe9, 0x03], 0x2e);
  const info = pk(0x80, 2, 0x7d, ...str("little_endian"), 0x88, 0x73, 0x2e);
  const keys = pk(0x80, 2, 0x5d, ...str("0"), 0x61, 0x2e);
  const n = new Uint8Array(8);
  new DataView(n.buffer).setBigInt64(0, BigInt(count), true);
  return new Uint8Array([
    ...magic,
    ...proto,
    ...info,
    ...objectPickle(s, true),
    ...keys,
    ...n,
    ...data,
  ]);
}

const f32 = (xs: number[], little = true) => {
  const b = new Uint8Array(xs.length * 4);
  xs.forEach((x, i) => new DataView(b.buffer).setFloat32(4 * i, x, little));
  return b;
};
const u16 = (xs: number[]) => new Uint8Array(new Uint16Array(xs).buffer);
const tensorOf = (v: unknown) => (v as Map<string, unknown>).get("w") as TorchTensor;

// Storage 0..7; view offset 1, shape (2, 3), strides (1, 2): w[i][j] = 1 + i + 2j.
const VIEW: Spec = { storage: "FloatStorage", numel: 8, offset: 1, shape: [2, 3], stride: [1, 2] };
const VIEW_VALUES = [1, 3, 5, 2, 4, 6];

Deno.test("torch checkpoint: a strided view at an offset, in both formats, by hand", () => {
  const data = f32([0, 1, 2, 3, 4, 5, 6, 7]);
  for (const bytes of [zipCheckpoint(VIEW, data), legacyCheckpoint(VIEW, data)]) {
    const c = parseTorchCheckpoint(bytes, "w.pth");
    const t = tensorOf(c.value);
    assert.deepEqual(t.shape, [2, 3]);
    assert.deepEqual([...tensorValues(t, "w.pth")], VIEW_VALUES);
  }
  const big = zipCheckpoint(VIEW, f32([0, 1, 2, 3, 4, 5, 6, 7], false), "big");
  assert.deepEqual(
    [...tensorValues(tensorOf(parseTorchCheckpoint(big, "b").value), "b")],
    VIEW_VALUES,
  );
});

Deno.test("torch checkpoint: float16 and bfloat16 storages decode exactly", () => {
  const s = { storage: "HalfStorage", numel: 4, offset: 0, shape: [4], stride: [1] };
  // 1, -2, 2^-24 (smallest subnormal), +inf
  const half = tensorOf(
    parseTorchCheckpoint(zipCheckpoint(s, u16([0x3c00, 0xc000, 1, 0x7c00])), "h").value,
  );
  assert.deepEqual([...tensorValues(half, "h")], [1, -2, 2 ** -24, Infinity]);
  const b = { ...s, storage: "BFloat16Storage", numel: 3, shape: [3] };
  // 1.5, -3, 1 + 2^-7 (bfloat16 keeps 7 fraction bits)
  const bf = tensorOf(
    parseTorchCheckpoint(legacyCheckpoint(b, u16([0x3fc0, 0xc040, 0x3f81])), "b").value,
  );
  assert.deepEqual([...tensorValues(bf, "b")], [1.5, -3, 1 + 2 ** -7]);
  const l = { ...s, storage: "LongStorage", numel: 1, shape: [], stride: [] };
  const long = new Uint8Array(8);
  new DataView(long.buffer).setBigInt64(0, -5n, true);
  assert.deepEqual([
    ...tensorValues(tensorOf(parseTorchCheckpoint(zipCheckpoint(l, long), "l").value), "l"),
  ], [-5n]);
});

Deno.test("torch checkpoint: hostile and broken files end in one DataError", () => {
  const data = f32([0, 1, 2, 3, 4, 5, 6, 7]);
  const cases: [Uint8Array, RegExp][] = [
    // storage size lies: 7 elements of bytes for 8 declared
    [
      zipCheckpoint(VIEW, data.subarray(0, 28)),
      /declares 8 FloatStorage elements \(32 bytes\) but holds 28/,
    ],
    [legacyCheckpoint(VIEW, data, 9), /declared with 8 elements but recorded with 9/],
    [legacyCheckpoint(VIEW, data.subarray(0, 20)), /but holds 20 bytes/],
    // a view that reaches past its storage
    [zipCheckpoint({ ...VIEW, offset: 3 }, data), /reaches element 8 of a 8-element storage/],
    // globals outside the allowlist
    [zipCheckpoint(VIEW, data, undefined, "os\nsystem\n"), /'os\.system'.*refused/],
    [zipCheckpoint(VIEW, data, "middle"), /byteorder record is "middle"/],
    [new Uint8Array([1, 2, 3, 4]), /neither a zip nor a legacy/],
  ];
  for (const [bytes, re] of cases) {
    assert.throws(() => parseTorchCheckpoint(bytes, "x.pth"), (e: Error) => {
      assert.ok(e instanceof DataError, `${re}: ${e}`);
      assert.match(e.message, re);
      return true;
    });
  }
  const int = { ...VIEW, storage: "IntStorage" };
  const t = tensorOf(parseTorchCheckpoint(zipCheckpoint(int, data), "i.pth").value);
  assert.throws(() => tensorValues(t, "i.pth", "'w'"), /'w' is stored as torch\.IntStorage/);
});

Deno.test("torch checkpoint: truncated fixture files are refused in both formats", async () => {
  for (const f of ["group_f32_zip.pth.tar", "group_f32_legacy.pth.tar"]) {
    const bytes = await Deno.readFile(FIXTURES + f);
    for (const cut of [bytes.length - 1000, bytes.length >> 1, 600]) {
      assert.throws(() => parseTorchCheckpoint(bytes.subarray(0, cut), f), DataError);
    }
  }
});

Deno.test("torch checkpoint: the zip and legacy fixtures hold the same tensors", async () => {
  const z = await readTorchCheckpoint(FIXTURES + "group_f32_zip.pth.tar");
  const l = await readTorchCheckpoint(FIXTURES + "group_f32_legacy.pth.tar");
  assert.equal(z.format, "zip");
  assert.equal(l.format, "legacy");
  const top = (c: typeof z) => c.value as Map<string, unknown>;
  assert.deepEqual([...top(z).keys()], ["step", "model", "optim"]);
  assert.equal(top(z).get("step"), 20000);
  const mz = top(z).get("model") as Map<string, TorchTensor>;
  const ml = top(l).get("model") as Map<string, TorchTensor>;
  assert.deepEqual([...mz.keys()], [...ml.keys()]);
  assert.ok([...mz.keys()].every((k) => k.startsWith("module.")));
  for (const [k, t] of mz) {
    assert.ok(isTensor(t));
    assert.deepEqual(t.shape, ml.get(k)!.shape, k);
    assert.deepEqual(tensorValues(t, "z", k), tensorValues(ml.get(k)!, "l", k), k);
  }
  // The views make_torch_fixtures wrote: a permuted root kernel and an offset head bias.
  assert.deepEqual(mz.get("module.root.conv.weight")!.stride, [1, 32, 672, 96]);
  assert.equal(ml.get("module.head.conv.bias")!.offset, 16);
  const optim = top(z).get("optim") as Map<string, unknown>;
  const state = optim.get("state") as Map<number, Map<string, unknown>>;
  assert.deepEqual([...state.keys()], [0, 1]);
  assert.ok(isTensor(state.get(1)!.get("momentum_buffer")));
});

Deno.test("torch checkpoint: a zip member's declared size is checked before unpacking", async () => {
  const bytes = await Deno.readFile(FIXTURES + "flat_f16_zip.pth");
  const members = unzipSync(bytes);
  const name = Object.keys(members).find((n) => n.endsWith("/data/0"))!;
  members[name] = members[name].subarray(0, 10);
  assert.throws(
    () => parseTorchCheckpoint(zipSync(members, { level: 0 }), "cut.pth"),
    /storage 0 declares .* but holds 10 bytes/,
  );
});

Deno.test("torch checkpoint: a repeated-element view is bounded by memory, not by the file", () => {
  // shape (200, 200, 200), strides 0: one stored element viewed 8e6 times.
  const s = {
    storage: "FloatStorage",
    numel: 1,
    offset: 0,
    shape: [200, 200, 200],
    stride: [0, 0, 0],
  };
  const t = tensorOf(parseTorchCheckpoint(zipCheckpoint(s, f32([2.5])), "e.pth").value);
  const prev = Deno.env.get("MOS_MEMORY_LIMIT");
  Deno.env.set("MOS_MEMORY_LIMIT", String(1 << 20));
  try {
    assert.throws(
      () => tensorValues(t, "e.pth", "'w'"),
      /'w' \(shape 200 x 200 x 200\) needs about/,
    );
  } finally {
    if (prev === undefined) Deno.env.delete("MOS_MEMORY_LIMIT");
    else Deno.env.set("MOS_MEMORY_LIMIT", prev);
  }
});

Deno.test("torch checkpoint: pickle protocol 4 with float64, int64 and a transposed tensor", async () => {
  const c = await readTorchCheckpoint(FIXTURES + "small_proto4_zip.pth");
  const m = (c.value as Map<string, unknown>).get("model") as Map<string, TorchTensor>;
  // make.py: arange(6).reshape(2, 3) / 4 in float64; tensor(-7) int64; arange(12).reshape(3, 4).t()
  const w = tensorValues(m.get("module.w")!, "p4");
  assert.ok(w instanceof Float64Array);
  assert.deepEqual([...w], [0, 0.25, 0.5, 0.75, 1, 1.25]);
  const n = m.get("module.bn.num_batches_tracked")!;
  assert.deepEqual([n.shape, [...tensorValues(n, "p4")]], [[], [-7n]]);
  const t = m.get("module.t")!;
  assert.deepEqual([t.shape, t.stride], [[4, 3], [1, 4]]);
  assert.deepEqual([...tensorValues(t, "p4")], [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
});
