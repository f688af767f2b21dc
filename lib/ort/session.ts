/**
 * onnxruntime-node sessions with the toolkit's threading defaults.
 *
 * @module
 */
import ort from "npm:onnxruntime-node@1.30.0";

export { ort };

/** Options for {@linkcode createSession}. */
export interface SessionOptions {
  /** Intra-op threads; default: every core (`navigator.hardwareConcurrency`). */
  threads?: number;
  /**
   * Whether ORT's CPU memory arena is on (default true). The arena keeps every buffer it grew for
   * the session's lifetime and grows in power-of-two steps; kernels whose intermediates are
   * hundreds of MB (the streamed 21k-class blocks) turn it off so that their peak memory is what
   * one run needs.
   */
  memArena?: boolean;
}

/**
 * Creates a CPU inference session from model bytes (or a path). Sequential execution, one intra-op
 * pool: the toolkit's graphs are chains of large ops, so inter-op parallelism only adds contention.
 */
export function createSession(
  model: Uint8Array | string,
  options: SessionOptions = {},
): Promise<ort.InferenceSession> {
  const threads = options.threads ?? navigator.hardwareConcurrency ?? 1;
  const opts: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
    enableCpuMemArena: options.memArena ?? true,
    // Errors only: ORT's optimiser warnings (e.g. an initializer it folded away) are not the
    // user's concern and would break the one-line error contract of the tasks.
    logSeverityLevel: 3,
  };
  return typeof model === "string"
    ? ort.InferenceSession.create(model, opts)
    : ort.InferenceSession.create(model, opts);
}

/** Wraps a Float32Array as a float32 tensor without copying. */
export function f32Tensor(data: Float32Array, dims: number[]): ort.Tensor {
  return new ort.Tensor("float32", data, dims);
}
