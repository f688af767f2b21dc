/**
 * Whether a feature set's labels can be a head's class indices. An ImageNet subset extracted with
 * folder-order labels (0..k-1 instead of the true ImageNet indices) scores silently wrong: the
 * labels' range then differs from the head's C. Extract now maps wnid folders to ImageNet
 * indices (lib/extract/image_list.ts), but sets made before, or lists with their own labels, can
 * still disagree; score says so.
 *
 * @module
 */
import { readHead } from "../io/head.ts";
import { readNpy } from "../io/npy.ts";

/**
 * One warning line when the labels (ignoring -1) stop short of the head's C - 1, else null.
 * Labels at or beyond C are not warned about: scoring rejects them with its own error, and a
 * warning before that error would only repeat it. `where` names the labels file.
 */
export function labelRangeWarning(
  labels: ArrayLike<number>,
  numClasses: number,
  where: string,
): string | null {
  let max = -1;
  for (let i = 0; i < labels.length; i++) if (labels[i] > max) max = labels[i];
  if (max < 0 || max + 1 >= numClasses) return null;
  return `${where} has labels up to ${max} but the head has ${numClasses} classes: fine for a ` +
    "subset labelled with its true class indices, wrong if its labels are its folders' order " +
    "(re-extract it: ImageNet wnid folders now get their ImageNet-1k indices)";
}

/**
 * {@linkcode labelRangeWarning} for each feature set directory in `dirs` against the head in
 * `headDir`; sets without labels.npy are skipped. Errors reading them are left to the scoring
 * itself, which reports them properly.
 */
export async function labelRangeWarnings(
  headDir: string,
  dirs: readonly string[],
): Promise<string[]> {
  let numClasses: number;
  try {
    numClasses = (await readHead(headDir)).info.num_classes;
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const dir of dirs) {
    let labels: ArrayLike<number>;
    try {
      labels = (await readNpy(`${dir}/labels.npy`)).data as ArrayLike<number>;
    } catch {
      continue;
    }
    const w = labelRangeWarning(labels, numClasses, `${dir}/labels.npy`);
    if (w) out.push(w);
  }
  return out;
}
