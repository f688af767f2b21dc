/**
 * KL matching (Hendrycks et al. 2022, the MOS paper's baseline) as a registry entry: templates are
 * mean softmax vectors per class, the score is `-min_c KL(p || template_c)`. One entry, two
 * variants (parameter `variant`):
 * - "paper": templates from the ground-truth labels of the evaluated ID set, as the released code
 *   built them (the fit reads `ctx.id`);
 * - "clean": templates from the predicted labels of a held-out ID split (`ctx.train`, streamed),
 *   so no label of the evaluated set reaches the detector.
 * Under the held-out protocol the templates come from the predicted labels of ID-val, which the
 * test never sees, whatever the variant.
 *
 * Fast path: lib/ort/kl_kernel.ts (the softmax inside the graph); reference: lib/scores/.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import { type Matrix, rowArgmax } from "../matrix.ts";
import { type ChunkOptions, forEachLogitsChunk, type RowSource } from "../ort/linear.ts";
import { klMatchingFromLogits } from "../ort/kl_kernel.ts";
import { klMatching, klTemplates, klTemplatesClean } from "../scores/kl_matching.ts";
import { softmaxRows } from "../softmax.ts";
import { checkLogitsFinite, type DetectorHead } from "./common.ts";
import { defineDetector, need } from "./detector.ts";

/** The KL template variants. */
export type KlVariant = "paper" | "clean";

type KlParams = { variant: KlVariant };

/** KL's model: the K x K templates, the kernel threads and its template block bound. */
interface KlModel {
  templates: Matrix;
  threads?: number;
  blockMb?: number;
}

/**
 * Templates from the predicted labels of a streamed held-out split. A chunk whose logits are not
 * finite stops the fit: its softmax would be NaN, and a NaN template row is skipped by the
 * score, which would silently drop a class.
 */
export async function cleanTemplatesStream(
  head: DetectorHead,
  source: RowSource,
  opts: ChunkOptions = {},
): Promise<Matrix> {
  const K = head.weight.rows;
  const sums = new Float64Array(K * K);
  const counts = new Float64Array(K);
  await forEachLogitsChunk(source, head.weight, head.bias, (start, logits) => {
    checkLogitsFinite("KL matching templates (clean variant)", logits, start);
    const probs = softmaxRows(logits);
    const p = probs.data;
    for (let i = 0; i < probs.rows; i++) {
      const base = i * K;
      const best = rowArgmax(probs, i);
      counts[best]++;
      const dst = best * K;
      for (let j = 0; j < K; j++) sums[dst + j] += p[base + j];
    }
  }, { threads: opts.threads });
  const out = new Float32Array(K * K);
  for (let c = 0; c < K; c++) {
    for (let j = 0; j < K; j++) out[c * K + j] = counts[c] > 0 ? sums[c * K + j] / counts[c] : NaN;
  }
  return { data: out, rows: K, cols: K };
}

/** Templates from the evaluated ID set's ground-truth labels (the paper variant). */
function paperTemplates(
  head: DetectorHead,
  id: { labels: Int32Array; logits: Matrix; file?: string },
): Matrix {
  if (id.labels.some((l) => l < 0)) {
    throw new DataError(
      `KL matching (paper variant) builds templates from the ID set's ground-truth labels, but ` +
        `${id.file ?? "its labels"} has -1 entries; label the ID set or use the clean variant ` +
        `with a training set`,
    );
  }
  // Classes without ID rows would be NaN rows that the score skips: leave them out.
  return klTemplates(softmaxRows(id.logits), id.labels, head.weight.rows, { dropEmpty: true });
}

/** KL matching; see the module doc. */
export const KL_DETECTOR = defineDetector<KlModel, KlParams>({
  key: "kl",
  label: "KL Matching",
  paper: true,
  needs: { head: "flat", logits: true, labels: true, evaluatedId: true },
  hyperparameters: { variant: { default: "paper", grid: ["paper"] } },
  needsWith: (p) =>
    p.variant === "clean"
      ? { train: true, labels: false, evaluatedId: false }
      : { labels: true, evaluatedId: true },
  noteFor: (protocol, p) =>
    protocol === "heldout"
      ? "kl: templates from the predicted labels of ID-val"
      : p.variant === "paper"
      ? "kl: paper variant (templates from ground-truth labels of the evaluated ID set)"
      : "kl: clean variant (templates from predicted labels of the training features)",
  fit: async (ctx, p) => {
    const threads = ctx.chunk?.threads;
    const blockMb = ctx.blockMb;
    if (ctx.protocol === "heldout") {
      const val = need(ctx.idVal, "kl", "the ID validation split's logits");
      return { templates: klTemplatesClean(softmaxRows(val.logits)), threads, blockMb };
    }
    if (p.variant === "paper") {
      const id = need(ctx.id, "kl", "the evaluated ID set's logits and labels (paper variant)");
      return { templates: paperTemplates(ctx.head, id), threads, blockMb };
    }
    const train = need(ctx.train, "kl", "a held-out ID split of training features (clean variant)");
    return {
      templates: await cleanTemplatesStream(ctx.head, train.features, { threads }),
      threads,
      blockMb,
    };
  },
  score: (m, _x, z) =>
    klMatchingFromLogits(z, m.templates, { threads: m.threads, blockMb: m.blockMb }),
  reference: (m, _x, z) => klMatching(softmaxRows(z), m.templates),
});
