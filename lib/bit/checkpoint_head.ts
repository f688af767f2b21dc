/**
 * A BiT checkpoint's own classifier (`resnet/head/conv2d`, a 1x1 conv on the pooled feature) as a
 * flat head directory (lib/io/head.ts), so `deno task score --head DIR` runs the logit-based
 * detectors (MSP, Energy, MaxLogit, KL, ...) on the pretrained head without any training: BiT-M's
 * 21,843-way ImageNet-21k head, BiT-S's 1,000-way ImageNet-1k head.
 *
 * Why a head directory rather than the backbone's logits.npy: score computes logits as
 * features x W^T + b from the head beside the features, like every trained head; the exported head
 * gives exactly the logits the ONNX model's `logits` output gives (same weights, same product).
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import { type Head, writeHead } from "../io/head.ts";
import type { NpyArray } from "../io/npy.ts";
import { toFloat32 } from "../io/npy.ts";
import { matrix } from "../matrix.ts";
import { type BitArch, featureDim } from "./arch.ts";

/**
 * The checkpoint head as a flat head: weight K x D (the HWIO kernel (1, 1, D, K) transposed) and
 * bias K. `source` (the checkpoint file name) and the label space (`labelSpace`, else imagenet21k
 * for K = 21,843 and imagenet1k for K = 1,000) are recorded in head.json. A checkpoint without a
 * head is a `UsageError`.
 */
export function checkpointHead(
  weights: Map<string, NpyArray>,
  arch: BitArch,
  source: string,
  labelSpace?: string,
): Head {
  const K = arch.numClasses;
  if (K === 0) {
    throw new UsageError(
      `${source} has no classifier head (resnet/head/conv2d/kernel); there is no head to write`,
    );
  }
  const D = featureDim(arch);
  const kernel = toFloat32(weights.get(`${arch.prefix}head/conv2d/kernel`)!);
  const bias = Float32Array.from(toFloat32(weights.get(`${arch.prefix}head/conv2d/bias`)!));
  const w = matrix(K, D);
  for (let d = 0; d < D; d++) {
    const row = d * K;
    for (let k = 0; k < K; k++) w.data[k * D + d] = kernel[row + k];
  }
  return {
    info: {
      kind: "flat",
      num_classes: K,
      groups: [],
      pretrained: {
        source,
        arch: arch.name,
        label_space: labelSpace ??
          (K === 21843 ? "imagenet21k" : K === 1000 ? "imagenet1k" : null),
      },
    },
    weight: w,
    bias,
  };
}

/** Writes {@linkcode checkpointHead} to `dir` (lib/io/head.ts layout); returns its class count. */
export async function writeCheckpointHead(
  dir: string,
  weights: Map<string, NpyArray>,
  arch: BitArch,
  source: string,
  labelSpace?: string,
): Promise<number> {
  const head = checkpointHead(weights, arch, source, labelSpace);
  await writeHead(dir, head);
  return head.info.num_classes;
}
