/**
 * The paper's six scores as plain TypeScript references, with no native package: MSP, ODIN's
 * temperature-scaled softmax, Energy, MOS over a group layout, KL matching and Mahalanobis
 * (fit and score, the authors' -0.5 x distance), plus the symmetric eigen-decomposition and
 * pseudo-inverse they use. The onnxruntime kernels of lib/ort are tested against these.
 *
 * @example MOS of group-softmax logits (layout with "others" at index 0 of every group)
 * ```ts
 * import { groupLayout, matrix, mos } from "./mod.ts";
 * const layout = groupLayout([[0, 1], [2, 3]], 4); // 2 groups of 2 classes, each with "others"
 * const logits = matrix(1, 6, new Float32Array([0, 3, 1, 0, 2, 2]));
 * const scores = mos(layout, logits); // -(min over groups of the "others" probability)
 * ```
 *
 * @module
 */
export * from "./msp.ts";
export * from "./odin.ts";
export * from "./energy.ts";
export * from "./mos.ts";
export * from "./kl_matching.ts";
export * from "./mahalanobis.ts";
export * from "../linalg/symmetric_eigen.ts";
export * from "../linalg/pinv_symmetric.ts";
export { type GroupLayout, groupLayout } from "../groups.ts";
export { type Matrix, matrix } from "../matrix.ts";
