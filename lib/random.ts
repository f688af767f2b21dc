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
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`Seed must be a non-negative integer, got ${seed}`);
  }
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
