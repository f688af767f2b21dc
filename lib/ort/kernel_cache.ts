/**
 * A process-wide cache of onnxruntime-node sessions keyed by graph signature. The scoring kernels
 * keep their weights as graph inputs and use a symbolic batch dimension, so one session per
 * (graph kind, fixed dims, threads) serves every chunk and every call: building and optimising a
 * session costs tens of milliseconds, which would otherwise be paid per call.
 *
 * @module
 */
import { createSession, type ort, type SessionOptions } from "./session.ts";

const sessions = new Map<string, Promise<ort.InferenceSession>>();

/**
 * Returns the session cached under `key`, building it from `build()` on first use. `key` must
 * name everything that changes the graph (kind, fixed dims, attributes); the thread count and
 * the arena setting are added to it here.
 *
 * @example
 * ```ts
 * import { buildModel, node } from "./graph.ts";
 * const [d, o] = [4, 3];
 * const build = () =>
 *   buildModel({
 *     name: "matmul",
 *     inputs: [
 *       { name: "x", type: "float32", shape: ["n", d] },
 *       { name: "w", type: "float32", shape: [d, o] },
 *     ],
 *     outputs: [{ name: "y", type: "float32", shape: ["n", o] }],
 *     nodes: [node("MatMul", ["x", "w"], ["y"])],
 *   });
 * const s = await cachedSession(`matmul:${d}x${o}`, build, 2); // built once, reused after
 * ```
 */
export function cachedSession(
  key: string,
  build: () => Uint8Array,
  threads: number,
  options: Omit<SessionOptions, "threads"> = {},
): Promise<ort.InferenceSession> {
  const arena = options.memArena ?? true;
  const fullKey = `${key}|threads=${threads}${arena ? "" : "|no-arena"}`;
  let s = sessions.get(fullKey);
  if (s === undefined) {
    s = createSession(build(), { ...options, threads });
    // A failed build must not poison the cache for later calls.
    s.catch(() => sessions.delete(fullKey));
    sessions.set(fullKey, s);
  }
  return s;
}

/** Number of sessions currently cached (for tests and diagnostics). */
export function cachedSessionCount(): number {
  return sessions.size;
}

/** Releases every cached session; later calls rebuild what they need. */
export async function releaseKernels(): Promise<void> {
  const all = [...sessions.values()];
  sessions.clear();
  for (const p of all) {
    try {
      await (await p).release();
    } catch {
      // A session that failed to build has nothing to release.
    }
  }
}

/** Thread count used when a caller gives none: every core. */
export function defaultThreads(threads?: number): number {
  const t = threads ?? navigator.hardwareConcurrency ?? 1;
  if (!Number.isInteger(t) || t < 1) {
    throw new RangeError(`threads must be a positive integer, got ${threads}`);
  }
  return t;
}
