import assert from "node:assert/strict";
import { childSeed, createRng, deriveSeed, mix32 } from "./random.ts";

Deno.test("deriveSeed: distinct inputs give distinct safe-integer seeds", () => {
  const seen = new Set<number>();
  for (const seed of [0, 1, 2 ** 40]) {
    for (let stream = 1; stream <= 2; stream++) {
      for (let c = 0; c < 200; c++) {
        const v = deriveSeed(seed, stream, c);
        assert.ok(Number.isSafeInteger(v) && v >= 0);
        seen.add(v);
      }
    }
  }
  assert.equal(seen.size, 3 * 2 * 200);
  assert.equal(deriveSeed(7, 1, 5), deriveSeed(7, 1, 5));
});

Deno.test("deriveSeed and childSeed keep the values every cached result was drawn with", () => {
  // Recorded from the implementations before they moved here (lib/train/sampler.ts and
  // lib/synthetic/benchmark.ts): a change here changes every seeded output of the toolkit.
  const derived: [number, number, number, number][] = [
    [0, 0, 0, 1046216293832978],
    [7, 1, 5, 3335453396713482],
    [2 ** 53 - 1, 102, 123456789012, 8460990106389993],
    [42, 2, 2 ** 32 + 3, 2306389872694839],
  ];
  for (const [seed, stream, counter, want] of derived) {
    assert.equal(
      deriveSeed(seed, stream, counter),
      want,
      `deriveSeed(${seed}, ${stream}, ${counter})`,
    );
  }
  const children: [number, number, number][] = [
    [0, 0, 7988069073604836],
    [0, 1, 112363530959459],
    [2026, 1, 3642296788610511],
    [2026, 8, 6927977773268775],
    [2 ** 40 + 5, 3, 8356499332588939],
  ];
  for (const [seed, index, want] of children) {
    assert.equal(childSeed(seed, index), want, `childSeed(${seed}, ${index})`);
  }
});

Deno.test("childSeed is the index-th pair of uint32 draws, top 21 bits then 32 bits", () => {
  const rng = createRng(99);
  for (let i = 0; i < 4; i++) {
    const hi = rng.uint32() >>> 11;
    const lo = rng.uint32();
    assert.equal(childSeed(99, i), hi * 2 ** 32 + lo);
  }
});

Deno.test("mix32: fixed points of the hash and 32-bit unsigned range", () => {
  assert.equal(mix32(0), 0);
  const seen = new Set<number>();
  for (let i = 0; i < 1000; i++) {
    const v = mix32(i);
    assert.ok(Number.isInteger(v) && v >= 0 && v < 2 ** 32);
    seen.add(v);
  }
  assert.equal(seen.size, 1000, "a bijection on 32-bit integers has no collisions");
});

Deno.test("seed checks: negative, fractional and unsafe seeds and indices are RangeErrors", () => {
  for (const bad of [-1, 0.5, 2 ** 53, NaN]) {
    assert.throws(() => createRng(bad), RangeError);
    assert.throws(() => deriveSeed(bad, 1, 0), RangeError);
    assert.throws(() => childSeed(bad, 0), RangeError);
  }
  assert.throws(() => childSeed(1, -1), RangeError);
  assert.throws(() => childSeed(1, 1.5), RangeError);
});
