/**
 * Tensors as `torch.save` records them: a storage (a flat run of elements of one dtype, stored
 * once however many tensors view it) and, per tensor, an element offset into it, a shape and
 * strides. {@linkcode tensorValues} copies a tensor's elements out of its storage bytes in
 * row-major order, checking the view against the storage first.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import { assertFitsInMemory } from "../memory_budget.ts";

/** Element types a checkpoint's tensors are read in. */
export type TorchDtype = "float32" | "float16" | "bfloat16" | "float64" | "int64";

/** A storage class a pickle names (`torch.FloatStorage`, ...). */
export interface TorchStorageType {
  /** Discriminant of the pickled-value kinds. */
  kind: "storage_type";
  /** Python name, e.g. `FloatStorage`. */
  name: string;
  /** The dtype, or null for one this reader does not convert (refused when a tensor is read). */
  dtype: TorchDtype | null;
  /** Bytes per element. */
  itemSize: number;
}

/** The storages PyTorch pickles by class name: name -> [dtype or null, item size]. */
export const STORAGE_TYPES: Readonly<Record<string, readonly [TorchDtype | null, number]>> = {
  FloatStorage: ["float32", 4],
  HalfStorage: ["float16", 2],
  BFloat16Storage: ["bfloat16", 2],
  DoubleStorage: ["float64", 8],
  LongStorage: ["int64", 8],
  IntStorage: [null, 4],
  ShortStorage: [null, 2],
  CharStorage: [null, 1],
  ByteStorage: [null, 1],
  BoolStorage: [null, 1],
  UntypedStorage: [null, 1],
};

/** One storage's bytes and where they sit. */
export interface TorchStorage {
  /** Discriminant of the pickled-value kinds. */
  kind: "storage";
  /** The storage's key in the file (zip member `data/<key>`, or the legacy key). */
  key: string;
  /** Storage class, which gives the dtype and item size. */
  type: TorchStorageType;
  /** Elements in the storage. */
  numel: number;
  /** Bytes of the storage (exactly `numel * itemSize`, checked by the format readers). */
  bytes: Uint8Array;
  /** Whether the bytes are little-endian (torch records the writer's byte order). */
  littleEndian: boolean;
}

/** A tensor view: `_rebuild_tensor_v2(storage, offset, size, stride, ...)`. */
export interface TorchTensor {
  /** Discriminant of the pickled-value kinds. */
  kind: "tensor";
  /** The storage the tensor views. */
  storage: TorchStorage;
  /** Element offset of the tensor's first element in the storage. */
  offset: number;
  /** Size of each dimension. */
  shape: number[];
  /** Elements to step in the storage per index of each dimension. */
  stride: number[];
}

/** Whether `v` is a tensor read from a checkpoint. */
export function isTensor(v: unknown): v is TorchTensor {
  return typeof v === "object" && v !== null && (v as { kind?: unknown }).kind === "tensor";
}

/** Elements of a shape (1 for a scalar's empty shape). */
export function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function natural(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Builds a tensor view, refusing one that reaches past its storage (a corrupt or hostile file):
 * every index `offset + sum_i j_i stride_i` with `0 <= j_i < shape_i` must lie inside it.
 */
export function makeTensor(
  storage: TorchStorage,
  offset: unknown,
  shape: unknown,
  stride: unknown,
  file: string,
): TorchTensor {
  const bad = (why: string): never => {
    throw new DataError(`${file}: a tensor in storage ${storage.key} ${why}; the file is corrupt`);
  };
  if (!natural(offset)) bad(`has offset ${String(offset)}`);
  if (!Array.isArray(shape) || !shape.every(natural) || shape.length > 16) {
    bad(`has shape ${JSON.stringify(shape)}`);
  }
  const dims = shape as number[];
  if (!Array.isArray(stride) || stride.length !== dims.length || !stride.every(natural)) {
    bad(`has strides ${JSON.stringify(stride)} for shape (${dims.join(", ")})`);
  }
  const strides = stride as number[];
  if (!Number.isSafeInteger(numelOf(dims))) bad(`has shape (${dims.join(", ")})`);
  if (numelOf(dims) > 0) {
    let last = offset as number;
    for (let i = 0; i < dims.length; i++) last += (dims[i] - 1) * strides[i];
    if (!(last < storage.numel)) {
      bad(
        `(shape (${dims.join(", ")}), strides (${strides.join(", ")}), offset ${offset}) ` +
          `reaches element ${last} of a ${storage.numel}-element storage`,
      );
    }
  }
  return { kind: "tensor", storage, offset: offset as number, shape: dims, stride: strides };
}

/** Values of a tensor: float dtypes as float32 or float64, int64 as bigints. */
export type TensorValues = Float32Array | Float64Array | BigInt64Array;

const BITS = new Uint32Array(1);
const BITS_AS_F32 = new Float32Array(BITS.buffer);

/** bfloat16 bits -> number: bfloat16 is the top half of a float32. */
function bf16(bits: number): number {
  BITS[0] = bits << 16;
  return BITS_AS_F32[0];
}

/** IEEE half bits -> number (subnormals, infinities and NaN included; all exact). */
function f16(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * Copies `t`'s elements out in row-major order (the tensor's own strides and offset followed):
 * float32, float16 and bfloat16 as a Float32Array (exact: every half and bfloat16 value is a
 * float32), float64 as a Float64Array, int64 as a BigInt64Array. Other dtypes are refused.
 */
export function tensorValues(t: TorchTensor, file: string, key = "a tensor"): TensorValues {
  const { storage } = t;
  const dtype = storage.type.dtype;
  if (dtype === null) {
    throw new DataError(
      `${file}: ${key} is stored as torch.${storage.type.name}; only float32, float16, bfloat16, ` +
        "float64 and int64 tensors are read (convert it with .float() before torch.save)",
    );
  }
  const n = numelOf(t.shape);
  // A view may repeat elements (stride 0), so its size is bounded by memory, not by the file.
  assertFitsInMemory(
    n * (dtype === "float64" || dtype === "int64" ? 8 : 4),
    `${file}: ${key} (shape ${t.shape.join(" x ")})`,
    "free memory or use a machine with more",
  );
  const out = dtype === "float64"
    ? new Float64Array(n)
    : dtype === "int64"
    ? new BigInt64Array(n)
    : new Float32Array(n);
  const size = storage.type.itemSize;
  const view = new DataView(storage.bytes.buffer, storage.bytes.byteOffset, storage.bytes.length);
  const le = storage.littleEndian;
  const read: (byte: number) => number | bigint = dtype === "float32"
    ? (b) => view.getFloat32(b, le)
    : dtype === "float16"
    ? (b) => f16(view.getUint16(b, le))
    : dtype === "bfloat16"
    ? (b) => bf16(view.getUint16(b, le))
    : dtype === "float64"
    ? (b) => view.getFloat64(b, le)
    : (b) => view.getBigInt64(b, le);
  const rank = t.shape.length;
  const idx = new Array<number>(rank).fill(0);
  let src = t.offset;
  for (let i = 0; i < n; i++) {
    (out as { [k: number]: number | bigint })[i] = read(src * size);
    // Odometer over the multi-index, last dimension fastest.
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      src += t.stride[d];
      if (idx[d] < t.shape[d]) break;
      src -= idx[d] * t.stride[d];
      idx[d] = 0;
    }
  }
  return out;
}

/** A float tensor's values as float32 (float64 rounded); int64 tensors are refused. */
export function tensorFloat32(t: TorchTensor, file: string, key = "a tensor"): Float32Array {
  const v = tensorValues(t, file, key);
  if (v instanceof Float32Array) return v;
  if (v instanceof Float64Array) return Float32Array.from(v);
  throw new DataError(`${file}: ${key} holds int64 values where float weights are expected`);
}
