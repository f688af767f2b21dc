/**
 * Flag definitions several tasks share word for word (one place for their bounds and help).
 *
 * @module
 */
import type { NumberFlagDef } from "./cli.ts";

/** `--threads N`: onnxruntime intra-op threads; absent = every core. */
export const THREADS_FLAG = {
  type: "number",
  min: 1,
  integer: true,
  help: "N   onnxruntime threads (default: all cores)",
} as const satisfies NumberFlagDef;

/** `--dim D` of the synthetic demo benchmarks (default 256). */
export const DIM_FLAG = {
  type: "number",
  min: 2,
  integer: true,
  max: 65536,
  default: 256,
  help: "D   feature dimension",
} as const satisfies NumberFlagDef;
