import assert from "node:assert/strict";
import { DataError } from "./errors.ts";
import { assertFitsInMemory, availableMemory, formatBytes } from "./memory_budget.ts";

Deno.test("formatBytes: binary units", () => {
  assert.equal(formatBytes(512), "512 B");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatBytes(16 * 2 ** 40), "16.0 TiB");
});

Deno.test("assertFitsInMemory: MOS_MEMORY_LIMIT bounds the estimate; NaN never passes", () => {
  const before = Deno.env.get("MOS_MEMORY_LIMIT");
  try {
    Deno.env.set("MOS_MEMORY_LIMIT", String(1 << 20));
    assert.equal(availableMemory(), 1 << 20);
    assertFitsInMemory(1 << 20, "exactly the limit", "n/a");
    assert.throws(
      () => assertFitsInMemory((1 << 20) + 1, "A head of 3 classes", "pass --num-classes"),
      (e: unknown) =>
        e instanceof DataError && /A head of 3 classes needs about 1\.0 MiB .* 1\.0 MiB is/.test(
          e.message,
        ) && e.message.endsWith("pass --num-classes"),
    );
    assert.throws(() => assertFitsInMemory(NaN, "x", "y"), DataError);
    Deno.env.set("MOS_MEMORY_LIMIT", "not a number");
    assert.ok(availableMemory() > 0);
  } finally {
    if (before === undefined) Deno.env.delete("MOS_MEMORY_LIMIT");
    else Deno.env.set("MOS_MEMORY_LIMIT", before);
  }
});
