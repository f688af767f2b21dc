/**
 * Reading one detector's per-sample scores from a `.npy` file written anywhere (NumPy, PyTorch,
 * this toolkit's `scores/<method>/<set>.npy`): N float32 or float16 values, shaped (N,) or
 * (N, 1). Every value must be finite: a NaN would make any metric meaningless.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import { readNpy, toFloat32 } from "./npy.ts";

/** Direction of a score file: this toolkit's (higher = more in-distribution) or the reverse. */
export type ScoreDirection = "higher-is-id" | "higher-is-ood";

/**
 * The scores of `path` as float32, higher = more in-distribution: negated when `direction` is
 * "higher-is-ood" (pytorch-ood's convention). A file of another shape, dtype, no values or a
 * non-finite value is a `DataError` naming the file (and the index).
 *
 * @example
 * ```ts
 * import { readScoreVector } from "./score_vector.ts";
 * const s = await readScoreVector("scores/msp/sun.npy");
 * console.log(s.length);
 * ```
 */
export async function readScoreVector(
  path: string,
  direction: ScoreDirection = "higher-is-id",
): Promise<Float32Array> {
  const arr = await readNpy(path);
  const { shape } = arr;
  if (!(shape.length === 1 || (shape.length === 2 && shape[1] === 1))) {
    throw new DataError(
      `${path} must hold one score per sample, shape (N,) or (N, 1), got ` +
        `(${shape.join(", ")}); save it with \`np.save(path, scores.reshape(-1))\``,
    );
  }
  if (arr.dtype !== "<f4" && arr.dtype !== "<f2") {
    throw new DataError(
      `${path} must hold float scores ('<f4' or '<f2'), got '${arr.dtype}'; save it with ` +
        "`np.save(path, scores.astype(np.float32))`",
    );
  }
  if (shape[0] === 0) throw new DataError(`${path} holds no scores; score at least one sample`);
  const scores = arr.dtype === "<f4" ? new Float32Array(toFloat32(arr)) : toFloat32(arr);
  for (let i = 0; i < scores.length; i++) {
    const v = scores[i];
    if (v - v !== 0) {
      throw new DataError(`${path}: score ${v} at index ${i} is not finite; fix the scorer`);
    }
    if (direction === "higher-is-ood") scores[i] = -v;
  }
  return scores;
}
