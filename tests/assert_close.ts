/**
 * `assertClose`: |actual - expected| <= atol + rtol * |expected|, elementwise, with the reason for
 * the tolerance in the failure message.
 *
 * @module
 */
import { AssertionError } from "node:assert/strict";

/** Tolerances; `reason` says why they are what they are (float32 rounding, series order, ...). */
export interface Tolerance {
  atol?: number;
  rtol?: number;
  reason?: string;
}

/**
 * Asserts two numbers or arrays are elementwise close. Returns the worst absolute error, so tests
 * can report it.
 */
export function assertClose(
  actual: number | ArrayLike<number>,
  expected: number | ArrayLike<number>,
  tol: Tolerance = {},
): number {
  const atol = tol.atol ?? 1e-6;
  const rtol = tol.rtol ?? 1e-6;
  const a = typeof actual === "number" ? [actual] : actual;
  const e = typeof expected === "number" ? [expected] : expected;
  if (a.length !== e.length) {
    throw new AssertionError({ message: `length ${a.length} != expected ${e.length}` });
  }
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const diff = Math.abs(a[i] - e[i]);
    const same = a[i] === e[i] || (Number.isNaN(a[i]) && Number.isNaN(e[i]));
    if (!same && !(diff <= atol + rtol * Math.abs(e[i]))) {
      throw new AssertionError({
        message: `element ${i}: ${a[i]} vs expected ${e[i]} (|diff| ${diff} > atol ${atol} + ` +
          `rtol ${rtol} * |expected|)${tol.reason ? `; tolerance: ${tol.reason}` : ""}`,
      });
    }
    if (!same && diff > worst) worst = diff;
  }
  return worst;
}
