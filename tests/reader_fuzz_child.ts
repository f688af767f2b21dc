/**
 * The mutation loop of tests/reader_fuzz_test.ts, run in its own process so the test can bound
 * what it allocates: seeded mutations of `.npy` files (and `.npz` archives holding them),
 * feature-set `meta.json` and head `head.json` files are fed to the readers, and the counts, any
 * failures, the slowest case and the peak resident memory (VmHWM) are printed as one JSON line.
 *
 * Usage: `deno run -A tests/reader_fuzz_child.ts SEED NPY META HEAD NPZ DIR` (mutation counts per
 * reader family; DIR is an empty scratch directory).
 *
 * Each mutation either reads correctly, and then the values must be the bytes the file holds (an
 * oracle written here, independent of lib/io/npy.ts), or every reader throws one `DataError` whose
 * message is a single line naming the file. Anything else is a failure.
 *
 * @module
 */
import { zipSync } from "npm:fflate@0.8.3";
import { parseNpz } from "../lib/bit/npz.ts";
import { DataError } from "../lib/errors.ts";
import { readFeatureSet } from "../lib/io/feature_set.ts";
import { openFeatureStream } from "../lib/io/feature_stream.ts";
import { headOutputs, readHead } from "../lib/io/head.ts";
import {
  type NpyArray,
  openNpy,
  parseNpy,
  readNpy,
  readNpyHeader,
  toFloat32,
} from "../lib/io/npy.ts";
import { createRng, type Rng } from "../lib/random.ts";

/** A mutation's outcome as the report counts it. */
type Outcome = "ok" | "data_error";

/** What the child prints. */
export interface FuzzReport {
  seed: number;
  mutations: number;
  ok: number;
  dataError: number;
  byKind: Record<string, { ok: number; data_error: number }>;
  failures: string[];
  maxCaseMs: number;
  slowestCase: string;
  msByFamily: Record<string, number>;
  vmHwmKiB: number;
}

const [seedArg, npyArg, metaArg, headArg, npzArg, dir] = Deno.args;
const SEED = Number(seedArg);
const rng = createRng(SEED);
const failures: string[] = [];
let failureCount = 0;
const byKind: Record<string, { ok: number; data_error: number }> = {};
let maxCaseMs = 0;
let slowestCase = "";

// ---------------------------------------------------------------------------------------------
// Small helpers, independent of the code under test.

const latin1 = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function pick<T>(r: Rng, xs: readonly T[]): T {
  return xs[r.int(xs.length)];
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function rawBytes(arr: NpyArray): Uint8Array {
  return new Uint8Array(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength);
}

const ITEM: Record<string, number> = { "<f4": 4, "<f2": 2, "<i4": 4, "<i8": 8 };

/**
 * A `.npy` file laid out by hand: magic, version, little-endian length field (`lenField` when
 * given, else the real length), the header text padded with spaces so the data starts at a
 * multiple of `align`, then `data`.
 */
function buildNpy(
  major: number,
  dict: string,
  data: Uint8Array,
  opts: { align?: number; lenField?: number } = {},
): Uint8Array {
  const prefix = major === 1 ? 10 : 12;
  const align = opts.align ?? 64;
  const pad = (align - ((prefix + dict.length + 1) % align)) % align;
  const text = dict + " ".repeat(pad) + "\n";
  const len = opts.lenField ?? text.length;
  const lenBytes = major === 1
    ? new Uint8Array([len & 0xff, (len >> 8) & 0xff])
    : new Uint8Array(new Uint32Array([len >>> 0]).buffer);
  return concat(latin1("\x93NUMPY"), new Uint8Array([major, 0]), lenBytes, latin1(text), data);
}

const shapeText = (dims: string[]) => `(${dims.join(", ")}${dims.length === 1 ? "," : ""})`;

function dictText(descr: string, dims: string[]): string {
  return `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText(dims)}, }`;
}

/** One seed file: how it was built, so a mutation can rebuild it with a lie. */
interface NpySeed {
  name: string;
  major: number;
  descr: string;
  dims: number[];
  data: Uint8Array;
  align: number;
}

function randomData(r: Rng, descr: string, count: number): Uint8Array {
  const out = new Uint8Array(count * ITEM[descr]);
  const view = new DataView(out.buffer);
  for (let i = 0; i < count; i++) {
    if (descr === "<f4") view.setFloat32(i * 4, r.normal() * 3, true);
    else if (descr === "<f2") view.setUint16(i * 2, r.int(0x7c00), true); // finite halves
    else if (descr === "<i4") view.setInt32(i * 4, r.int(2001) - 1000, true);
    else view.setBigInt64(i * 8, BigInt(r.int(2001) - 1000), true);
  }
  return out;
}

const seedRng = createRng(SEED + 1);
const NPY_SEEDS: NpySeed[] = [
  { name: "f4_2d", major: 1, descr: "<f4", dims: [5, 3], align: 64 },
  { name: "f2_1d", major: 1, descr: "<f2", dims: [7], align: 64 },
  { name: "i4_3d", major: 1, descr: "<i4", dims: [4, 2, 2], align: 64 },
  { name: "i8_1d", major: 1, descr: "<i8", dims: [6], align: 64 },
  { name: "f4_0d", major: 1, descr: "<f4", dims: [], align: 64 },
  { name: "f4_empty", major: 1, descr: "<f4", dims: [0, 4], align: 64 },
  { name: "f4_v2", major: 2, descr: "<f4", dims: [3, 4], align: 64 },
  { name: "f4_v3", major: 3, descr: "<f4", dims: [2, 2], align: 64 },
  // Old NumPy aligned to 16 bytes: the data offset is not a multiple of 64 (nor of 8 here).
  { name: "f4_unaligned", major: 1, descr: "<f4", dims: [2, 3], align: 1 },
].map((s) => ({
  ...s,
  data: randomData(seedRng, s.descr, s.dims.reduce((a, b) => a * b, 1)),
}));

function seedBytes(s: NpySeed): Uint8Array {
  return buildNpy(s.major, dictText(s.descr, s.dims.map(String)), s.data, { align: s.align });
}

/** Header data offset read straight from the length field (the oracle's own reading). */
function oracleOffset(bytes: Uint8Array): number {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return bytes[6] === 1 ? 10 + v.getUint16(8, true) : 12 + v.getUint32(8, true);
}

// ---------------------------------------------------------------------------------------------
// Running one case.

/** Milliseconds spent per reader family (npy, npz, meta, head). */
const msByFamily: Record<string, number> = {};

async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    const ms = performance.now() - t0;
    const family = label.slice(0, label.indexOf("#"));
    msByFamily[family] = (msByFamily[family] ?? 0) + ms;
    if (ms > maxCaseMs) {
      maxCaseMs = ms;
      slowestCase = label;
    }
  }
}

type Attempt<T> = { ok: true; value: T } | { ok: false; message: string } | { crash: string };

/** Runs one reader: a value, a one-line DataError naming `mustName`, or a recorded crash. */
async function attempt<T>(fn: () => Promise<T> | T, mustName: string): Promise<Attempt<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    if (!(e instanceof DataError)) {
      const err = e as Error;
      return { crash: `${err?.constructor?.name}: ${String(err?.message).slice(0, 200)}` };
    }
    if (e.message === "" || /[\r\n\u2028\u2029]/.test(e.message)) {
      return { crash: `DataError message is not one line: ${JSON.stringify(e.message)}` };
    }
    if (!e.message.includes(mustName)) {
      return { crash: `DataError does not name ${mustName}: ${e.message}` };
    }
    return { ok: false, message: e.message };
  }
}

/**
 * Records a mutation: all attempts must agree (all read or all DataError) and `check` must
 * accept the values of those that read. `expect` ("ok" / "data_error") is asserted when known.
 */
function record(
  kind: string,
  label: string,
  attempts: Attempt<unknown>[],
  expect: Outcome | undefined,
  check: () => string | null,
): void {
  const crash = attempts.find((a) => "crash" in a) as { crash: string } | undefined;
  const fail = (why: string) => {
    failureCount++;
    if (failures.length < 50) failures.push(`${label}: ${why}`);
  };
  const k = (byKind[kind] ??= { ok: 0, data_error: 0 });
  if (crash) {
    fail(crash.crash);
    return;
  }
  const oks = attempts.filter((a) => "ok" in a && a.ok).length;
  if (oks !== 0 && oks !== attempts.length) {
    const msgs = attempts.map((a) => ("ok" in a && !a.ok ? a.message : "read")).join(" | ");
    fail(`readers disagree: ${msgs}`);
    return;
  }
  const outcome: Outcome = oks > 0 ? "ok" : "data_error";
  if (expect !== undefined && outcome !== expect) {
    const msg = attempts.map((a) => ("ok" in a && !a.ok ? a.message : "read")).join(" | ");
    fail(`expected ${expect}, got ${outcome} (${msg})`);
    return;
  }
  if (outcome === "ok") {
    const bad = check();
    if (bad) {
      fail(`read values differ from the file: ${bad}`);
      return;
    }
  }
  k[outcome]++;
}

// ---------------------------------------------------------------------------------------------
// .npy mutations.

const NUMS = [
  "0",
  "1",
  "2",
  "3",
  "4",
  "5",
  "6",
  "7",
  "12",
  "15",
  "16",
  "255",
  "65536",
  "1000000",
  "1000000000",
  "2147483647",
  "2147483648",
  "4294967296",
  "500000000",
  "9007199254740991",
  "9007199254740992",
  "100000000000000000000",
  "-1",
  "-2147483648",
  "1L",
  "3.5",
  "None",
  "'a'",
  "(2,)",
];
const DESCRS = [
  "<f4",
  "<f2",
  "<i4",
  "<i8",
  "<f8",
  ">f4",
  ">i4",
  "|u1",
  "|O",
  "O",
  "<c8",
  "",
  "<f4\n",
  "<U10",
  "f4",
];

interface NpyCase {
  kind: string;
  bytes: Uint8Array;
  /** Known outcome for lies whose validity the oracle can decide. */
  expect?: Outcome;
  /** Dtype and shape the file must read as when it reads. */
  want?: { descr: string; dims: number[] };
}

function npyCase(r: Rng): NpyCase {
  const s = pick(r, NPY_SEEDS);
  const good = seedBytes(s);
  const kind = pick(r, [
    "flip",
    "shape",
    "dtype",
    "header_len",
    "truncate",
    "append",
    "version",
    "nest",
    "garbage",
    "valid",
  ]);
  switch (kind) {
    case "valid":
      return { kind, bytes: good, expect: "ok", want: { descr: s.descr, dims: s.dims } };
    case "flip": {
      const bytes = good.slice();
      const headerEnd = oracleOffset(good);
      for (let n = 1 + r.int(4); n > 0; n--) {
        const at = r.int(2) === 0 ? r.int(headerEnd) : r.int(bytes.length);
        bytes[at] ^= 1 << r.int(8);
      }
      return { kind, bytes };
    }
    case "shape": {
      const ndim = r.int(5);
      const dims = Array.from({ length: ndim }, () => pick(r, NUMS));
      const bytes = buildNpy(s.major, dictText(s.descr, dims), s.data, { align: s.align });
      // Python 2 wrote longs as "1L"; NumPy and the reader accept them.
      const ints = dims.every((d) => /^\d+L?$/.test(d));
      let valid = false;
      if (ints) {
        const big = dims.map((d) => BigInt(d.replace("L", "")));
        const count = big.reduce((a, b) => a * b, 1n);
        const safe = big.every((d) => d <= 9007199254740991n) &&
          count * BigInt(ITEM[s.descr]) <= 9007199254740991n;
        valid = safe && count * BigInt(ITEM[s.descr]) === BigInt(s.data.length);
      }
      return {
        kind,
        bytes,
        expect: valid ? "ok" : "data_error",
        want: valid
          ? { descr: s.descr, dims: dims.map((d) => Number(d.replace("L", ""))) }
          : undefined,
      };
    }
    case "dtype": {
      const descr = pick(r, DESCRS);
      const bytes = buildNpy(s.major, dictText(descr, s.dims.map(String)), s.data, {
        align: s.align,
      });
      const count = s.dims.reduce((a, b) => a * b, 1);
      const valid = descr in ITEM && count * ITEM[descr] === s.data.length;
      return {
        kind,
        bytes,
        expect: valid ? "ok" : "data_error",
        want: valid ? { descr, dims: s.dims } : undefined,
      };
    }
    case "header_len": {
      const real = oracleOffset(good) - (s.major === 1 ? 10 : 12);
      const choices = s.major === 1
        ? [0, 1, real - 1, real + 1, real + 8, 0xffff, r.int(0x10000)]
        : [0, real - 1, real + 1, 0xffffffff, 0x80000000, (1 << 20) + 1, r.uint32()];
      const lenField = pick(r, choices);
      const bytes = good.slice();
      const v = new DataView(bytes.buffer);
      if (s.major === 1) v.setUint16(8, lenField, true);
      else v.setUint32(8, lenField, true);
      return { kind, bytes, expect: lenField === real ? "ok" : "data_error" };
    }
    case "truncate":
      return { kind, bytes: good.slice(0, r.int(good.length)), expect: "data_error" };
    case "append": {
      // 8 bytes is the audit's case: a shard read from its end came out shifted by two floats.
      const n = r.int(3) === 0 ? 8 : 1 + r.int(100);
      const extra = Uint8Array.from({ length: n }, () => r.int(256));
      return { kind, bytes: concat(good, extra), expect: "data_error" };
    }
    case "version": {
      const bytes = good.slice();
      bytes[6] = r.int(256);
      bytes[7] = r.int(256);
      return { kind, bytes };
    }
    case "nest": {
      // Depth 1 would be "()", a valid 0-d shape; from 2 on the shape holds no numbers.
      const depth = 2 + r.int(r.int(2) === 0 ? 40 : 30000);
      const open = pick(r, ["(", "[", "{"]);
      const close = open === "(" ? ")" : open === "[" ? "]" : "}";
      const nested = open.repeat(depth) + close.repeat(depth);
      const dict = `{'descr': '${s.descr}', 'fortran_order': False, 'shape': ${nested}, }`;
      const major = dict.length > 60000 ? 2 : 1;
      return { kind, bytes: buildNpy(major, dict, s.data), expect: "data_error" };
    }
    default: { // garbage header text
      const len = r.int(200);
      const text = Array.from({ length: len }, () => String.fromCharCode(32 + r.int(95))).join("");
      return { kind, bytes: buildNpy(1, text, s.data), expect: "data_error" };
    }
  }
}

/** The oracle: what a file that reads must read as, from the bytes alone. */
function checkNpy(c: NpyCase, arr: NpyArray): string | null {
  const off = oracleOffset(c.bytes);
  const count = arr.shape.reduce((a, b) => a * b, 1);
  if (arr.data.length !== count) return `data length ${arr.data.length} != shape product ${count}`;
  if (off + count * ITEM[arr.dtype] !== c.bytes.length) {
    return `offset ${off} + ${count} x ${ITEM[arr.dtype]} != file size ${c.bytes.length}`;
  }
  if (!bytesEqual(rawBytes(arr), c.bytes.subarray(off))) return "data bytes differ";
  const header = new TextDecoder("latin1").decode(c.bytes.subarray(0, off));
  if (!header.includes(`'${arr.dtype}'`) && !header.includes(`"${arr.dtype}"`)) {
    return `dtype ${arr.dtype} is not in the header`;
  }
  if (c.want) {
    if (arr.dtype !== c.want.descr) return `dtype ${arr.dtype}, built as ${c.want.descr}`;
    if (arr.shape.join() !== c.want.dims.join()) {
      return `shape (${arr.shape}), built as (${c.want.dims})`;
    }
  }
  return null;
}

async function fuzzNpy(n: number): Promise<void> {
  const path = `${dir}/case.npy`;
  for (let i = 0; i < n; i++) {
    const c = npyCase(rng);
    const label = `npy#${i} ${c.kind}`;
    await Deno.writeFile(path, c.bytes);
    let parsed: NpyArray | undefined;
    let streamed: Float32Array | undefined;
    let fromFile: NpyArray | undefined;
    const attempts = await timed(label, async () => [
      await attempt(() => (parsed = parseNpy(c.bytes, "mem.npy")), "mem.npy"),
      await attempt(async () => (fromFile = await readNpy(path)), path),
      await attempt(() => readNpyHeader(path), path),
      await attempt(async () => {
        const rd = await openNpy(path);
        try {
          const out = new Float32Array(rd.rows * rd.cols);
          await rd.readRows(0, rd.rows, out);
          streamed = out;
        } finally {
          rd.close();
        }
      }, path),
    ]);
    record(`npy:${c.kind}`, label, attempts, c.expect, () => {
      const bad = checkNpy(c, parsed!) ?? checkNpy(c, fromFile!);
      if (bad) return bad;
      const f = toFloat32(parsed!);
      if (
        !bytesEqual(
          new Uint8Array(f.buffer, f.byteOffset, f.byteLength),
          rawBytes({
            dtype: "<f4",
            shape: [streamed!.length],
            data: streamed!,
          }),
        )
      ) return "openNpy rows differ from the file's values";
      return null;
    });
  }
}

// ---------------------------------------------------------------------------------------------
// .npz mutations: a zip holding one .npy member (stored), then its bytes or declared sizes lied.

async function fuzzNpz(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const s = pick(rng, NPY_SEEDS);
    const member = seedBytes(s);
    let bytes: Uint8Array = zipSync({ "a.npy": member }, { level: 0 });
    const kind = pick(rng, ["flip", "declared_size", "truncate", "append", "member_append"]);
    if (kind === "flip") {
      bytes = bytes.slice();
      for (let k = 1 + rng.int(3); k > 0; k--) bytes[rng.int(bytes.length)] ^= 1 << rng.int(8);
    } else if (kind === "declared_size") {
      // Central directory entry: uncompressed size at +24, compressed size at +20.
      bytes = bytes.slice();
      const v = new DataView(bytes.buffer);
      let cd = bytes.length - 22;
      while (cd > 0 && v.getUint32(cd, true) !== 0x02014b50) cd--;
      v.setUint32(cd + pick(rng, [20, 24]), pick(rng, [0xffffffff, 0x7fffffff, 1 << 30]), true);
    } else if (kind === "truncate") {
      bytes = bytes.slice(0, rng.int(bytes.length));
    } else if (kind === "append") {
      bytes = concat(bytes, Uint8Array.from({ length: 1 + rng.int(40) }, () => rng.int(256)));
    } else {
      // A member with 8 trailing bytes is a bad .npy like any other file.
      bytes = zipSync({ "a.npy": concat(member, new Uint8Array(8)) }, { level: 0 });
    }
    const label = `npz#${i} ${kind}`;
    let result: Map<string, NpyArray> | undefined;
    const attempts = await timed(label, async () => [
      await attempt(() => (result = parseNpz(bytes, "fuzz.npz")), "fuzz.npz"),
    ]);
    const expect: Outcome | undefined = kind === "member_append" ? "data_error" : undefined;
    record(`npz:${kind}`, label, attempts, expect, () => {
      for (const [, arr] of result!) {
        // Stored members: the array's data bytes are a run of the archive's bytes.
        const data = rawBytes(arr);
        const text = Array.from(bytes, (b) => String.fromCharCode(b)).join("");
        const want = Array.from(data, (b) => String.fromCharCode(b)).join("");
        if (data.length > 0 && !text.includes(want)) return "member data is not in the archive";
      }
      return null;
    });
  }
}

// ---------------------------------------------------------------------------------------------
// JSON mutations shared by meta.json and head.json.

/** Values of every JSON type, including lying sizes, huge numbers and deep nesting. */
function jsonValueText(r: Rng): string {
  const kind = r.int(10);
  if (kind === 0) return pick(r, ["null", "true", "false", '""', '"12"', "[]", "{}"]);
  if (kind === 1) return pick(r, ["1e308", "1e400", "-1e400", "-0", "1.5", "0.1"]);
  if (kind === 2) {
    return pick(r, [
      "500000000",
      "2147483647",
      "2147483648",
      "4294967296",
      "9007199254740991",
      "9007199254740993",
      "123456789012345678901234567890",
      "-1",
    ]);
  }
  if (kind === 3) {
    const depth = 1 + r.int(r.int(2) === 0 ? 50 : 20000);
    const open = r.int(2) === 0 ? "[" : '{"a":';
    const close = open === "[" ? "]" : "}";
    return open.repeat(depth) + "0" + close.repeat(depth);
  }
  if (kind === 4) return JSON.stringify("x".repeat(r.int(5000)) + "\n\u2028line");
  if (kind === 5) return `[${Array.from({ length: r.int(2000) }, (_, i) => i).join(",")}]`;
  return String(r.int(20) - 2);
}

/**
 * One JSON mutation of `obj` (a plain object): a key set to a lie, a key removed, the text cut,
 * extended or bit-flipped. Returns the file text and the kind.
 */
function mutateJson(
  r: Rng,
  obj: Record<string, unknown>,
  lies: Record<string, string[]>,
): { kind: string; text: string; changedKey?: string } {
  const kind = pick(r, [
    "lie",
    "lie",
    "lie",
    "type",
    "nest",
    "remove",
    "truncate",
    "append",
    "flip",
    "proto",
  ]);
  const good = JSON.stringify(obj);
  const keys = Object.keys(obj);
  const setKey = (key: string, valueText: string) => {
    const rest = { ...obj };
    delete rest[key];
    const body = JSON.stringify(rest).slice(1, -1);
    return `{${body}${body ? "," : ""}${JSON.stringify(key)}:${valueText}}`;
  };
  switch (kind) {
    case "lie": {
      const key = pick(r, Object.keys(lies));
      return { kind: `lie_${key}`, text: setKey(key, pick(r, lies[key])), changedKey: key };
    }
    case "type": {
      const key = pick(r, keys);
      return { kind, text: setKey(key, jsonValueText(r)), changedKey: key };
    }
    case "nest": {
      const key = pick(r, keys);
      const depth = 1 + r.int(20000);
      return {
        kind,
        text: setKey(key, "[".repeat(depth) + "1" + "]".repeat(depth)),
        changedKey: key,
      };
    }
    case "remove": {
      const key = pick(r, keys);
      const rest = { ...obj };
      delete rest[key];
      return { kind, text: JSON.stringify(rest), changedKey: key };
    }
    case "truncate":
      return { kind, text: good.slice(0, r.int(good.length)) };
    case "append":
      return {
        kind,
        text: good + pick(r, ["}", ",", " x", "\n{}", "\u0000", "]]]", " 1"]),
      };
    case "flip": {
      const chars = good.split("");
      for (let n = 1 + r.int(3); n > 0; n--) {
        const at = r.int(chars.length);
        chars[at] = String.fromCharCode(chars[at].charCodeAt(0) ^ (1 << r.int(7)));
      }
      return { kind, text: chars.join("") };
    }
    default: // a "__proto__" key must not smuggle values past the checks
      return { kind, text: setKey("__proto__", good) };
  }
}

/** The value of `key` when mutateJson set it last in `text`, or undefined. */
function jsonTail(text: string, key: string): unknown {
  const tag = `${JSON.stringify(key)}:`;
  const at = text.lastIndexOf(tag);
  if (at < 0 || !text.endsWith("}")) return undefined;
  try {
    return JSON.parse(text.slice(at + tag.length, -1));
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// meta.json.

const N = 12;
const D = 8;

async function fuzzMeta(n: number): Promise<void> {
  const set = `${dir}/set`;
  await Deno.mkdir(set, { recursive: true });
  const feats = randomData(createRng(SEED + 2), "<f4", N * D);
  const labelsArr = Int32Array.from({ length: N }, (_, i) => (i % 5) - 1);
  const labelBytes = new Uint8Array(labelsArr.buffer);
  const featsNpy = buildNpy(1, dictText("<f4", [String(N), String(D)]), feats);
  await Deno.writeFile(`${set}/labels.npy`, buildNpy(1, dictText("<i4", [String(N)]), labelBytes));
  const meta = {
    dataset: "fuzz",
    backbone: "fuzz-net",
    dim: D,
    count: N,
    dtype: "float32",
    num_classes: 4,
    preprocess: { resize: 256, crop: 224 },
    complete: true,
  };
  const sizes = ["0", "1", "7", "8", "11", "12", "13", "500000000", "9007199254740993", "1e15"];
  const lies = {
    count: [...sizes, "-1", "12.5", '"12"', "null"],
    dim: [...sizes, "-8", "8.0", "[8]"],
    num_classes: ["1", "4", "0", "-4", "500000000", "2147483648", "1e308", '"4"', "null"],
    views: ["1", "2", "0", "-1", "500000000", "2.5", '"2"'],
    complete: ["false", '"true"', "1", "null"],
    dtype: ['"float32"', '"float16"', '"float64"', '"<f4"', "32"],
  };
  for (let i = 0; i < n; i++) {
    // One case in eight: features.npy lies consistently with meta.json about a huge row count.
    const consistent = rng.int(8) === 0;
    let kind: string;
    let text: string;
    let changedKey: string | undefined;
    let featureFile = featsNpy;
    let expect: Outcome | undefined;
    if (consistent) {
      const rows = pick(rng, ["500000000", "1000000000000", "2147483648"]);
      kind = "consistent_lie_count";
      featureFile = buildNpy(1, dictText("<f4", [rows, String(D)]), feats);
      text = JSON.stringify(meta).replace(`"count":${N}`, `"count":${rows}`);
      expect = "data_error";
    } else {
      ({ kind, text, changedKey } = mutateJson(rng, meta, lies));
    }
    await Deno.writeFile(`${set}/features.npy`, featureFile);
    await Deno.writeTextFile(`${set}/meta.json`, text);
    const label = `meta#${i} ${kind}`;
    let read: Awaited<ReturnType<typeof readFeatureSet>> | undefined;
    const attempts = await timed(label, async () => [
      await attempt(async () => (read = await readFeatureSet(set)), set),
      await attempt(async () => (await openFeatureStream(set)).close(), set),
    ]);
    if (changedKey === "count" || changedKey === "dim") {
      // A removed count or dim, or any value but the true one, must be refused.
      const truth = changedKey === "count" ? N : D;
      if (kind === "remove" || jsonTail(text, changedKey) !== truth) expect = "data_error";
    }
    record(`meta:${kind}`, label, attempts, expect, () => {
      const s = read!;
      if (s.meta.count !== N || s.meta.dim !== D) {
        return `meta count/dim ${s.meta.count}/${s.meta.dim}`;
      }
      if (s.features.rows !== N || s.features.cols !== D) return "feature shape differs";
      if (
        !bytesEqual(
          new Uint8Array(s.features.data.buffer, s.features.data.byteOffset, N * D * 4),
          feats,
        )
      ) {
        return "feature values differ";
      }
      if (s.labels.join() !== labelsArr.join()) return "labels differ";
      return null;
    });
  }
}

// ---------------------------------------------------------------------------------------------
// head.json.

const C = 6;
const HD = 5;
const GROUPS = [[0, 3], [1, 4, 5], [2]];

async function fuzzHead(n: number): Promise<void> {
  const r0 = createRng(SEED + 3);
  const heads: Record<
    string,
    { w: Uint8Array; b: Uint8Array; O: number; info: Record<string, unknown> }
  > = {};
  for (const kind of ["flat", "group"] as const) {
    const O = kind === "flat" ? C : C + GROUPS.length;
    const w = randomData(r0, "<f4", O * HD);
    const b = randomData(r0, "<f4", O);
    const h = `${dir}/head_${kind}`;
    await Deno.mkdir(h, { recursive: true });
    await Deno.writeFile(
      `${h}/weight.npy`,
      buildNpy(1, dictText("<f4", [String(O), String(HD)]), w),
    );
    await Deno.writeFile(`${h}/bias.npy`, buildNpy(1, dictText("<f4", [String(O)]), b));
    const info = {
      kind,
      num_classes: C,
      groups: kind === "group" ? GROUPS : [],
      train: { seed: 0, steps: 10, config: { lr: 0.1 } },
      features: "fuzz",
    };
    heads[kind] = { w, b, O, info };
  }
  const groupLies = [
    "[[0,3],[1,4,5],[2]]",
    "[[3,0],[5,4,1],[2]]",
    "[[2],[0,3],[1,4,5]]",
    "[[0,3],[1,4],[2]]",
    "[[0,3],[1,4,5],[2,2]]",
    "[[0,3],[1,4,5],[6]]",
    "[[0,3],[1,4,5],[2,1000000000]]",
    "[[0,3],[1,4,5],[2,-1]]",
    "[[0,3],[1,4,5],[2.5]]",
    '[[0,3],[1,4,5],["2"]]',
    "[[0,3],[1,4,5],[]]",
    "[[0,3,1,4,5,2]]",
    "[[0],[3],[1],[4],[5],[2]]",
    "[]",
    "{}",
    '"all"',
    "[[0,3],[1,4,5],[[2]]]",
    "[[0,3],[1,4,5],[9007199254740993]]",
    `[[${Array.from({ length: 100000 }, (_, i) => i).join(",")}]]`,
  ];
  const lies = {
    num_classes: [
      "6",
      "5",
      "7",
      "500000000",
      "2147483648",
      "9007199254740993",
      "0",
      "-6",
      "6.5",
      '"6"',
      "1e308",
    ],
    groups: groupLies,
    kind: ['"flat"', '"group"', '"Flat"', "null", "1"],
    features: ['"x"', "1", "null", "[]"],
  };
  for (let i = 0; i < n; i++) {
    const which = rng.int(2) === 0 ? "flat" : "group";
    const h = heads[which];
    const hdir = `${dir}/head_${which}`;
    const consistent = rng.int(8) === 0;
    let kind: string;
    let text: string;
    let changedKey: string | undefined;
    let expect: Outcome | undefined;
    let weightFile = buildNpy(1, dictText("<f4", [String(h.O), String(HD)]), h.w);
    if (consistent) {
      // weight.npy's header agrees with head.json's 500,000,000 classes; its data does not.
      kind = "consistent_lie_classes";
      const big = 500000000;
      const O = which === "flat" ? big : big + GROUPS.length;
      weightFile = buildNpy(1, dictText("<f4", [String(O), String(HD)]), h.w);
      text = JSON.stringify({ ...h.info, num_classes: big });
      expect = "data_error";
    } else {
      ({ kind, text, changedKey } = mutateJson(rng, h.info, lies));
    }
    await Deno.writeFile(`${hdir}/weight.npy`, weightFile);
    await Deno.writeTextFile(`${hdir}/head.json`, text);
    const label = `head#${i} ${which} ${kind}`;
    let head: Awaited<ReturnType<typeof readHead>> | undefined;
    const attempts = await timed(label, async () => [
      await attempt(async () => (head = await readHead(hdir)), hdir),
    ]);
    if (
      changedKey === "num_classes" && (kind === "remove" || jsonTail(text, changedKey) !== C)
    ) {
      expect = "data_error";
    }
    record(`head:${kind}`, label, attempts, expect, () => {
      const got = head!;
      if (got.info.num_classes !== C) return `num_classes ${got.info.num_classes}`;
      const O = headOutputs(got.info);
      if (O !== h.O || got.weight.rows !== O || got.weight.cols !== HD) return `O = ${O}`;
      const wd = got.weight.data;
      if (!bytesEqual(new Uint8Array(wd.buffer, wd.byteOffset, wd.byteLength), h.w)) {
        return "weight values differ";
      }
      if (
        !bytesEqual(new Uint8Array(got.bias.buffer, got.bias.byteOffset, got.bias.byteLength), h.b)
      ) {
        return "bias values differ";
      }
      if (got.info.kind === "group") {
        const ids = got.info.groups.flat().sort((a, b) => a - b);
        if (ids.join() !== Array.from({ length: C }, (_, k) => k).join()) {
          return `groups ${JSON.stringify(got.info.groups)} do not partition 0..${C - 1}`;
        }
      }
      return null;
    });
  }
}

// ---------------------------------------------------------------------------------------------

await fuzzNpy(Number(npyArg));
await fuzzNpz(Number(npzArg));
await fuzzMeta(Number(metaArg));
await fuzzHead(Number(headArg));

const status = await Deno.readTextFile("/proc/self/status");
const hwm = Number(/VmHWM:\s*(\d+)\s*kB/.exec(status)?.[1] ?? NaN);
let ok = 0;
let dataError = 0;
for (const k of Object.values(byKind)) {
  ok += k.ok;
  dataError += k.data_error;
}
const report: FuzzReport = {
  seed: SEED,
  mutations: ok + dataError + failureCount,
  ok,
  dataError,
  byKind,
  failures,
  maxCaseMs: Math.round(maxCaseMs),
  slowestCase,
  msByFamily: Object.fromEntries(Object.entries(msByFamily).map(([k, v]) => [k, Math.round(v)])),
  vmHwmKiB: hwm,
};
console.log(JSON.stringify(report));
