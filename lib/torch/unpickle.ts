/**
 * A strict, non-executing reader of Python pickles, for the subset `torch.save` writes.
 *
 * Pickle is a small stack machine whose REDUCE and BUILD opcodes call arbitrary Python callables;
 * here they only ever reach the callables of a caller-given allowlist (see {@linkcode PickleGlobals}),
 * which build plain JavaScript values. Any other global (`os.system`, `builtins.eval`, ...) is
 * refused when the GLOBAL opcode names it, before anything could use it, and so is every opcode a
 * state dict does not need (INST, OBJ, EXT*, the text-mode protocol 0 opcodes, ...). Reading never
 * runs code from the file, and every length is checked against the bytes that remain before
 * anything is allocated.
 *
 * Values: None -> null, bool, int -> number (bigint outside the safe range), float -> number,
 * str -> string, bytes -> Uint8Array, list and tuple -> array, dict -> Map (keys may be numbers).
 *
 * @module
 */
import { DataError } from "../errors.ts";

/** A callable of the allowlist: gets the REDUCE argument tuple, returns the built value. */
export type PickleCallable = (args: unknown[]) => unknown;

/**
 * The allowlist: `"module.name"` -> the value a GLOBAL opcode pushes (a {@linkcode PickleCallable}
 * for things the pickle calls, any other value for things it only passes around, such as storage
 * types).
 */
export type PickleGlobals = ReadonlyMap<string, unknown>;

/** Options of {@linkcode unpickle}. */
export interface UnpickleOptions {
  /** Allowed globals. */
  globals: PickleGlobals;
  /** Resolves a persistent id (BINPERSID); absent: persistent ids are refused. */
  persistentLoad?: (pid: unknown) => unknown;
  /** Offset of the pickle in `bytes` (several pickles may follow each other). */
  offset?: number;
  /** File name for messages. */
  name: string;
}

/** A finished pickle: its value and the offset just past its STOP opcode. */
export interface UnpickleResult {
  /** The unpickled value (dicts are Maps). */
  value: unknown;
  /** Byte offset in `bytes` just past the STOP opcode, where a following pickle starts. */
  end: number;
}

/** Marks MARK on the stack. */
const MARK = Symbol("mark");

/** Attribute state a BUILD opcode gave a value (kept for callers that want it, e.g. `_metadata`). */
export const PICKLE_STATE: unique symbol = Symbol("pickle state");

/** Largest memo index accepted: a state dict of the largest BiT model memoises ~10^4 objects. */
const MAX_MEMO = 1 << 24;

const decoder = new TextDecoder("utf-8", { fatal: true });

/** The machine's state and primitive reads, shared by the opcode groups below. */
interface Machine {
  bytes: Uint8Array;
  view: DataView;
  pos: number;
  stack: unknown[];
  marks: number[];
  memo: Map<number, unknown>;
  opts: UnpickleOptions;
}

function bad(m: Machine, what: string): never {
  throw new DataError(
    `${m.opts.name} is not a valid PyTorch checkpoint: ${what} (pickle byte ${m.pos})`,
  );
}

/** Claims `n` bytes at the read position; returns their offset. */
function need(m: Machine, n: number): number {
  if (!(n >= 0) || m.pos + n > m.bytes.length) {
    bad(
      m,
      `it ends inside a pickle (${n} more bytes needed, ${m.bytes.length - m.pos} left); the ` +
        "file is truncated, copy it again",
    );
  }
  const at = m.pos;
  m.pos += n;
  return at;
}

function u64(m: Machine): number {
  const v = m.view.getBigUint64(need(m, 8), true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) bad(m, `length ${v} is impossible`);
  return Number(v);
}

function text(m: Machine, n: number): string {
  const at = need(m, n);
  try {
    return decoder.decode(m.bytes.subarray(at, at + n));
  } catch {
    return bad(m, "a string is not valid UTF-8");
  }
}

function pop(m: Machine): unknown {
  // The newest MARK's index bounds what may be popped without POP_MARK.
  if (m.stack.length - 1 <= (m.marks.at(-1) ?? -1)) bad(m, "stack underflow");
  return m.stack.pop();
}

function top(m: Machine): unknown {
  if (m.stack.length === 0 || m.stack.at(-1) === MARK) bad(m, "stack underflow");
  return m.stack[m.stack.length - 1];
}

/** Pops everything above the last MARK (and the MARK). */
function popMark(m: Machine): unknown[] {
  const at = m.marks.pop();
  if (at === undefined) return bad(m, "an item list has no MARK");
  const items = m.stack.splice(at);
  items.shift();
  return items;
}

function dictKey(m: Machine, k: unknown): unknown {
  if (typeof k === "string" || typeof k === "number" || typeof k === "bigint") return k;
  if (k === null || typeof k === "boolean") return k;
  return bad(m, "a dict key is not a string or a number");
}

function setItems(m: Machine, target: unknown, items: unknown[]): void {
  if (!(target instanceof Map)) bad(m, "SETITEM(S) on something that is not a dict");
  if (items.length % 2 !== 0) bad(m, "SETITEMS has an odd number of items");
  for (let i = 0; i < items.length; i += 2) {
    (target as Map<unknown, unknown>).set(dictKey(m, items[i]), items[i + 1]);
  }
}

/** Little-endian two's-complement integer of `n` bytes; a number when safe, else a bigint. */
function readLong(m: Machine, n: number): number | bigint {
  if (n > 64) bad(m, `an integer of ${n} bytes is not a state-dict value`);
  const at = need(m, n);
  if (n === 0) return 0;
  let v = 0n;
  for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(m.bytes[at + i]);
  if (m.bytes[at + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(v)
    : v;
}

/** Scalars and strings. Returns false when `op` is not one of them. */
function scalarOp(m: Machine, op: number): boolean {
  const { stack, view } = m;
  switch (op) {
    case 0x4e: // NONE
      stack.push(null);
      return true;
    case 0x88: // NEWTRUE
    case 0x89: // NEWFALSE
      stack.push(op === 0x88);
      return true;
    case 0x4b: // BININT1
      stack.push(m.bytes[need(m, 1)]);
      return true;
    case 0x4d: // BININT2
      stack.push(view.getUint16(need(m, 2), true));
      return true;
    case 0x4a: // BININT
      stack.push(view.getInt32(need(m, 4), true));
      return true;
    case 0x8a: // LONG1
      stack.push(readLong(m, m.bytes[need(m, 1)]));
      return true;
    case 0x8b: // LONG4
      stack.push(readLong(m, view.getUint32(need(m, 4), true)));
      return true;
    case 0x47: // BINFLOAT (big-endian)
      stack.push(view.getFloat64(need(m, 8), false));
      return true;
    case 0x58: // BINUNICODE
    case 0x54: // BINSTRING (a Python 2 str)
      stack.push(text(m, view.getUint32(need(m, 4), true)));
      return true;
    case 0x8c: // SHORT_BINUNICODE
    case 0x55: // SHORT_BINSTRING
      stack.push(text(m, m.bytes[need(m, 1)]));
      return true;
    case 0x8d: // BINUNICODE8
      stack.push(text(m, u64(m)));
      return true;
    case 0x42: // BINBYTES
    case 0x43: { // SHORT_BINBYTES
      const n = op === 0x42 ? view.getUint32(need(m, 4), true) : m.bytes[need(m, 1)];
      const at = need(m, n);
      stack.push(m.bytes.slice(at, at + n));
      return true;
    }
  }
  return false;
}

/** Lists, tuples, dicts and the stack and memo opcodes. */
function containerOp(m: Machine, op: number): boolean {
  const { stack } = m;
  switch (op) {
    case 0x28: // MARK
      m.marks.push(stack.length);
      stack.push(MARK);
      return true;
    case 0x7d: // EMPTY_DICT
      stack.push(new Map());
      return true;
    case 0x5d: // EMPTY_LIST
    case 0x29: // EMPTY_TUPLE
      stack.push([]);
      return true;
    case 0x74: // TUPLE
    case 0x6c: // LIST
      stack.push(popMark(m));
      return true;
    case 0x85: // TUPLE1
    case 0x86: // TUPLE2
    case 0x87: { // TUPLE3
      const items: unknown[] = [];
      for (let i = op - 0x84; i > 0; i--) items.unshift(pop(m));
      stack.push(items);
      return true;
    }
    case 0x64: { // DICT
      const d = new Map();
      setItems(m, d, popMark(m));
      stack.push(d);
      return true;
    }
    case 0x61: // APPEND
    case 0x65: { // APPENDS
      const items = op === 0x61 ? [pop(m)] : popMark(m);
      const list = top(m);
      if (!Array.isArray(list)) bad(m, "APPEND(S) to something that is not a list");
      for (const v of items) (list as unknown[]).push(v);
      return true;
    }
    case 0x73: { // SETITEM
      const v = pop(m);
      const k = pop(m);
      setItems(m, top(m), [k, v]);
      return true;
    }
    case 0x75: { // SETITEMS
      const items = popMark(m);
      setItems(m, top(m), items);
      return true;
    }
  }
  return memoOp(m, op);
}

function memoOp(m: Machine, op: number): boolean {
  const put = (i: number) => {
    if (i > MAX_MEMO) bad(m, `memo index ${i} is too large`);
    m.memo.set(i, top(m));
  };
  const get = (i: number) => {
    if (!m.memo.has(i)) bad(m, `memo index ${i} was never stored`);
    m.stack.push(m.memo.get(i));
  };
  switch (op) {
    case 0x71: // BINPUT
      put(m.bytes[need(m, 1)]);
      return true;
    case 0x72: // LONG_BINPUT
      put(m.view.getUint32(need(m, 4), true));
      return true;
    case 0x94: // MEMOIZE
      put(m.memo.size);
      return true;
    case 0x68: // BINGET
      get(m.bytes[need(m, 1)]);
      return true;
    case 0x6a: // LONG_BINGET
      get(m.view.getUint32(need(m, 4), true));
      return true;
    case 0x30: // POP
      if (m.stack.at(-1) === MARK) popMark(m);
      else pop(m);
      return true;
    case 0x31: // POP_MARK
      popMark(m);
      return true;
    case 0x32: // DUP
      m.stack.push(top(m));
      return true;
  }
  return false;
}

function pushGlobal(m: Machine, module: string, attr: string): void {
  const key = `${module}.${attr}`;
  if (!m.opts.globals.has(key)) {
    throw new DataError(
      `${m.opts.name} refers to the Python global '${key}', which a PyTorch state dict does ` +
        "not need; it is refused so that nothing in the file can run (only tensors, storages " +
        "and plain containers are read)",
    );
  }
  m.stack.push(m.opts.globals.get(key));
}

/** Globals, calls of allowlisted callables, BUILD and persistent ids. */
function callOp(m: Machine, op: number): boolean {
  switch (op) {
    case 0x63: { // GLOBAL: "module\nname\n"
      const module = readLine(m);
      const attr = readLine(m);
      pushGlobal(m, module, attr);
      return true;
    }
    case 0x93: { // STACK_GLOBAL
      const attr = pop(m);
      const module = pop(m);
      if (typeof module !== "string" || typeof attr !== "string") {
        bad(m, "STACK_GLOBAL needs two strings");
      }
      pushGlobal(m, module as string, attr as string);
      return true;
    }
    case 0x52: // REDUCE: fn(*args)
    case 0x81: { // NEWOBJ: cls.__new__(cls, *args)
      const args = pop(m);
      const fn = pop(m);
      if (typeof fn !== "function") bad(m, "a call of something that is not an allowed callable");
      if (!Array.isArray(args)) bad(m, "call arguments are not a tuple");
      m.stack.push((fn as PickleCallable)(args as unknown[]));
      return true;
    }
    case 0x62: { // BUILD: attribute state, kept aside and never executed
      const state = pop(m);
      const obj = top(m);
      if (obj === null || typeof obj !== "object") bad(m, "BUILD on a plain value");
      (obj as Record<symbol, unknown>)[PICKLE_STATE] = state;
      return true;
    }
    case 0x51: { // BINPERSID
      const pid = pop(m);
      if (!m.opts.persistentLoad) bad(m, "a persistent id appears where none is allowed");
      m.stack.push(m.opts.persistentLoad!(pid));
      return true;
    }
  }
  return false;
}

/** Reads one pickle from `bytes` at `opts.offset`; see the module note. */
export function unpickle(bytes: Uint8Array, opts: UnpickleOptions): UnpickleResult {
  const m: Machine = {
    bytes,
    view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    pos: opts.offset ?? 0,
    stack: [],
    marks: [],
    memo: new Map(),
    opts,
  };
  for (;;) {
    const op = m.bytes[need(m, 1)];
    if (op === 0x2e) { // STOP
      if (m.marks.length > 0 || m.stack.length !== 1) {
        bad(m, "the pickle stops with a malformed stack");
      }
      return { value: m.stack[0], end: m.pos };
    }
    if (op === 0x80) { // PROTO
      const v = m.bytes[need(m, 1)];
      if (v > 5) bad(m, `pickle protocol ${v} is unknown`);
      continue;
    }
    if (op === 0x95) { // FRAME: only a size hint
      u64(m);
      continue;
    }
    if (scalarOp(m, op) || containerOp(m, op) || callOp(m, op)) continue;
    bad(m, `opcode 0x${op.toString(16).padStart(2, "0")} is not used by torch.save and is refused`);
  }
}

/** A `\n`-terminated printable-ASCII line (GLOBAL's operands), at most 256 bytes. */
function readLine(m: Machine): string {
  const end = m.bytes.indexOf(0x0a, m.pos);
  if (end < 0 && m.bytes.length - m.pos <= 256) need(m, m.bytes.length - m.pos + 1); // truncated
  if (end < 0 || end - m.pos > 256) bad(m, "a GLOBAL name is unterminated");
  let s = "";
  for (let i = m.pos; i < end; i++) {
    if (m.bytes[i] < 0x20 || m.bytes[i] > 0x7e) bad(m, "a GLOBAL name is not printable ASCII");
    s += String.fromCharCode(m.bytes[i]);
  }
  m.pos = end + 1;
  return s;
}
