import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import { type PickleGlobals, unpickle } from "./unpickle.ts";

const enc = new TextEncoder();

/** Pickle bytes from opcode numbers, strings (ASCII) and byte arrays. */
function pk(...parts: (number | string | number[])[]): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === "number") out.push(p);
    else if (typeof p === "string") out.push(...enc.encode(p));
    else out.push(...p);
  }
  return new Uint8Array(out);
}

const none: PickleGlobals = new Map();
const read = (b: Uint8Array, globals = none) => unpickle(b, { globals, name: "t.pkl" });

Deno.test("unpickle: protocol-2 scalars, strings and containers as Python builds them", () => {
  // {"a": [1, -2, 300, 70000, 1.5, None, True], "b": ("x", b"\x01"), 7: 2**70}
  const b = pk(
    0x80,
    2,
    0x7d,
    0x71,
    0,
    0x28, // PROTO 2, EMPTY_DICT, BINPUT 0, MARK
    0x58,
    [1, 0, 0, 0],
    "a", // BINUNICODE "a"
    0x5d,
    0x28,
    0x4b,
    1, // EMPTY_LIST, MARK, BININT1 1
    0x4a,
    [0xfe, 0xff, 0xff, 0xff], // BININT -2
    0x4d,
    [0x2c, 0x01], // BININT2 300
    0x4a,
    [0x70, 0x11, 0x01, 0x00], // BININT 70000
    0x47,
    [0x3f, 0xf8, 0, 0, 0, 0, 0, 0], // BINFLOAT 1.5
    0x4e,
    0x88,
    0x65, // NONE NEWTRUE APPENDS
    0x8c,
    1,
    "b",
    0x8c,
    1,
    "x",
    0x43,
    1,
    [1],
    0x86, // "b", ("x", b"\x01")
    0x4b,
    7,
    0x8a,
    9,
    [0, 0, 0, 0, 0, 0, 0, 0, 0x40], // 7: LONG1 2**70
    0x75,
    0x2e, // SETITEMS STOP
  );
  const { value, end } = read(b);
  assert.equal(end, b.length);
  const d = value as Map<unknown, unknown>;
  assert.deepEqual(d.get("a"), [1, -2, 300, 70000, 1.5, null, true]);
  assert.deepEqual(d.get("b"), ["x", new Uint8Array([1])]);
  assert.equal(d.get(7), 2n ** 70n);
});

Deno.test("unpickle: memo, negative LONG1, and consecutive pickles", () => {
  // [s, s] with s memoised; then a second pickle: LONG1 -1
  const b = pk(0x80, 2, 0x5d, 0x28, 0x8c, 2, "hi", 0x94, 0x68, 0, 0x65, 0x2e);
  const second = pk(0x80, 2, 0x8a, 1, [0xff], 0x2e);
  const both = new Uint8Array([...b, ...second]);
  const first = read(both);
  assert.deepEqual(first.value, ["hi", "hi"]);
  assert.equal(first.end, b.length);
  assert.equal(unpickle(both, { globals: none, name: "t", offset: first.end }).value, -1);
});

Deno.test("unpickle: an allowlisted global is called by REDUCE, nothing else is", () => {
  const calls: unknown[][] = [];
  const globals: PickleGlobals = new Map([["collections.OrderedDict", (a: unknown[]) => {
    calls.push(a);
    return new Map();
  }]]);
  const ok = pk(0x80, 2, 0x63, "collections\nOrderedDict\n", 0x29, 0x52, 0x2e);
  assert.ok(read(ok, globals).value instanceof Map);
  assert.deepEqual(calls, [[]]);
  const evil = pk(0x80, 2, 0x63, "os\nsystem\n", 0x8c, 2, "id", 0x85, 0x52, 0x2e);
  assert.throws(() => read(evil, globals), (e: Error) => {
    assert.ok(e instanceof DataError);
    assert.match(e.message, /'os\.system'/);
    return true;
  });
  // STACK_GLOBAL names are checked the same way.
  const evil2 = pk(0x80, 4, 0x8c, 8, "builtins", 0x8c, 4, "eval", 0x93, 0x2e);
  assert.throws(() => read(evil2, globals), /'builtins\.eval'/);
});

Deno.test("unpickle: refuses unknown opcodes, truncation, persistent ids without a loader", () => {
  assert.throws(() => read(pk(0x80, 2, 0x69, "os\nsystem\n", 0x2e)), /opcode 0x69/); // INST
  assert.throws(() => read(pk(0x80, 2, 0x58, [9, 0, 0, 0], "ab")), /truncated/);
  assert.throws(() => read(pk(0x80, 2, 0x5d)), /truncated/); // no STOP
  assert.throws(() => read(pk(0x80, 2, 0x4e, 0x51, 0x2e)), /persistent id/);
  assert.throws(() => read(pk(0x80, 2, 0x68, 5, 0x2e)), /memo index 5/);
  assert.throws(() => read(pk(0x80, 2, 0x4e, 0x4e, 0x2e)), /malformed stack/);
  assert.throws(() => read(pk(0x80, 2, 0x52, 0x2e)), /underflow/);
  // REDUCE of a plain value (no global) is refused.
  assert.throws(() => read(pk(0x80, 2, 0x4e, 0x29, 0x52, 0x2e)), /not an allowed callable/);
});
