/**
 * DICE, Sun and Li, "DICE: Leveraging Sparsification for Out-of-Distribution Detection",
 * ECCV 2022: weights whose expected contribution `mean_act[j] * W[c, j]` (mean activation over ID
 * training features) falls at or below the p-th percentile of all C x D contributions are zeroed,
 * and the score is the energy of the sparsified head's logits. Checked against OpenOOD
 * `openood/postprocessors/dice_postprocessor.py` (`mean_act` over the ID `train` loader,
 * `thresh = np.percentile(contrib, p)`, mask `contrib > thresh`, logsumexp of
 * `(x * masked_w).sum + b`) and `configs/postprocessors/dice.yml` (p = 90, sweep [90]).
 *
 * @module
 */
import { DataError } from "../errors.ts";
import type { Matrix } from "../matrix.ts";
import { type ChunkOptions, linearLogits, type RowSource } from "../ort/linear.ts";
import { checkFeatures, columnMeans, type DetectorHead, energyScore } from "./common.ts";
import { percentileLinear } from "./percentile.ts";

/** A fitted DICE head. */
export interface DiceModel {
  /** O x D weight with the low-contribution entries zeroed. */
  maskedWeight: Matrix;
  /** The contribution threshold. */
  threshold: number;
  /** Fraction of weights kept. */
  kept: number;
}

/** Builds the sparsified weight from the mean training activation (length D). */
export function diceMask(head: DetectorHead, meanActivation: ArrayLike<number>, p = 90): DiceModel {
  const { rows: o, cols: d, data: w } = head.weight;
  if (meanActivation.length !== d) {
    throw new DataError(
      `DICE: mean activation has ${meanActivation.length} values but the head expects ${d}.`,
    );
  }
  const contrib = new Float32Array(o * d);
  for (let c = 0; c < o; c++) {
    for (let j = 0; j < d; j++) contrib[c * d + j] = meanActivation[j] * w[c * d + j];
  }
  const threshold = percentileLinear(contrib, p, "DICE weight contributions");
  const masked = new Float32Array(o * d);
  let kept = 0;
  for (let i = 0; i < masked.length; i++) {
    if (contrib[i] > threshold) {
      masked[i] = w[i];
      kept++;
    }
  }
  return { maskedWeight: { data: masked, rows: o, cols: d }, threshold, kept: kept / (o * d) };
}

/** Fits DICE: mean activation over streamed ID training features, then the mask. */
export async function fitDice(
  train: RowSource,
  head: DetectorHead,
  p = 90,
  opts: ChunkOptions = {},
): Promise<DiceModel> {
  checkFeatures("DICE", train, head);
  return diceMask(head, await columnMeans(train, opts), p);
}

/** DICE score: energy of the sparsified head's logits (higher = more in-distribution). */
export async function dice(
  model: DiceModel,
  head: DetectorHead,
  features: Matrix,
  opts: ChunkOptions = {},
): Promise<Float32Array> {
  checkFeatures("DICE", features, head);
  return energyScore(await linearLogits(features, model.maskedWeight, head.bias, opts));
}
