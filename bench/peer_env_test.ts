import assert from "node:assert/strict";
import { coreTypeFor, failureReason } from "./peer_env.ts";

Deno.test("coreTypeFor: the OpenBLAS core type from the CPU flags", () => {
  const info = (flags: string) =>
    `processor : 0\nmodel name : x\nflags : ${flags}\n\nprocessor : 1`;
  assert.equal(coreTypeFor(info("fpu sse2 avx avx2 fma avx512f avx512bw")), "SkylakeX");
  assert.equal(coreTypeFor(info("fpu sse2 avx avx2 fma")), "Haswell");
  // avx512 variants without the foundation flag do not count, nor do prefixes of names.
  assert.equal(coreTypeFor(info("fpu sse2 avx avx512vl avx2x")), undefined);
  assert.equal(coreTypeFor(""), undefined);
});

Deno.test("failureReason names the signal of a crashed peer, else the last stderr line", () => {
  const enc = new TextEncoder();
  assert.equal(
    failureReason("numpy", { code: 132, signal: "SIGILL", stderr: new Uint8Array() }),
    "numpy peer killed by SIGILL",
  );
  assert.equal(
    failureReason("torch", { code: 1, signal: null, stderr: enc.encode("a\nMemoryError\n") }),
    "torch peer failed (exit 1): MemoryError",
  );
  assert.equal(
    failureReason("torch", { code: 3, signal: null, stderr: new Uint8Array() }),
    "torch peer failed (exit 3)",
  );
});
