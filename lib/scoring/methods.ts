/**
 * The paper's six OOD scores by key, and which head kind each needs.
 *
 * @module
 */
import { DataError } from "../errors.ts";

/** Method keys as used in `scores/<method>/` and `metrics.csv`. */
export type MethodKey = "msp" | "odin" | "energy" | "mahalanobis" | "kl" | "mos";

/** All paper methods in the paper's Table 1 order. */
export const PAPER_METHODS: readonly MethodKey[] = [
  "msp",
  "odin",
  "mahalanobis",
  "energy",
  "kl",
  "mos",
];

/** Methods that score a flat softmax head. */
export const FLAT_METHODS: readonly MethodKey[] = ["msp", "odin", "mahalanobis", "energy", "kl"];

/** Methods that score a group-softmax head. */
export const GROUP_METHODS: readonly MethodKey[] = ["mos"];

/** Head kind each method needs. */
export function methodHeadKind(method: MethodKey): "flat" | "group" {
  return method === "mos" ? "group" : "flat";
}

/**
 * Checks that every method fits the head kind; a flat-head method on a group head (or MOS on a
 * flat head) is a DataError naming the method, the head and what to do.
 */
export function checkMethodsForHead(
  methods: readonly MethodKey[],
  kind: "flat" | "group",
  headDir: string,
): void {
  for (const m of methods) {
    const need = methodHeadKind(m);
    if (need !== kind) {
      throw new DataError(
        need === "flat"
          ? `Method "${m}" needs a flat softmax head but ${headDir} is a group head; ` +
            `score it with a head trained with --groups flat (or drop "${m}" from --methods)`
          : `Method "mos" needs a group-softmax head but ${headDir} is a flat head; ` +
            `train one with --groups taxonomy or --groups FILE.json (or drop "mos" from --methods)`,
      );
    }
  }
}
