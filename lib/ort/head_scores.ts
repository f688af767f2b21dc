/**
 * The logit-only scores (MSP, ODIN, Energy, MOS) straight from features through a linear head:
 * `x W^T + b` and the score's reductions run as one onnxruntime graph per row chunk, so the
 * N x O logits never leave onnxruntime. At ImageNet-21k's 21,843 outputs a 2048-row chunk of
 * logits is 179 MB; fetching it (onnxruntime-node copies every fetched output into a fresh
 * buffer) and feeding it back to the score graph cost more than the score itself. After the
 * Gemm the graph is exactly the one of `softmaxScoreFast` / `mosFast` (lib/ort/logit_scores.ts),
 * and the Gemm is the one of `linearLogits`, so the scores are the same numbers as the two-step
 * path.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import type { GroupLayout } from "../groups.ts";
import type { Matrix } from "../matrix.ts";
import { buildModel, type GraphSpec, node } from "./graph.ts";
import { cachedSession, defaultThreads } from "./kernel_cache.ts";
import {
  checkLinearHead,
  type ChunkOptions,
  chunkRowsOf,
  forEachRowChunk,
  type RowSource,
} from "./linear.ts";
import { checkTemperature, mosKey, mosSpec, softmaxSpec } from "./logit_scores.ts";
import { f32Tensor } from "./session.ts";

/** A logit-only score of {@linkcode headScoresStream}. */
export type HeadScore =
  | { kind: "max-softmax" | "energy"; temperature?: number }
  | { kind: "mos"; layout: GroupLayout };

/**
 * `spec` (a graph whose input `x` is n x o logits) with a linear head in front: inputs `f`
 * (n x d features), `w` (o x d) and `b` (o) replace `x`, and `x = f w^T + b` is its first node.
 */
export function withLinearHead(spec: GraphSpec, d: number, o: number): GraphSpec {
  if (!spec.inputs.some((v) => v.name === "x")) {
    throw new RangeError(`Graph ${spec.name} has no input "x" to put a linear head in front of`);
  }
  return {
    ...spec,
    name: `${spec.name}_from_features`,
    inputs: [
      { name: "f", type: "float32", shape: ["n", d] },
      { name: "w", type: "float32", shape: [o, d] },
      { name: "b", type: "float32", shape: [o] },
      ...spec.inputs.filter((v) => v.name !== "x"),
    ],
    nodes: [node("Gemm", ["f", "w", "b"], ["x"], { transB: 1 }), ...spec.nodes],
  };
}

/**
 * A logit-only score for every row of `source` through the head `weight` (O x D), `bias` (O):
 * MSP / ODIN (`max-softmax` at temperature 1 / 1000), Energy, or MOS for a group head's
 * `layout`. Memory stays at two feature chunks plus onnxruntime's chunk x O intermediates,
 * however many rows there are.
 *
 * @example
 * ```ts
 * import { matrix } from "../matrix.ts";
 * import { matrixSource } from "./linear.ts";
 * const features = matrix(2, 3, new Float32Array([1, 0, 2, 3, 1, 0])); // N = 2, D = 3
 * const weight = matrix(2, 3, new Float32Array([1, 1, 0, 0, 1, 1])); // O = 2 classes
 * const bias = new Float32Array([0, 0.5]);
 * const energy = await headScoresStream(matrixSource(features), weight, bias, { kind: "energy" });
 * ```
 */
export async function headScoresStream(
  source: RowSource,
  weight: Matrix,
  bias: Float32Array,
  score: HeadScore,
  opts: ChunkOptions = {},
): Promise<Float32Array> {
  checkLinearHead(source.cols, weight, bias);
  const { rows: o, cols: d } = weight;
  const out = new Float32Array(source.rows);
  if (source.rows === 0) return out;
  let spec: () => GraphSpec;
  let key: string;
  const extra: Record<string, ReturnType<typeof f32Tensor>> = {};
  if (score.kind === "mos") {
    if (score.layout.numOutputs !== o) {
      throw new DataError(
        `The head has ${o} outputs but the grouping needs ${score.layout.numOutputs} ` +
          `(${score.layout.numClasses} classes + ${score.layout.numGroups} "others"); ` +
          `use the head's own groups`,
      );
    }
    spec = () => mosSpec(score.layout);
    key = mosKey(score.layout);
  } else {
    const { kind, temperature = 1 } = score;
    checkTemperature(temperature);
    if (o < 1) throw new DataError(`The head has 0 outputs; a softmax needs at least one class`);
    spec = () => softmaxSpec(o, kind);
    key = `softmax:${kind}:${o}`;
    extra.T = f32Tensor(new Float32Array([temperature]), []);
  }
  const session = await cachedSession(
    `head:${d}:${key}`,
    () => buildModel(withLinearHead(spec(), d, o)),
    defaultThreads(opts.threads),
  );
  const w = f32Tensor(weight.data, [o, d]);
  const b = f32Tensor(bias, [o]);
  await forEachRowChunk(source, chunkRowsOf(opts), async (start, n, rows) => {
    await session.run(
      { f: f32Tensor(rows, [n, d]), w, b, ...extra },
      { score: f32Tensor(out.subarray(start, start + n), [n, 1]) },
    );
  });
  return out;
}
