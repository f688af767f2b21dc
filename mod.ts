/**
 * MOS toolkit: the whole programmatic API, the same functions the tasks use. Narrower entry
 * points load less: `./metrics`, `./io` and `./references` (the paper's scores in plain
 * TypeScript) import no native package; `./detectors`, `./train`, `./extract` and `./torch` run
 * on onnxruntime-node (and sharp for images). Scores are higher = more in-distribution.
 *
 * @example Score the demo's group head with MOS
 * ```ts
 * import { groupLayout, linearLogits, mos, readFeatureSet, readHead } from "./mod.ts";
 * const head = await readHead("results/demo/heads/group");
 * const id = await readFeatureSet("results/demo/features/id");
 * const logits = await linearLogits(id.features, head.weight, head.bias);
 * const scores = mos(groupLayout(head.info.groups!, head.info.num_classes), logits);
 * ```
 *
 * @module
 */
export * from "./lib/metrics/mod.ts";
export * from "./lib/io/mod.ts";
export * from "./lib/scores/mod.ts";
export * from "./lib/detectors/mod.ts";
export * from "./lib/train/mod.ts";
export * from "./lib/extract/mod.ts";
export * from "./lib/torch/mod.ts";
export * from "./lib/errors.ts";
export * from "./lib/matrix.ts";
export * from "./lib/random.ts";
export * from "./lib/softmax.ts";
export * from "./lib/groups.ts";
export {
  type ChunkOptions,
  forEachLogitsChunk,
  linearLogits,
  linearLogitsStream,
  matrixSource,
  type RowSource,
} from "./lib/ort/linear.ts";
export { mosFast, type SoftmaxScore, softmaxScoreFast } from "./lib/ort/logit_scores.ts";
export {
  DEFAULT_MAHALANOBIS_BLOCK_MB,
  type FastFitOptions,
  fitMahalanobisFast,
  type InverseMethod,
  mahalanobisFast,
  type MahalanobisScoreOptions,
} from "./lib/ort/mahalanobis_kernel.ts";
export {
  DEFAULT_KL_BLOCK_MB,
  klMatchingFast,
  klMatchingFromLogits,
  type KlOptions,
} from "./lib/ort/kl_kernel.ts";
export { type HeadScore, headScoresStream } from "./lib/ort/head_scores.ts";
export {
  type KlLogTemplates,
  klMatchingFromFeatures,
  logKlTemplates,
  type LogTemplateOptions,
} from "./lib/ort/kl_stream.ts";
export {
  FLAT_METHODS,
  GROUP_METHODS,
  methodHeadKind,
  type MethodKey,
} from "./lib/scoring/methods.ts";
export {
  type KlVariant,
  type NamedSet,
  type ScoreInputs,
  type ScoreResult,
  scoreSets,
  type StepListener,
  type TrainSource,
} from "./lib/scoring/score_sets.ts";
export {
  type BenchmarkOptions,
  type BenchmarkSplit,
  type BenchmarkStrengths,
  generateBenchmark,
  OOD_SET_NAMES,
  type SyntheticBenchmark,
} from "./lib/synthetic/benchmark.ts";
export { randomGroups } from "./lib/grouping/random_grouping.ts";
export { kmeansGroups, type KMeansOptions, type KMeansResult } from "./lib/grouping/kmeans.ts";
export {
  type Grouping,
  taxonomyLevel,
  taxonomyLevels,
  type TaxonomyOptions,
} from "./lib/grouping/taxonomy_levels.ts";
export type { Hierarchy } from "./lib/grouping/hierarchy.ts";
export {
  LABEL_SPACE_NAMES,
  type LabelSpace,
  labelSpaceLevel,
  loadLabelSpace,
} from "./lib/grouping/label_space.ts";
export {
  type CompareLayout,
  table1,
  type Table1Options,
  table3,
  type Table3Options,
} from "./lib/tables/paper_tables.ts";
export type {
  AurocFpr,
  PaperTable1,
  PaperTable1Row,
  PaperTable2Row,
  PaperTable3Row,
} from "./lib/tables/paper_reference.ts";
export type { OodGroups } from "./lib/config/ood_groups.ts";
export {
  type ExtendedEntry,
  type ExtendedMethod,
  extendedTable1,
  type ExtendedTableOptions,
  type PercentMetric,
} from "./lib/tables/extended_table.ts";
export {
  type AblationCompareLayout,
  type AblationEntry,
  ablationTable,
  type AblationTableOptions,
  type DatasetMetrics,
  table2,
  type Table2Entry,
  type Table2Options,
} from "./lib/tables/ablation_tables.ts";
export { type Cell, renderCsv, renderMarkdown, type Table } from "./lib/tables/render.ts";
export { renderTerminal, type TerminalOptions } from "./lib/tables/terminal.ts";
