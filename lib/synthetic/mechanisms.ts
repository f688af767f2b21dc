/**
 * What each OOD set of the synthetic benchmark (benchmark.ts) models, and why a detector can rank
 * a set as MORE in-distribution than the ID test set (AUROC below 50%). Each set is made by one
 * mechanism that reproduces an effect documented on real OOD data; the demo prints, for every set
 * on which a method inverts, one line that names the methods and gives the reason that the set's
 * mechanism implies for that kind of score. The lines are chosen from the computed metrics, never
 * printed unconditionally.
 *
 * Detectors are sorted into four families by what their score reads, because the mechanisms act
 * on those quantities: the softmax's shape (`confidence`), the logits' size (`logit`), distances
 * or densities in feature space (`feature`) and the group softmax's "others" probabilities
 * (`group`).
 *
 * @module
 */

/** What a detector's score reads (see the module documentation). */
export type ScoreFamily = "confidence" | "logit" | "feature" | "group";

/** The documented effect one OOD set models. */
export interface OodMechanism {
  /** The OOD set's name (benchmark.ts `OOD_SET_NAMES`). */
  set: string;
  /** Real OOD set(s) that show the effect. */
  like: string;
  /** The effect, one sentence. */
  effect: string;
  /** Where the effect is documented. */
  source: string;
  /** Why a score of each family would rank this set above ID: what the mechanism does to it. */
  inverts: Readonly<Record<ScoreFamily, string>>;
}

/** The four mechanisms, in the benchmark's OOD set order. */
export const OOD_MECHANISMS: readonly OodMechanism[] = Object.freeze([
  {
    set: "novel-groups",
    like: "iNaturalist (far OOD)",
    effect: "classes of super-classes the model never saw, whose images activate the learned " +
      "features less, so their features have a lower norm than ID features",
    source: "semantic shift with the feature-norm gap of unknown inputs (Dhamija et al., " +
      "NeurIPS 2018) that Energy, ReAct and ASH exploit; the paper's iNaturalist",
    inverts: {
      confidence: "the new classes' own directions project onto some known class's weights by " +
        "chance, so the softmax can peak as sharply as for ID images: a linear head " +
        "extrapolates confidently away from its data (Hein et al., CVPR 2019)",
      logit: "each unseen super-class borrows part of a known super-class's direction, and " +
        "that shared part can raise the known group's logits more than the lower norm lowers them",
      feature: "weaker activations pull the features towards the centre of the class means, " +
        "closer to the nearest mean than full-strength ID images are (the paper's Mahalanobis " +
        "scores 46% AUROC on iNaturalist)",
      group: "an unseen super-class that borrows a known group's direction can be claimed by " +
        "that group with a low 'others' probability, as an ID image is",
    },
  },
  {
    set: "novel-classes",
    like: "SSB-hard, NINCO (near OOD)",
    effect: "new classes inside known super-classes, drawn exactly like the known classes",
    source: "semantic shift within the super-class: the Semantic Shift Benchmark (Vaze et al., " +
      "ICLR 2022) and NINCO (Bitterwolf et al., ICML 2023)",
    inverts: {
      confidence: "a new class is drawn like a known class of its super-class and differs from " +
        "ID only in having no weight vector of its own, so where a sibling's weights fit it the " +
        "softmax is as confident as for ID; near OOD is where post-hoc scores come closest to chance",
      logit: "its activations are as strong as an ID image's and it shares its super-class's " +
        "direction, so the logits' size carries almost no signal",
      feature: "it is drawn like the known classes of its super-class, so in feature space it " +
        "sits as close to the ID data (class means, nearest neighbours, principal subspace) as " +
        "an ID image does (Mahalanobis is near chance on near-OOD ImageNet benchmarks, OpenOOD v1.5)",
      group: "it belongs to a known super-class, whose softmax places it with a low 'others' " +
        "probability like an ID image: grouping cannot flag new classes in known groups",
    },
  },
  {
    set: "group-mixtures",
    like: "SUN, Places (scenes)",
    effect: "two known objects from different super-classes in one image, so the evidence is " +
      "split between two classes and two groups",
    source: "scene images that contain ImageNet objects: SUN and ImageNet-1k have overlapping " +
      "categories (MOS paper, sec. 4.1), and ID objects appear in these OOD sets (Bitterwolf et " +
      "al., ICML 2023)",
    inverts: {
      confidence: "the larger of the two objects is a known class at well over half strength, " +
        "so the softmax can be as peaked as for an ID image of a hard class",
      logit: "two objects' evidence adds up, each raising its own class's logits, so the logit " +
        "mass can exceed a single object's, as on multi-object images (Wang et al., NeurIPS 2021)",
      feature: "a mixture lies between two class means, at most half their distance from the " +
        "nearer one, which can be within the ID noise",
      group: "each of the two groups sees one of its own classes, so both can report a low " +
        "'others' probability, as for an ID image",
    },
  },
  {
    set: "diffuse-texture",
    like: "Textures",
    effect: "weak object evidence spread over many classes, plus a few channels activated far " +
      "above their ID range",
    source: "OOD images fire a few units abnormally strongly (Sun et al., ReAct, NeurIPS " +
      "2021); on Textures, feature-space detectors do better than logit scores (the paper's " +
      "Mahalanobis has its best FPR95 there)",
    inverts: {
      confidence: "the few abnormally strong channels feed the head linearly and push some " +
        "class's logit far up, and far from the data a ReLU network is overconfident (Hein et " +
        "al., CVPR 2019)",
      logit: "the few abnormally strong channels raise the logits (what ReAct's clipping undoes)",
      feature: "weak, diffuse evidence puts the features near the average of all classes, " +
        "where a shared-covariance distance is small; only the few strong channels set them apart",
      group: "the strong channels can lift one group's class logits above its 'others' logit",
    },
  },
]);

/**
 * Family of each detector key: the paper's six methods and those of lib/detectors/registry.ts.
 * ODIN is a logit score here: at T = 1000 without perturbation it ranks by the max logit's lead
 * over the mean logit. GradNorm is the feature norm times a softmax term, and its feature-norm
 * part dominates. ViM, fDBD and NNGuide combine a logit term with a feature-space one; the
 * feature-space term is what sets them apart from Energy, so they are counted there. OpenMax's
 * score is a maximum softmax probability (over its recalibrated logits); Relation sums
 * feature-space similarities to the training rows (weighted by softmax agreement), as KNN does.
 */
export const SCORE_FAMILIES: Readonly<Record<string, ScoreFamily>> = Object.freeze({
  msp: "confidence",
  temperature: "confidence",
  gen: "confidence",
  kl: "confidence",
  openmax: "confidence",
  odin: "logit",
  energy: "logit",
  mls: "logit",
  react: "logit",
  "ash-p": "logit",
  "ash-b": "logit",
  "ash-s": "logit",
  scale: "logit",
  dice: "logit",
  gradnorm: "logit",
  mahalanobis: "feature",
  "mahalanobis-multilayer": "feature",
  knn: "feature",
  vim: "feature",
  residual: "feature",
  rmds: "feature",
  she: "feature",
  fdbd: "feature",
  nnguide: "feature",
  relation: "feature",
  mos: "group",
  "mos-temperature": "group",
  "mos-react": "group",
});

/** One metric value: a method's AUROC (percent) on one data set. */
export interface AurocRow {
  method: string;
  dataset: string;
  /** AUROC in percent. */
  auroc: number;
}

/** Options of {@linkcode inversionNotes}. */
export interface InversionNoteOptions {
  /** Display name of a method key (default: the key). */
  label?: (method: string) => string;
  /** The mechanisms (default {@linkcode OOD_MECHANISMS}). */
  mechanisms?: readonly OodMechanism[];
}

/**
 * One line per OOD set on which at least one method has AUROC below 50%: the set, the inverted
 * methods with their AUROC, and for each family among them the reason the set's mechanism gives.
 * Sets without a mechanism and NaN values are skipped; sets come in mechanism order, methods in
 * the order of `rows`. An unknown method key gets the mechanism's effect as its reason.
 *
 * @example
 * ```ts
 * inversionNotes([{ method: "msp", dataset: "diffuse-texture", auroc: 44.2 }]);
 * // ["diffuse-texture: below chance, msp 44.20% AUROC: the few abnormally strong channels ..."]
 * ```
 */
export function inversionNotes(
  rows: readonly AurocRow[],
  options: InversionNoteOptions = {},
): string[] {
  const label = options.label ?? ((m: string) => m);
  const out: string[] = [];
  for (const mech of options.mechanisms ?? OOD_MECHANISMS) {
    const below = rows.filter((r) => r.dataset === mech.set && r.auroc < 50);
    if (below.length === 0) continue;
    // One clause per family, in order of first appearance; unknown keys share one clause.
    const clauses = new Map<string, { methods: string[]; reason: string }>();
    for (const r of below) {
      const family = SCORE_FAMILIES[r.method];
      const key = family ?? "unknown";
      const reason = family
        ? mech.inverts[family]
        : `the set models ${mech.effect}, which this score does not separate`;
      const entry = clauses.get(key) ?? { methods: [], reason };
      entry.methods.push(`${label(r.method)} ${r.auroc.toFixed(2)}%`);
      clauses.set(key, entry);
    }
    const parts = [...clauses.values()].map((c) => `${c.methods.join(", ")} AUROC: ${c.reason}`);
    out.push(`${mech.set}: below chance, ${parts.join("; ")}.`);
  }
  return out;
}
