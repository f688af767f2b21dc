import assert from "node:assert/strict";
import { oneLine, quoteValue } from "./quote.ts";

Deno.test("quoteValue: JSON-like, one line, bounded in length and depth", () => {
  assert.equal(quoteValue(12), "12");
  assert.equal(quoteValue("tree"), '"tree"');
  assert.equal(quoteValue(null), "null");
  assert.equal(quoteValue(undefined), "undefined");
  assert.equal(quoteValue([[1, 2, 3, 4, 5, 6]]), "[[1, 2, 3, 4, ...]]");
  assert.equal(quoteValue({ a: { b: { c: { d: 1 } } } }), '{"a": {"b": {"c": {...}}}}');
  assert.equal(quoteValue("a\nb\u2028c"), '"a\\nb c"');
  let deep: unknown = 0;
  for (let i = 0; i < 100000; i++) deep = [deep];
  assert.equal(quoteValue(deep), "[[[[...]]]]");
  const long = quoteValue("x".repeat(10000));
  assert.equal(long.length, 80);
  assert.ok(long.endsWith("..."));
});

Deno.test("oneLine: control characters become '?', long names are cut", () => {
  assert.equal(oneLine("w.npy"), "w.npy");
  assert.equal(oneLine("a\r\nb\u0000c\u0085"), "a??b?c?");
  assert.equal(oneLine("y".repeat(50), 10), "yyyyyyy...");
});
