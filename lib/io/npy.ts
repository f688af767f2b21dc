/**
 * NumPy `.npy` files (format v1.0 and v2.0 written, v3.0 headers also read), little-endian,
 * C order, dtypes `<f4`, `<f2`, `<i4`, `<i8`. Anything else is rejected with a `DataError` that
 * names the file and says how to convert it.
 *
 * One reading rule for every reader (whole files, row streams, shard concatenation, `.npz`
 * members): the data starts at the header's data offset, and the file is exactly header + data,
 * so a file with missing or trailing bytes is one `DataError` naming it. The header is read and
 * checked against the file's size before any buffer sized by it is allocated.
 *
 * Reads go into one buffer sized from `stat` and the typed array is a view of it (NumPy aligns the
 * data to 64 bytes), so a 10 GB feature file costs 10 GB of memory, not 20. {@linkcode openNpy}
 * streams rows for files too large to hold at once.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import { assertFitsInMemory } from "../memory_budget.ts";
import { writeFileAtomic } from "./atomic.ts";
import { oneLine, quoteValue } from "../quote.ts";

/** The element types the toolkit reads and writes. */
export type NpyDtype = "<f4" | "<f2" | "<i4" | "<i8";

/** Typed-array storage for each dtype; `<f2` is kept as raw IEEE half bits. */
export type NpyData = Float32Array | Uint16Array | Int32Array | BigInt64Array;

/** An array read from or written to `.npy`. `data.length` is the product of `shape`. */
export interface NpyArray {
  /** Element type, as NumPy's little-endian `descr`. */
  dtype: NpyDtype;
  /** Dimensions, C order (row-major). */
  shape: number[];
  /** Elements in C order; `<f2` as raw half-float bits. */
  data: NpyData;
}

/** The parsed header of a `.npy` file. */
export interface NpyHeader {
  /** Element type, as NumPy's little-endian `descr`. */
  dtype: NpyDtype;
  /** Dimensions, C order (row-major). */
  shape: number[];
  /** Byte offset of the first element. */
  dataOffset: number;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
const ITEM_SIZE: Record<NpyDtype, number> = { "<f4": 4, "<f2": 2, "<i4": 4, "<i8": 8 };
const ALIGN = 64;
/**
 * Longest header accepted (bytes after the length field). NumPy itself refuses headers over
 * 10,000 bytes by default; 1 MiB leaves room for any real shape while a corrupt length field
 * never sizes a large read.
 */
export const MAX_HEADER_BYTES = 1 << 20;
/** Deepest nesting of the header literal: NumPy writes depth 2 (a dict holding a tuple). */
const MAX_HEADER_DEPTH = 32;
/** Bytes per read/write call: bounds any transient copy the runtime makes for async I/O. */
const IO_CHUNK = 64 << 20;

/** Bytes per element of `dtype`. */
export function itemSize(dtype: NpyDtype): number {
  return ITEM_SIZE[dtype];
}

/** Number of elements for `shape` (1 for a 0-d array). */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

// ---------------------------------------------------------------------------------------------
// Header parsing: the header is a Python dict literal; a small recursive-descent parser reads the
// subset NumPy writes (dict, tuple, list, str, int, True/False/None).

type PyValue = string | number | boolean | null | PyValue[] | { [k: string]: PyValue };

function parsePyLiteral(text: string): PyValue {
  let i = 0;
  let depth = 0;
  const ws = () => {
    while (i < text.length && " \t\r\n".includes(text[i])) i++;
  };
  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at character ${i}`);
  };
  const value = (): PyValue => {
    ws();
    const c = text[i];
    if (c === "{" || c === "(" || c === "[") {
      // A corrupt header could nest deep enough to overflow the stack.
      if (++depth > MAX_HEADER_DEPTH) fail(`nesting deeper than ${MAX_HEADER_DEPTH}`);
      const v = container(c);
      depth--;
      return v;
    }
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) fail("unterminated string");
      const s = text.slice(i + 1, end);
      i = end + 1;
      return s;
    }
    const m = /^(-?\d+)L?|^(True|False|None)/.exec(text.slice(i, i + 32));
    if (!m) return fail("unexpected token");
    i += m[0].length;
    if (m[1] !== undefined) return Number(m[1]);
    return m[2] === "True" ? true : m[2] === "False" ? false : null;
  };
  const container = (c: string): PyValue => {
    if (c === "{") {
      i++;
      // No prototype: a '__proto__' key is an ordinary key, never an inherited 'descr'.
      const obj: { [k: string]: PyValue } = Object.create(null);
      for (;;) {
        ws();
        if (text[i] === "}") {
          i++;
          return obj;
        }
        const key = value();
        if (typeof key !== "string") fail("dict key is not a string");
        ws();
        if (text[i] !== ":") fail("expected ':'");
        i++;
        obj[key as string] = value();
        ws();
        if (text[i] === ",") i++;
        else if (text[i] !== "}") fail("expected ',' or '}'");
      }
    }
    const close = c === "(" ? ")" : "]";
    i++;
    const items: PyValue[] = [];
    for (;;) {
      ws();
      if (text[i] === close) {
        i++;
        return items;
      }
      items.push(value());
      ws();
      if (text[i] === ",") i++;
      else if (text[i] !== close) fail(`expected ',' or '${close}'`);
    }
  };
  const v = value();
  ws();
  if (i !== text.length) fail("trailing characters");
  return v;
}

/** A header string for a message: one line, at most 40 characters. */
function shortText(s: string): string {
  return oneLine(s, 40);
}

function checkDescr(descr: PyValue, name: string): NpyDtype {
  if (typeof descr !== "string") {
    throw new DataError(
      `${name}: structured dtype ${quoteValue(descr)} is not supported; save a plain ` +
        `float32 / int32 array`,
    );
  }
  if (descr === "<f4" || descr === "<f2" || descr === "<i4" || descr === "<i8") return descr;
  if (descr === "<f8") {
    throw new DataError(
      `${name}: dtype '<f8' (float64) is not supported; convert with ` +
        "`np.save(path, a.astype(np.float32))`",
    );
  }
  if (descr.startsWith(">")) {
    throw new DataError(
      `${name}: big-endian dtype '${shortText(descr)}' is not supported; convert with ` +
        "`np.save(path, a.astype(a.dtype.newbyteorder('<')))`",
    );
  }
  if (descr.endsWith("O")) {
    throw new DataError(
      `${name}: object dtype '${shortText(descr)}' (pickled Python objects) is not supported; ` +
        "save a numeric array, e.g. `np.save(path, np.asarray(a, dtype=np.float32))`",
    );
  }
  throw new DataError(
    `${name}: dtype '${shortText(descr)}' is not supported (use '<f4', '<f2', '<i4' or '<i8'); ` +
      "convert with `np.save(path, a.astype(np.float32))` or `a.astype(np.int32)`",
  );
}

/**
 * Total header bytes (magic, version, length field and header text) that `bytes`' length field
 * declares, or undefined when `bytes` is too short or not a supported `.npy` prefix. Lets a
 * reader fetch exactly the header before parsing it.
 */
function headerExtent(bytes: Uint8Array): number | undefined {
  if (bytes.length < 12 || MAGIC.some((b, i) => bytes[i] !== b)) return undefined;
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major === 1) return 10 + view.getUint16(8, true);
  if (major === 2 || major === 3) return 12 + view.getUint32(8, true);
  return undefined;
}

/**
 * Parses the header of `.npy` bytes (only the header need be present). `name` is the file name
 * used in error messages; `fileSize` (default `bytes.length`) is the whole file's size when
 * `bytes` holds only its start. The data's size is not checked here: see
 * {@linkcode checkNpySize}.
 */
export function parseNpyHeader(
  bytes: Uint8Array,
  name: string,
  fileSize: number = bytes.length,
): NpyHeader {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new DataError(`${name} is not a .npy file (bad magic bytes); save it with np.save`);
  }
  const major = bytes[6];
  if (major < 1 || major > 3) {
    throw new DataError(
      `${name}: .npy format version ${major}.${bytes[7]} is not supported; rewrite the file ` +
        "with np.save",
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const start = major === 1 ? 10 : 12;
  if (bytes.length < start) {
    throw new DataError(`${name}: .npy header is truncated; rewrite the file with np.save`);
  }
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (headerLen > MAX_HEADER_BYTES) {
    throw new DataError(
      `${name}: .npy header length ${headerLen} is over ${MAX_HEADER_BYTES} bytes, far more ` +
        "than any array's header; the file is corrupt, rewrite it with np.save",
    );
  }
  if (start + headerLen > Math.min(bytes.length, fileSize)) {
    throw new DataError(
      `${name}: .npy header length ${headerLen} runs past the end of the file ` +
        `(${fileSize} bytes); the file is truncated or corrupt, rewrite it with np.save`,
    );
  }
  // v1/v2 headers are latin1, v3 utf-8; the keys and values we accept are ASCII either way.
  const text = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(
    bytes.subarray(start, start + headerLen),
  );
  let dict: PyValue;
  try {
    dict = parsePyLiteral(text);
  } catch (err) {
    throw new DataError(
      `${name}: malformed .npy header ${quoteValue(text.trim())} ` +
        `(${(err as Error).message}); rewrite the file with np.save`,
    );
  }
  if (dict === null || typeof dict !== "object" || Array.isArray(dict)) {
    throw new DataError(`${name}: .npy header is not a dict; rewrite the file with np.save`);
  }
  for (const key of ["descr", "fortran_order", "shape"]) {
    if (!Object.hasOwn(dict, key)) {
      throw new DataError(
        `${name}: .npy header has no '${key}' key; rewrite the file with np.save`,
      );
    }
  }
  const dtype = checkDescr(dict.descr, name);
  if (dict.fortran_order !== false) {
    throw new DataError(
      `${name}: Fortran-order arrays are not supported; save with ` +
        "`np.save(path, np.ascontiguousarray(a))`",
    );
  }
  const shape = dict.shape;
  if (
    !Array.isArray(shape) ||
    !shape.every((d) => typeof d === "number" && Number.isSafeInteger(d) && d >= 0) ||
    !Number.isSafeInteger(shapeSize(shape as number[]) * ITEM_SIZE[dtype])
  ) {
    throw new DataError(
      `${name}: .npy header has an invalid shape ${quoteValue(shape)}; rewrite the file with ` +
        "np.save",
    );
  }
  return { dtype, shape: shape as number[], dataOffset: start + headerLen };
}

/** Bytes of data the header declares: the product of the shape times the item size. */
export function npyDataBytes(header: Pick<NpyHeader, "dtype" | "shape">): number {
  return shapeSize(header.shape) * ITEM_SIZE[header.dtype];
}

/**
 * The size rule every reader applies: a `.npy` file of `fileSize` bytes must be exactly the
 * header (`dataOffset` bytes) plus the data its shape and dtype declare. Missing bytes (a
 * truncated copy) and trailing bytes (an appended or overwritten file, which a reader taking the
 * last N bytes would read shifted) are each one `DataError` naming the file.
 */
export function checkNpySize(header: NpyHeader, fileSize: number, name: string): void {
  const need = npyDataBytes(header);
  const have = fileSize - header.dataOffset;
  if (have === need) return;
  const declared = `shape (${header.shape.join(", ")}) ${header.dtype} needs ${need} data bytes ` +
    `after its ${header.dataOffset}-byte header`;
  if (have < need) {
    throw new DataError(
      `${name} is truncated: ${declared} but the file has ${have}; rewrite it (or copy it again)`,
    );
  }
  throw new DataError(
    `${name} has ${have - need} bytes after its data: ${declared} but the file has ${have}; ` +
      "the file is corrupt or was appended to, rewrite it with np.save",
  );
}

/** A typed array of `count` elements over `bytes` from `offset`; a view when aligned. */
function typedView(bytes: Uint8Array, offset: number, dtype: NpyDtype, count: number): NpyData {
  const size = ITEM_SIZE[dtype];
  let src = bytes.subarray(offset, offset + count * size);
  if ((src.byteOffset % size) !== 0) src = src.slice(); // old NumPy aligned to 16 only
  const Ctor = dtype === "<f4"
    ? Float32Array
    : dtype === "<f2"
    ? Uint16Array
    : dtype === "<i4"
    ? Int32Array
    : BigInt64Array;
  return new Ctor(src.buffer as ArrayBuffer, src.byteOffset, count);
}

/**
 * Parses a whole `.npy` file held in `bytes`, which must be exactly header + data
 * ({@linkcode checkNpySize}). The returned data is a view of `bytes` (no copy) when the data
 * offset is aligned, as NumPy writes it.
 */
export function parseNpy(bytes: Uint8Array, name: string): NpyArray {
  const header = parseNpyHeader(bytes, name);
  checkNpySize(header, bytes.length, name);
  const { dtype, shape, dataOffset } = header;
  return { dtype, shape, data: typedView(bytes, dataOffset, dtype, shapeSize(shape)) };
}

/** The dtype of a typed array; `Uint16Array` means half-float bits. */
function dtypeOf(data: NpyData): NpyDtype {
  if (data instanceof Float32Array) return "<f4";
  if (data instanceof Uint16Array) return "<f2";
  if (data instanceof Int32Array) return "<i4";
  if (data instanceof BigInt64Array) return "<i8";
  throw new TypeError(`NpyArray data must be Float32/Uint16/Int32/BigInt64Array`);
}

/** The v1.0 (or v2.0 when too long) header bytes for `dtype` and `shape`, 64-byte aligned. */
export function encodeNpyHeader(dtype: NpyDtype, shape: readonly number[]): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  // NumPy >= 1.23 leaves room for the first axis to grow to 21 digits, then (_wrap_header) pads
  // with spaces so magic + version + length + dict + '\n' is a multiple of 64; matching both
  // makes our files byte-identical to np.save's.
  const growth = shape.length > 0 ? Math.max(0, 21 - String(shape[0]).length) : 0;
  const dict = `{'descr': '${dtype}', 'fortran_order': False, 'shape': ${shapeText}, }` +
    " ".repeat(growth);
  let major = 1;
  let prefix = 10;
  let pad = ALIGN - ((prefix + dict.length + 1) % ALIGN);
  if (dict.length + 1 + pad > 0xffff) {
    major = 2;
    prefix = 12;
    pad = ALIGN - ((prefix + dict.length + 1) % ALIGN);
  }
  const headerLen = dict.length + pad + 1;
  const out = new Uint8Array(prefix + headerLen);
  out.set(MAGIC);
  out[6] = major;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, headerLen, true);
  else view.setUint32(8, headerLen, true);
  for (let i = 0; i < dict.length; i++) out[prefix + i] = dict.charCodeAt(i);
  out.fill(0x20, prefix + dict.length, out.length - 1);
  out[out.length - 1] = 0x0a;
  return out;
}

function checkArray(arr: NpyArray): void {
  if (dtypeOf(arr.data) !== arr.dtype) {
    throw new TypeError(
      `NpyArray dtype ${arr.dtype} does not match its ${arr.data.constructor.name}`,
    );
  }
  if (shapeSize(arr.shape) !== arr.data.length) {
    throw new RangeError(
      `NpyArray shape (${arr.shape.join(", ")}) does not match ${arr.data.length} elements`,
    );
  }
}

function dataBytes(data: NpyData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Encodes `arr` as `.npy` bytes (one new buffer: header + a copy of the data). */
export function encodeNpy(arr: NpyArray): Uint8Array {
  checkArray(arr);
  const header = encodeNpyHeader(arr.dtype, arr.shape);
  const out = new Uint8Array(header.length + arr.data.byteLength);
  out.set(header);
  out.set(dataBytes(arr.data), header.length);
  return out;
}

/** Reads into `buf` from the file's current position until it is full or the file ends. */
async function readFully(file: Deno.FsFile, buf: Uint8Array): Promise<number> {
  let off = 0;
  while (off < buf.length) {
    const n = await file.read(buf.subarray(off, Math.min(buf.length, off + IO_CHUNK)));
    if (n === null) break;
    off += n;
  }
  return off;
}

async function openOrExplain(path: string): Promise<Deno.FsFile> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new DataError(`${path} not found`);
    if (err instanceof Deno.errors.PermissionDenied) {
      throw new DataError(`${path} cannot be read (permission denied); make it readable`);
    }
    if (err instanceof Deno.errors.IsADirectory) {
      throw new DataError(`${path} is a directory, not a .npy file; name the file inside it`);
    }
    throw err;
  }
  // Opening a directory succeeds on Linux; reading it fails with a bare OS error.
  if (!(await file.stat()).isFile) {
    file.close();
    throw new DataError(`${path} is not a regular file; name a .npy file`);
  }
  return file;
}

/**
 * Reads and parses the header of the open `file` of `size` bytes: a first read of at most
 * 64 KiB, then (v2/v3 headers longer than that) exactly the declared header, which
 * {@linkcode MAX_HEADER_BYTES} and the file's size bound.
 */
async function readHeader(file: Deno.FsFile, size: number, path: string): Promise<NpyHeader> {
  const first = new Uint8Array(Math.min(size, 1 << 16));
  const got = await readFully(file, first);
  let bytes = first.subarray(0, got);
  const extent = headerExtent(bytes);
  if (extent !== undefined && extent > got && extent <= size && extent <= MAX_HEADER_BYTES + 12) {
    bytes = new Uint8Array(extent);
    await file.seek(0, Deno.SeekMode.Start);
    bytes = bytes.subarray(0, await readFully(file, bytes));
  }
  return parseNpyHeader(bytes, path, size);
}

/** The header of a `.npy` file and its size, both checked ({@linkcode checkNpySize}). */
export interface NpyFileInfo extends NpyHeader {
  /** The file's size in bytes: `dataOffset` + the data bytes. */
  fileSize: number;
}

/**
 * Reads only the header of the `.npy` file at `path` and checks the file's size against it, so a
 * caller can compare shapes with other metadata before anything sized by them is read.
 */
export async function readNpyHeader(path: string): Promise<NpyFileInfo> {
  const file = await openOrExplain(path);
  try {
    const size = (await file.stat()).size;
    const header = await readHeader(file, size, path);
    checkNpySize(header, size, path);
    return { ...header, fileSize: size };
  } finally {
    file.close();
  }
}

/**
 * Reads a `.npy` file; the data is a view of the single read buffer. The header is read and the
 * file's size checked against it (and against the memory available) before the buffer is
 * allocated, so a lying header never sizes an allocation.
 */
export async function readNpy(path: string): Promise<NpyArray> {
  const file = await openOrExplain(path);
  try {
    const size = (await file.stat()).size;
    const header = await readHeader(file, size, path);
    checkNpySize(header, size, path);
    assertFitsInMemory(
      size,
      `Reading ${path} (shape (${header.shape.join(", ")}) ${header.dtype})`,
      "free memory or use a machine with more",
    );
    // One buffer for header and data (Deno.readFile is ~3x slower here); the data is a view.
    const buf = new Uint8Array(size);
    await file.seek(0, Deno.SeekMode.Start);
    const got = await readFully(file, buf);
    if (got !== size) {
      throw new DataError(`${path} changed while it was read (${got} of ${size} bytes); retry`);
    }
    return parseNpy(buf, path);
  } finally {
    file.close();
  }
}

/** Atomically writes `arr` to `path` as `.npy` without concatenating header and data. */
export async function writeNpy(path: string, arr: NpyArray): Promise<void> {
  checkArray(arr);
  await writeFileAtomic(path, [encodeNpyHeader(arr.dtype, arr.shape), dataBytes(arr.data)]);
}

// ---------------------------------------------------------------------------------------------
// Half floats.

let halfTable: Uint32Array | undefined;

/** float32 bit patterns of all 65536 half values, built once (256 KiB). */
function halfToFloatBits(): Uint32Array {
  if (halfTable) return halfTable;
  const t = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0x1f) {
      t[h] = sign | 0x7f800000 | (mant << 13); // inf / NaN (payload kept)
    } else if (exp !== 0) {
      t[h] = sign | ((exp + 112) << 23) | (mant << 13);
    } else if (mant === 0) {
      t[h] = sign;
    } else {
      // Subnormal half: normalise the mantissa into float32's implicit-one form.
      let e = 113;
      let m = mant;
      while ((m & 0x400) === 0) {
        m <<= 1;
        e--;
      }
      t[h] = sign | (e << 23) | ((m & 0x3ff) << 13);
    }
  }
  halfTable = t;
  return t;
}

/** Converts half-float bits to float32 into `out` (exact: every half is a float32). */
export function float16BitsToFloat32(bits: Uint16Array, out?: Float32Array): Float32Array {
  const res = out ?? new Float32Array(bits.length);
  if (res.length < bits.length) throw new RangeError("float16BitsToFloat32: out is too short");
  const table = halfToFloatBits();
  const outBits = new Uint32Array(res.buffer, res.byteOffset, bits.length);
  for (let i = 0; i < bits.length; i++) outBits[i] = table[bits[i]];
  return res;
}

/**
 * Rounds float32 values to half-float bits, round-to-nearest-even; overflow gives +-inf, NaN
 * stays NaN with its sign and the top bits of its payload (quiet bit set).
 *
 * The rounding is the engine's `Float16Array`, bit-identical to the bit loop of
 * {@linkcode float32ToFloat16BitsReference} on every non-NaN value; the engine canonicalises NaN,
 * so NaN outputs are redone by the reference rule in a second, cheap pass. bench/float16.ts
 * (10M values): native ~1.7x faster than the loop, this function with its NaN pass ~1.5x.
 * Decoding stays table-based ({@linkcode float16BitsToFloat32}): the native one measured 2-5x
 * slower.
 */
export function float32ToFloat16Bits(f32: Float32Array): Uint16Array {
  const half = new Float16Array(f32.length);
  half.set(f32);
  const out = new Uint16Array(half.buffer);
  const src = new Uint32Array(f32.buffer, f32.byteOffset, f32.length);
  for (let i = 0; i < out.length; i++) {
    if ((out[i] & 0x7c00) === 0x7c00 && (out[i] & 0x3ff) !== 0) out[i] = halfNan(src[i]);
  }
  return out;
}

/** The half NaN of float32 NaN bits `f`: sign, quiet bit, top 9 payload bits. */
function halfNan(f: number): number {
  return ((f >>> 16) & 0x8000) | 0x7e00 | ((f & 0x7fffff) >>> 13);
}

/**
 * {@linkcode float32ToFloat16Bits} as a plain bit loop (no `Float16Array`): the reference the
 * tests and bench/float16.ts compare the native path with.
 */
export function float32ToFloat16BitsReference(f32: Float32Array): Uint16Array {
  const src = new Uint32Array(f32.buffer, f32.byteOffset, f32.length);
  const out = new Uint16Array(f32.length);
  for (let i = 0; i < src.length; i++) {
    const f = src[i];
    const sign = (f >>> 16) & 0x8000;
    const exp = (f >>> 23) & 0xff;
    const mant = f & 0x7fffff;
    if (exp === 0xff) {
      out[i] = mant !== 0 ? halfNan(f) : sign | 0x7c00;
      continue;
    }
    const e = exp - 112; // rebias 127 -> 15
    if (e >= 31) {
      out[i] = sign | 0x7c00;
    } else if (e > 0) {
      let h = (e << 10) | (mant >>> 13);
      const rem = mant & 0x1fff;
      if (rem > 0x1000 || (rem === 0x1000 && (h & 1) !== 0)) h++; // carry may reach inf: right
      out[i] = sign | h;
    } else if (e < -10) {
      out[i] = sign; // below half the smallest subnormal: rounds to zero
    } else {
      const m = mant | 0x800000;
      const shift = 14 - e;
      let h = m >>> shift;
      const rem = m & ((1 << shift) - 1);
      const half = 1 << (shift - 1);
      if (rem > half || (rem === half && (h & 1) !== 0)) h++;
      out[i] = sign | h;
    }
  }
  return out;
}

/**
 * The array's values as float32: `<f4` data is returned as is (no copy); `<f2` is converted
 * exactly; integers are converted with float32 rounding.
 */
export function toFloat32(arr: NpyArray): Float32Array {
  const d = arr.data;
  if (d instanceof Float32Array) return d;
  if (d instanceof Uint16Array) return float16BitsToFloat32(d);
  const out = new Float32Array(d.length);
  if (d instanceof Int32Array) out.set(d);
  else for (let i = 0; i < d.length; i++) out[i] = Number(d[i]);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Streaming rows.

/** An open `.npy` file read a block of rows at a time. */
export interface NpyReader {
  /** The file read. */
  path: string;
  /** Element type of the file. */
  dtype: NpyDtype;
  /** Dimensions from the header. */
  shape: number[];
  /** `shape[0]` (1 for a 0-d array). */
  rows: number;
  /** Elements per row: the product of `shape[1:]`. */
  cols: number;
  /** Byte offset of the first element (the header's end); row r starts `r * cols` items later. */
  dataOffset: number;
  /** The file's size in bytes at open: exactly `dataOffset` + the data bytes. */
  fileSize: number;
  /** Reads rows `[start, start + count)` into `out` as float32 (`<f2` converted exactly). */
  readRows(start: number, count: number, out: Float32Array): Promise<void>;
  /** Synchronous {@linkcode NpyReader.readRows}. */
  readRowsSync(start: number, count: number, out: Float32Array): void;
  /** Closes the file (a second call does nothing); reads after it fail. */
  close(): void;
}

/**
 * Opens a `.npy` file for row streaming with bounded memory: only the header is read up front
 * (and the file's size checked against it, {@linkcode checkNpySize}), and each `readRows` call
 * reads just the requested rows from the header's data offset (a scratch buffer of that size is
 * kept for `<f2` and integer files).
 *
 * @example
 * ```ts
 * const r = await openNpy("features.npy");
 * const block = new Float32Array(4096 * r.cols);
 * for (let s = 0; s < r.rows; s += 4096) {
 *   const n = Math.min(4096, r.rows - s);
 *   await r.readRows(s, n, block);
 * }
 * r.close();
 * ```
 */
export async function openNpy(path: string): Promise<NpyReader> {
  const file = await openOrExplain(path);
  try {
    const size = (await file.stat()).size;
    const header = await readHeader(file, size, path);
    checkNpySize(header, size, path);
    return makeReader(path, file, size, header);
  } catch (err) {
    file.close();
    throw err;
  }
}

function makeReader(path: string, file: Deno.FsFile, size: number, h: NpyHeader): NpyReader {
  const { dtype, shape, dataOffset } = h;
  const rows = shape.length === 0 ? 1 : shape[0];
  const cols = shape.length === 0 ? 1 : shapeSize(shape.slice(1));
  const item = ITEM_SIZE[dtype];
  let scratch = new Uint8Array(0);

  const plan = (start: number, count: number, out: Float32Array) => {
    if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0) {
      throw new RangeError(`readRows: bad range start ${start}, count ${count}`);
    }
    if (start + count > rows) {
      throw new RangeError(`readRows: rows [${start}, ${start + count}) past ${rows} in ${path}`);
    }
    const n = count * cols;
    if (out.length < n) throw new RangeError(`readRows: out holds ${out.length} < ${n} values`);
    let target: Uint8Array;
    if (dtype === "<f4") {
      target = new Uint8Array(out.buffer, out.byteOffset, n * 4);
    } else {
      if (scratch.length < n * item) scratch = new Uint8Array(n * item);
      target = scratch.subarray(0, n * item);
    }
    return { pos: dataOffset + start * cols * item, target, n };
  };
  const finish = (target: Uint8Array, n: number, out: Float32Array) => {
    if (dtype === "<f4") return;
    const arr = typedView(target, 0, dtype, n);
    if (arr instanceof Uint16Array) float16BitsToFloat32(arr, out);
    else if (arr instanceof Int32Array) out.set(arr);
    else for (let i = 0; i < n; i++) out[i] = Number(arr[i]);
  };
  const short = () =>
    new DataError(`${path} ended early while reading rows; the file changed, rerun`);

  return {
    path,
    dtype,
    shape,
    rows,
    cols,
    dataOffset,
    fileSize: size,
    async readRows(start, count, out) {
      const { pos, target, n } = plan(start, count, out);
      await file.seek(pos, Deno.SeekMode.Start);
      let off = 0;
      while (off < target.length) {
        const r = await file.read(target.subarray(off, Math.min(target.length, off + IO_CHUNK)));
        if (r === null) throw short();
        off += r;
      }
      finish(target, n, out);
    },
    readRowsSync(start, count, out) {
      const { pos, target, n } = plan(start, count, out);
      file.seekSync(pos, Deno.SeekMode.Start);
      let off = 0;
      while (off < target.length) {
        const r = file.readSync(target.subarray(off, Math.min(target.length, off + IO_CHUNK)));
        if (r === null) throw short();
        off += r;
      }
      finish(target, n, out);
    },
    close() {
      try {
        file.close();
      } catch { /* already closed */ }
    },
  };
}
