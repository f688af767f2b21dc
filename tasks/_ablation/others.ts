/**
 * The data behind Figures 12 and 13 (and 4): a group head's mean "others" probability per group,
 * averaged over the ID images of each group and over each OOD set. ID images are assigned to the
 * group of their label.
 *
 * @module
 */
import { DataError } from "../../lib/errors.ts";
import { groupLayout, othersProbabilities } from "../../lib/groups.ts";
import { readHead } from "../../lib/io/head.ts";
import { readFeatureSet } from "../../lib/io/feature_set.ts";
import { forEachLogitsChunk, matrixSource } from "../../lib/ort/linear.ts";

/** Mean others probability per group (K values) of one set of images. */
export interface OthersMeans {
  name: string;
  means: number[];
  count: number;
  /** For ID groups: the group the images belong to. */
  ownGroup?: number;
}

/** Result of {@linkcode othersMeans}. */
export interface OthersSummary {
  /** One entry per group: its ID images' mean others probabilities (groups without images omitted). */
  id: OthersMeans[];
  /** One entry per OOD set. */
  ood: OthersMeans[];
}

/**
 * Mean per-group others probability of a group head on the ID set (split by each image's group)
 * and on each OOD set. `groupNames` names the head's groups (one per group).
 */
export async function othersMeans(o: {
  headDir: string;
  id: string;
  ood: { name: string; dir: string }[];
  groupNames: readonly string[];
  threads?: number;
}): Promise<OthersSummary> {
  const head = await readHead(o.headDir);
  if (head.info.kind !== "group") {
    throw new DataError(`${o.headDir} is a flat head; others probabilities need a group head`);
  }
  const C = head.info.num_classes;
  const layout = groupLayout(head.info.groups, C);
  const K = layout.numGroups;
  if (o.groupNames.length !== K) {
    throw new RangeError(`Got ${o.groupNames.length} group names for ${K} groups`);
  }
  const accumulate = async (dir: string, byGroup: boolean) => {
    const set = await readFeatureSet(dir, { numClasses: C });
    const rows = byGroup ? K : 1;
    const sums = new Float64Array(rows * K);
    const counts = new Float64Array(rows);
    await forEachLogitsChunk(
      matrixSource(set.features),
      head.weight,
      head.bias,
      (start, logits) => {
        const p = othersProbabilities(layout, logits);
        for (let i = 0; i < p.rows; i++) {
          let r = 0;
          if (byGroup) {
            const label = set.labels[start + i];
            if (label < 0) continue;
            r = layout.classGroup[label];
          }
          counts[r]++;
          for (let k = 0; k < K; k++) sums[r * K + k] += p.data[i * K + k];
        }
      },
      { threads: o.threads },
    );
    return { sums, counts };
  };
  const idAcc = await accumulate(o.id, true);
  const id: OthersMeans[] = [];
  for (let g = 0; g < K; g++) {
    if (idAcc.counts[g] === 0) continue;
    id.push({
      name: o.groupNames[g],
      means: Array.from({ length: K }, (_, k) => idAcc.sums[g * K + k] / idAcc.counts[g]),
      count: idAcc.counts[g],
      ownGroup: g,
    });
  }
  const ood: OthersMeans[] = [];
  for (const s of o.ood) {
    const acc = await accumulate(s.dir, false);
    ood.push({
      name: s.name,
      means: Array.from({ length: K }, (_, k) => acc.sums[k] / Math.max(1, acc.counts[0])),
      count: acc.counts[0],
    });
  }
  return { id, ood };
}
