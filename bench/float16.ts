/**
 * Float16 conversion benchmark on the same seeded values (default 10,000,000: normals at several
 * scales so every half range occurs, plus zeros, subnormals, infinities and NaNs with payloads):
 * - decode (half -> float32): the 65536-entry table of `float16BitsToFloat32` against the engine's
 *   native `Float16Array` (`Float32Array.set` from a half view);
 * - encode (float32 -> half): the plain bit loop `float32ToFloat16BitsReference` against the bare
 *   native `Float16Array`, and the library's `float32ToFloat16Bits` (native rounding plus its NaN
 *   repair pass) against the loop.
 * Prints median times, ratios (other / ours: above 1, "ours" is faster) and how many outputs
 * differ bit for bit, NaN payloads counted apart (the native conversion canonicalises NaN).
 *
 * Usage: deno run -A bench/float16.ts [--values 10000000] [--reps 5] [--seed 0]
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  float16BitsToFloat32,
  float32ToFloat16Bits,
  float32ToFloat16BitsReference,
} from "../lib/io/npy.ts";
import { createRng } from "../lib/random.ts";

/** Seeded float32 test values covering normal, subnormal, overflow and special halves. */
export function float16BenchValues(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const scales = [1, 1e-3, 1e-6, 1e-8, 100, 7e4];
  const out = new Float32Array(n);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < n; i++) {
    const r = i % 1000;
    if (r === 0) out[i] = 0;
    else if (r === 1) out[i] = -Infinity;
    else if (r === 2) bits[i] = 0x7fc00000 | (rng.uint32() & 0x3fffff); // NaN with a payload
    else out[i] = rng.normal() * scales[i % scales.length];
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

function time(reps: number, fn: () => void): number {
  fn(); // warm-up: JIT and the decode table
  const ms: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    fn();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

/** Bit differences between two half arrays, NaN-vs-NaN payload differences counted apart. */
function diffHalf(a: Uint16Array, b: Uint16Array): { other: number; nanPayload: number } {
  let other = 0;
  let nanPayload = 0;
  const isNan = (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    if (isNan(a[i]) && isNan(b[i])) nanPayload++;
    else other++;
  }
  return { other, nanPayload };
}

function diffFloat(a: Float32Array, b: Float32Array): { other: number; nanPayload: number } {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let other = 0;
  let nanPayload = 0;
  for (let i = 0; i < x.length; i++) {
    if (x[i] === y[i]) continue;
    if (Number.isNaN(a[i]) && Number.isNaN(b[i])) nanPayload++;
    else other++;
  }
  return { other, nanPayload };
}

/** One comparison: "ours" against "other" on the same values. */
export interface Float16Direction {
  oursMs: number;
  otherMs: number;
  /** otherMs / oursMs: above 1, ours is faster. */
  ratio: number;
  /** Outputs that differ bit for bit, not counting NaN payloads. */
  mismatches: number;
  /** NaN outputs whose payload bits differ. */
  nanPayloadDiffs: number;
}

function compare(
  oursMs: number,
  otherMs: number,
  d: { other: number; nanPayload: number },
): Float16Direction {
  return {
    oursMs,
    otherMs,
    ratio: otherMs / oursMs,
    mismatches: d.other,
    nanPayloadDiffs: d.nanPayload,
  };
}

/**
 * Measures decode (table vs native), encode (bit loop vs native) and the library's encoder (vs
 * the bit loop, whose output it must match bit for bit, NaN payloads included).
 */
export function runFloat16Bench(
  o: { values: number; reps: number; seed: number },
): Record<"decodeTableVsNative" | "encodeLoopVsNative" | "encodeLibraryVsLoop", Float16Direction> {
  const f32 = float16BenchValues(o.values, o.seed);
  const loopHalf = float32ToFloat16BitsReference(f32);

  const encLoop = time(o.reps, () => void float32ToFloat16BitsReference(f32));
  const encNative = time(o.reps, () => {
    const h = new Float16Array(f32.length);
    h.set(f32);
  });
  const encLib = time(o.reps, () => void float32ToFloat16Bits(f32));
  const nativeHalf = new Float16Array(f32.length);
  nativeHalf.set(f32);

  const outTable = new Float32Array(loopHalf.length);
  const outNative = new Float32Array(loopHalf.length);
  const halfView = new Float16Array(loopHalf.buffer, loopHalf.byteOffset, loopHalf.length);
  const decTable = time(o.reps, () => void float16BitsToFloat32(loopHalf, outTable));
  const decNative = time(o.reps, () => outNative.set(halfView));

  return {
    decodeTableVsNative: compare(decTable, decNative, diffFloat(outTable, outNative)),
    encodeLoopVsNative: compare(
      encLoop,
      encNative,
      diffHalf(loopHalf, new Uint16Array(nativeHalf.buffer)),
    ),
    encodeLibraryVsLoop: compare(encLib, encLoop, diffHalf(float32ToFloat16Bits(f32), loopHalf)),
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      values: { type: "string", default: "10000000" },
      reps: { type: "string", default: "5" },
      seed: { type: "string", default: "0" },
    },
    strict: true,
  });
  const o = { values: Number(values.values), reps: Number(values.reps), seed: Number(values.seed) };
  for (const [k, v] of Object.entries(o)) {
    if (!Number.isSafeInteger(v) || v < (k === "seed" ? 0 : 1)) {
      console.error(`bench/float16: --${k} must be a positive integer, got ${v}`);
      Deno.exit(2);
    }
  }
  const r = runFloat16Bench(o);
  console.log(
    `float16 conversion, ${o.values} values, median of ${o.reps} (Deno ${Deno.version.deno}, V8 ${Deno.version.v8})`,
  );
  for (const [name, d] of Object.entries(r)) {
    console.log(
      `${name.padEnd(20)} ours ${d.oursMs.toFixed(1).padStart(8)} ms  other ${
        d.otherMs.toFixed(1).padStart(8)
      } ms  other/ours ${d.ratio.toFixed(2)}  mismatches ${d.mismatches}  ` +
        `NaN-payload diffs ${d.nanPayloadDiffs}`,
    );
  }
}
