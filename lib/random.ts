/**
 * Seeded randomness (xoshiro128**, Blackman and Vigna 2018, seeded through SplitMix32). Pure 32-bit
 * integer arithmetic keeps it fast in JavaScript. Every random choice in
 * the toolkit comes from here, so the same seed gives the same bytes on every machine.
 *
 * @module
 */

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** SplitMix32 step, used only to expand a seed into xoshiro state. */
function splitmix32(x: number): [number, number] {
  const next = (x + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [next, (z ^ (z >>> 16)) >>> 0];
}

/** A seeded generator. Not cryptographic. */
export interface Rng {
  /** Uniform integer in [0, 2^32). */
  uint32(): number;
  /** Uniform float in [0, 1) with 32 random bits. */
  float(): number;
  /** Uniform integer in [0, n), unbiased (rejection sampling). */
  int(n: number): number;
  /** Standard normal draw (Box-Muller, one value per call, no cached pair). */
  normal(): number;
  /** Gamma(shape, 1) draw (Marsaglia-Tsang; boosted for shape < 1). */
  gamma(shape: number): number;
  /** Beta(a, b) draw via two gamma draws. */
  beta(a: number, b: number): number;
}

/**
 * Creates a seeded generator. Seeds are integers in [0, 2^53); the same seed gives the same
 * sequence everywhere.
 *
 * @example
 * ```ts
 * const rng = createRng(42);
 * const x = rng.float();
 * ```
 */
export function createRng(seed: number): Rng {
  checkSeed(seed);
  let m = (seed >>> 0) ^ Math.imul(Math.floor(seed / 4294967296), 0x27d4eb2d);
  let s0: number, s1: number, s2: number, s3: number;
  [m, s0] = splitmix32(m);
  [m, s1] = splitmix32(m);
  [m, s2] = splitmix32(m);
  [m, s3] = splitmix32(m);
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1;
  const step = (): number => {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return result;
  };

  const float = (): number => step() / 4294967296;
  const normal = (): number => {
    let u = 0;
    while (u === 0) u = float();
    const v = float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  const gamma = (shape: number): number => {
    if (!(shape > 0)) throw new RangeError(`Gamma shape must be > 0, got ${shape}`);
    if (shape < 1) {
      let u = 0;
      while (u === 0) u = float();
      return gamma(shape + 1) * Math.pow(u, 1 / shape);
    }
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = float();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v;
      if (u > 0 && Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
    }
  };
  return {
    uint32: step,
    float,
    int(n: number): number {
      if (!Number.isInteger(n) || n <= 0 || n > 4294967296) {
        throw new RangeError(`int(n) needs an integer n in [1, 2^32], got ${n}`);
      }
      const limit = 4294967296 - (4294967296 % n);
      for (;;) {
        const r = step();
        if (r < limit) return r % n;
      }
    },
    normal,
    gamma,
    beta(a: number, b: number): number {
      const x = gamma(a);
      const y = gamma(b);
      return x / (x + y);
    },
  };
}

/** Fisher-Yates shuffle in place, driven by `rng`. Returns `arr`. */
export function shuffle<T extends { length: number; [i: number]: unknown }>(rng: Rng, arr: T): T {
  for (let i = arr.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = arr[i];
    arr[i] = arr[j];
    arr[j] = t;
  }
  return arr;
}

/**
 * A 32-bit integer hash with full avalanche (the "lowbias32" constants of Chris Wellons'
 * hash-prospector). Used to derive seeds and to pick per-row values without a generator.
 */
export function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

function checkSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`Seed must be a non-negative integer, got ${seed}`);
  }
}

/**
 * A seed for {@linkcode createRng} that depends on (seed, stream, counter) only, in O(1): distinct
 * inputs give unrelated generators (a 53-bit value from two chained 32-bit hashes). This is how
 * every resumable computation draws its randomness (training step t, extraction position p), so
 * a resumed run draws exactly what the uninterrupted run drew. `stream` tells the uses apart
 * (sampler 1, 2; extraction views 101; view picks 102); `counter` may be any safe integer >= 0.
 *
 * @example
 * ```ts
 * const runSeed = 0;
 * const step = 1500; // training step t: the same generator whether or not the run resumed
 * const rng = createRng(deriveSeed(runSeed, 2, step));
 * ```
 */
export function deriveSeed(seed: number, stream: number, counter: number): number {
  checkSeed(seed);
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 4294967296) >>> 0;
  const c = counter >>> 0;
  const cHi = Math.floor(counter / 4294967296) >>> 0;
  let a = mix32(lo ^ 0x9e3779b9);
  a = mix32(a ^ hi ^ 0x85ebca6b);
  a = mix32(a ^ stream);
  a = mix32(a ^ c);
  a = mix32(a ^ cHi);
  const b = mix32(a ^ 0xc2b2ae35);
  return (a & 0x1fffff) * 4294967296 + b;
}

/**
 * The `index`-th (from 0) 53-bit seed drawn in order from `createRng(seed)`: the top 21 bits of
 * one `uint32` draw, then a full `uint32`. The synthetic benchmark seeds its few fixed streams
 * (prototypes, train, val, each OOD set) this way; it costs O(index), so it suits small fixed
 * indices, and {@linkcode deriveSeed} serves everything indexed by a step or a row. The two
 * schemes give different seeds for the same numbers and each stays as it is: changing either
 * would change every number a seed already produced.
 */
export function childSeed(seed: number, index: number): number {
  checkSeed(seed);
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new RangeError(`Seed index must be a non-negative integer, got ${index}`);
  }
  const rng = createRng(seed);
  let hi = 0;
  let lo = 0;
  for (let i = 0; i <= index; i++) {
    hi = rng.uint32() >>> 11;
    lo = rng.uint32();
  }
  return hi * 4294967296 + lo;
}
