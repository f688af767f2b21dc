/**
 * `torch.save` files read without Python, in both of its formats:
 *
 * - zip (PyTorch >= 1.6, the default): `<name>/data.pkl` holds the pickled object, whose tensors
 *   refer by persistent id `("storage", type, key, location, numel)` to the raw members
 *   `<name>/data/<key>`; `<name>/byteorder` ("little" / "big") when present.
 * - legacy (`_use_new_zipfile_serialization=False`, and every file before 1.6): five pickles in a
 *   row (magic number, protocol version 1001, sys info with the byte order, the object with
 *   persistent ids `("storage", type, key, location, numel, view)`, the sorted storage keys),
 *   then per key an int64 element count and the storage's raw bytes.
 *
 * The pickles are read by the strict reader of unpickle.ts with the globals a state dict needs;
 * anything else is refused by name. Every size (zip members, element counts, tensor views) is
 * checked against the file before it is used.
 *
 * @module
 */
import { type UnzipFileInfo, unzipSync } from "npm:fflate@0.8.3";
import { DataError } from "../errors.ts";
import { quoteValue } from "../quote.ts";
import { assertFitsInMemory } from "../memory_budget.ts";
import { type PickleCallable, unpickle } from "./unpickle.ts";
import { makeTensor, STORAGE_TYPES, type TorchStorage, type TorchStorageType } from "./tensor.ts";

/** Which of torch.save's formats a file is in. */
export type TorchFormat = "zip" | "legacy";

/** A read checkpoint: the pickled object with tensors as `TorchTensor` views (tensor.ts). */
export interface TorchCheckpoint {
  /** The torch.save format the file was in: a zip archive (torch >= 1.6) or legacy pickles. */
  format: TorchFormat;
  /** Python values as unpickle.ts maps them (dicts are Maps). */
  value: unknown;
}

/** The legacy format's first pickle: torch.serialization's MAGIC_NUMBER. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

/** A storage the pickle refers to, before its bytes are attached. */
interface StorageStub {
  type: TorchStorageType;
  numel: number;
}

/**
 * The allowlisted globals: OrderedDict, the tensor and parameter rebuilders, the storage classes.
 * `storage` turns a persistent id's result into a storage; tensors are checked against it.
 */
function stateDictGlobals(file: string): Map<string, unknown> {
  const g = new Map<string, unknown>();
  const orderedDict: PickleCallable = (args) => {
    if (args.length > 0) throw new DataError(`${file}: OrderedDict called with arguments`);
    return new Map();
  };
  g.set("collections.OrderedDict", orderedDict);
  const rebuildTensor: PickleCallable = (args) => {
    const [storage, offset, size, stride] = args;
    if (typeof storage !== "object" || storage === null || !("bytes" in storage)) {
      throw new DataError(`${file}: a tensor is rebuilt from something that is not a storage`);
    }
    return makeTensor(storage as TorchStorage, offset, size, stride, file);
  };
  g.set("torch._utils._rebuild_tensor_v2", rebuildTensor);
  g.set("torch._utils._rebuild_tensor", rebuildTensor);
  // nn.Parameter(data, requires_grad, hooks): the data is all a reader needs.
  g.set("torch._utils._rebuild_parameter", (args: unknown[]) => args[0]);
  g.set("torch._utils._rebuild_parameter_with_state", (args: unknown[]) => args[0]);
  for (const [name, [dtype, itemSize]] of Object.entries(STORAGE_TYPES)) {
    const type: TorchStorageType = { kind: "storage_type", name, dtype, itemSize };
    g.set(`torch.${name}`, type);
    if (name === "UntypedStorage") g.set("torch.storage.UntypedStorage", type);
  }
  return g;
}

function natural(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/** Checks a persistent id tuple and returns its key and stub. */
function storageId(pid: unknown, file: string, legacy: boolean): [string, StorageStub, unknown] {
  const bad = (why: string): never => {
    throw new DataError(`${file}: a storage reference ${why}; the file is corrupt`);
  };
  if (!Array.isArray(pid) || pid[0] !== "storage" || pid.length !== (legacy ? 6 : 5)) {
    bad(`is ${quoteValue(JSON.stringify(pid, (_k, v) => typeof v === "bigint" ? `${v}` : v))}`);
  }
  const [, type, key, _location, numel] = pid as unknown[];
  if (
    typeof type !== "object" || type === null || (type as TorchStorageType).kind !== "storage_type"
  ) {
    bad("has no storage type");
  }
  if (typeof key !== "string" || key.length === 0 || key.length > 64) bad("has a bad key");
  if (!natural(numel)) bad(`has element count ${String(numel)}`);
  return [
    key as string,
    { type: type as TorchStorageType, numel: numel as number },
    legacy ? (pid as unknown[])[5] : null,
  ];
}

/** Reads the object pickle, collecting the storages it refers to (bytes attached later). */
function readObject(
  bytes: Uint8Array,
  offset: number,
  file: string,
  legacy: boolean,
): { value: unknown; end: number; storages: Map<string, TorchStorage>; views: ViewLink[] } {
  const storages = new Map<string, TorchStorage>();
  const views: ViewLink[] = [];
  const persistentLoad = (pid: unknown): TorchStorage => {
    const [key, stub, view] = storageId(pid, file, legacy);
    let root = storages.get(key);
    if (!root) {
      root = {
        kind: "storage",
        key,
        type: stub.type,
        numel: stub.numel,
        bytes: new Uint8Array(0),
        littleEndian: true,
      };
      storages.set(key, root);
    } else if (root.type.name !== stub.type.name || root.numel !== stub.numel) {
      throw new DataError(
        `${file}: storage ${key} is declared twice with different sizes or types`,
      );
    }
    if (view === null || view === undefined) return root;
    const link = legacyView(root, view, file);
    views.push(link);
    return link.view;
  };
  const r = unpickle(bytes, {
    globals: stateDictGlobals(file),
    persistentLoad,
    offset,
    name: file,
  });
  return { ...r, storages, views };
}

/**
 * A legacy storage view `(view_key, offset, numel)` into a root storage (PyTorch < 1.0 wrote
 * them): a storage object whose bytes are the root's slice (see attachViews).
 */
function legacyView(root: TorchStorage, view: unknown, file: string): ViewLink {
  if (!Array.isArray(view) || view.length !== 3 || !natural(view[1]) || !natural(view[2])) {
    throw new DataError(`${file}: storage ${root.key} has a malformed view`);
  }
  const [, off, n] = view as [unknown, number, number];
  if (off + n > root.numel) {
    throw new DataError(
      `${file}: a view of ${n} elements at ${off} reaches past storage ${root.key} ` +
        `(${root.numel} elements); the file is corrupt`,
    );
  }
  return { view: { ...root, numel: n }, root, at: off };
}

/** A legacy storage view and the root storage whose bytes it shares. */
interface ViewLink {
  view: TorchStorage;
  root: TorchStorage;
  /** Element offset of the view in the root. */
  at: number;
}

/** Gives each legacy view its slice of its root's bytes (once the roots have theirs). */
function attachViews(views: readonly ViewLink[]): void {
  for (const { view, root, at } of views) {
    const size = root.type.itemSize;
    view.bytes = root.bytes.subarray(at * size, (at + view.numel) * size);
    view.littleEndian = root.littleEndian;
  }
}

/** Fits-in-memory and size checks of zip members, before fflate allocates them. */
function zipGuard(bytes: Uint8Array, file: string): (f: UnzipFileInfo) => boolean {
  let total = 0;
  return (f) => {
    const keep = f.name.endsWith("/data.pkl") || f.name.endsWith("/byteorder") ||
      /\/data\/[^/]+$/.test(f.name);
    if (!keep) return false;
    const bad = (why: string) =>
      new DataError(
        `${file}: zip member ${quoteValue(f.name)} ${why}; the checkpoint is corrupt, save it ` +
          "again with torch.save",
      );
    if (!natural(f.size) || f.size > bytes.length) {
      throw bad(`declares ${f.size} bytes in a ${bytes.length}-byte file`);
    }
    // torch.save stores members; a repacked archive may deflate them (at most ~1032:1).
    const limit = f.compression === 0 ? f.size : f.size * 1032 + 1024;
    if (!natural(f.originalSize) || f.originalSize > limit) {
      throw bad(`declares ${f.originalSize} bytes unpacked from ${f.size}`);
    }
    total += f.originalSize;
    assertFitsInMemory(total, `Unpacking ${file}`, "free memory or use a machine with more");
    return true;
  };
}

/** Parses a zip-format checkpoint. */
function parseZip(bytes: Uint8Array, file: string): TorchCheckpoint {
  let members: Record<string, Uint8Array>;
  try {
    members = unzipSync(bytes, { filter: zipGuard(bytes, file) });
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError(
      `${file} is not a readable torch.save zip archive (${
        quoteValue((err as Error).message, 120)
      }); the file is truncated or corrupt, copy it again`,
    );
  }
  const pkls = Object.keys(members).filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkls.length !== 1) {
    throw new DataError(
      `${file} is a zip archive but not a torch.save checkpoint (${pkls.length} top-level ` +
        "data.pkl members, expected 1)",
    );
  }
  const root = pkls[0].slice(0, -"data.pkl".length);
  const order = members[`${root}byteorder`];
  const orderText = order ? new TextDecoder().decode(order) : "little";
  if (orderText !== "little" && orderText !== "big") {
    throw new DataError(`${file}: byteorder record is ${quoteValue(orderText)}, not little or big`);
  }
  const obj = readObject(members[pkls[0]], 0, file, false);
  if (obj.end !== members[pkls[0]].length) {
    throw new DataError(`${file}: data.pkl has bytes after its pickle; the file is corrupt`);
  }
  for (const [key, s] of obj.storages) {
    const data = members[`${root}data/${key}`];
    if (!data) {
      throw new DataError(`${file} has no member ${root}data/${key}; the file is truncated`);
    }
    checkStorageBytes(s, data.length, file);
    s.bytes = data;
    s.littleEndian = orderText === "little";
  }
  attachViews(obj.views);
  return { format: "zip", value: obj.value };
}

/** The size-lie check: a storage's bytes must be exactly its element count times the item size. */
function checkStorageBytes(s: TorchStorage, have: number, file: string): void {
  const need = s.numel * s.type.itemSize;
  if (have !== need) {
    throw new DataError(
      `${file}: storage ${s.key} declares ${s.numel} ${s.type.name} elements (${need} bytes) ` +
        `but holds ${have} bytes; the file is corrupt or truncated, save it again`,
    );
  }
}

/** Parses a legacy-format checkpoint. */
function parseLegacy(bytes: Uint8Array, file: string): TorchCheckpoint {
  const plain = (offset: number) => unpickle(bytes, { globals: new Map(), offset, name: file });
  const magic = plain(0);
  if (magic.value !== LEGACY_MAGIC) {
    throw new DataError(
      `${file} starts with a pickle that is not PyTorch's magic number; it is not a torch.save ` +
        "checkpoint (a plain pickle is not read, since it could run code)",
    );
  }
  const proto = plain(magic.end);
  if (proto.value !== LEGACY_PROTOCOL) {
    throw new DataError(
      `${file}: legacy protocol ${String(proto.value)} is not ${LEGACY_PROTOCOL}`,
    );
  }
  const info = plain(proto.end);
  const little = info.value instanceof Map ? info.value.get("little_endian") : undefined;
  if (typeof little !== "boolean") {
    throw new DataError(`${file}: the legacy sys info has no little_endian flag; file is corrupt`);
  }
  const obj = readObject(bytes, info.end, file, true);
  const keys = plain(obj.end);
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === "string")) {
    throw new DataError(`${file}: the legacy storage key list is malformed`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = keys.end;
  for (const key of keys.value as string[]) {
    if (pos + 8 > bytes.length) {
      throw new DataError(`${file} is truncated before storage ${key}; copy it again`);
    }
    const count = view.getBigInt64(pos, little);
    pos += 8;
    const s = obj.storages.get(key);
    if (!s) throw new DataError(`${file}: storage ${key} is listed but no tensor uses it`);
    if (count !== BigInt(s.numel)) {
      throw new DataError(
        `${file}: storage ${key} is declared with ${s.numel} elements but recorded with ${count}; ` +
          "the file is corrupt",
      );
    }
    const n = s.numel * s.type.itemSize;
    checkStorageBytes(s, Math.min(n, bytes.length - pos), file);
    s.bytes = bytes.subarray(pos, pos + n);
    s.littleEndian = little;
    pos += n;
  }
  for (const key of obj.storages.keys()) {
    if (!(keys.value as string[]).includes(key)) {
      throw new DataError(`${file}: storage ${key} is used but its data is missing`);
    }
  }
  if (pos !== bytes.length) {
    throw new DataError(`${file} has ${bytes.length - pos} bytes after its last storage`);
  }
  attachViews(obj.views);
  return { format: "legacy", value: obj.value };
}

/** Parses `torch.save` bytes (either format); `file` names the file in errors. */
export function parseTorchCheckpoint(bytes: Uint8Array, file: string): TorchCheckpoint {
  if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b) return parseZip(bytes, file);
  if (bytes.length >= 2 && bytes[0] === 0x80 && bytes[1] <= 5) return parseLegacy(bytes, file);
  if (bytes.length > 262 && new TextDecoder().decode(bytes.subarray(257, 262)) === "ustar") {
    throw new DataError(
      `${file} is in the tar format of PyTorch < 0.4; load and save it again with a newer PyTorch`,
    );
  }
  throw new DataError(
    `${file} is neither a zip nor a legacy torch.save file (it starts with bytes ${
      [...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, "0")).join(" ")
    }); pass a .pth / .pth.tar saved by torch.save`,
  );
}

/**
 * Reads a `torch.save` file; the whole file is held in memory while its tensors are in use. A
 * missing file is a DataError ending in `o.hint` (default "pass a checkpoint saved by
 * torch.save").
 */
export async function readTorchCheckpoint(
  path: string,
  o: { hint?: string } = {},
): Promise<TorchCheckpoint> {
  let size: number;
  try {
    size = (await Deno.stat(path)).size;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new DataError(
        `${path} not found; ${o.hint ?? "pass a checkpoint saved by torch.save"}`,
      );
    }
    throw err;
  }
  // The file, plus a copy of its members (zip) and float32 copies of the weights read from it.
  assertFitsInMemory(3 * size, `Reading ${path}`, "free memory or use a machine with more");
  return parseTorchCheckpoint(await Deno.readFile(path), path);
}
