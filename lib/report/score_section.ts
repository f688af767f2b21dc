/**
 * From the score files of a results directory to the report's score figures: every method's
 * ID and OOD scores are read once, and drawn as ROC and precision-recall curves (one panel per
 * OOD set, one line per method) and as ID-vs-OOD histograms (one row per method). Methods are
 * drawn in chunks of at most {@linkcode SERIES_PER_FIGURE}, so every line keeps a distinct colour
 * and a table1-extended run (26 detectors) stays readable.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import { readNpy, toFloat32 } from "../io/npy.ts";
import { PAPER_DATASET_LABELS, PAPER_METHOD_LABELS } from "../tables/paper_reference.ts";
import { curvesOf, histogram, histogramRange } from "./curves.ts";
import {
  type CurveSeries,
  curvesSpec,
  type HistogramPanel,
  histogramsSpec,
} from "./score_figures.ts";
import type { ScoreSet } from "./scan.ts";
import type { VegaLiteSpec } from "../figures/style.ts";

/** Most methods drawn in one figure (the fallback palette has 8 colours besides MSP and MOS). */
export const SERIES_PER_FIGURE = 8;

/** Bins of every histogram. */
export const HISTOGRAM_BINS = 40;

/** Vertices a drawn curve keeps at most (about; see rocPoints). */
export const CURVE_POINTS = 200;

/** Display name of a data set: the paper's spelling for its four sets, else the key. */
export function datasetName(key: string): string {
  return PAPER_DATASET_LABELS[key] ?? key;
}

/**
 * The legend name of each score set: its label (result.json, else the paper's method name, else
 * the key), made unique by the score directory's last path component when two sets share a
 * label ("MOS (taxonomy_k8)"), or by the whole directory if that is not enough.
 */
export function seriesNames(sets: readonly ScoreSet[]): string[] {
  const base = sets.map((s) => s.label ?? PAPER_METHOD_LABELS[s.method] ?? s.method);
  const unique = (names: string[]) => new Set(names).size === names.length;
  if (unique(base)) return base;
  const tail = (g: string) => (g === "" ? "." : g.slice(g.lastIndexOf("/") + 1));
  const short = base.map((b, i) =>
    base.filter((x) => x === b).length > 1 ? `${b} (${tail(sets[i].group)})` : b
  );
  if (unique(short)) return short;
  return base.map((b, i) =>
    base.filter((x) => x === b).length > 1 ? `${b} (${sets[i].group || "."})` : b
  );
}

/** Splits `n` items into the fewest chunks of at most `max`, sizes differing by at most one. */
export function chunkSizes(n: number, max: number): number[] {
  if (n === 0) return [];
  const k = Math.ceil(n / max);
  return Array.from({ length: k }, (_, i) => Math.floor(n / k) + (i < n % k ? 1 : 0));
}

/** A method's scores, read and checked. */
interface LoadedSet {
  name: string;
  set: ScoreSet;
  id: Float32Array;
  ood: Float32Array[];
}

/** The figure specs of the score section and the lines the page shows about them. */
export interface ScoreFigures {
  /** Curve figures, then histogram figures, each with a caption. */
  figures: { kind: "curves" | "histograms"; spec: VegaLiteSpec; caption: string }[];
  /** One line per method drawn: series name, score directory, ID and OOD counts. */
  drawn: { series: string; where: string; id: string; idCount: number; ood: [string, number][] }[];
  /** Score sets that could not be drawn, one line each. */
  problems: string[];
}

async function load(name: string, set: ScoreSet): Promise<LoadedSet> {
  const read = async (n: string) => {
    const a = toFloat32(await readNpy(set.files[n]));
    for (let i = 0; i < a.length; i++) {
      if (a[i] - a[i] !== 0) {
        throw new DataError(`${set.files[n]}: score ${i} is ${a[i]}; a score must be finite`);
      }
    }
    if (a.length === 0) throw new DataError(`${set.files[n]} holds no scores`);
    return a;
  };
  const id = await read(set.id);
  const ood: Float32Array[] = [];
  for (const n of set.ood) ood.push(await read(n));
  return { name, set, id, ood };
}

/** The curves and histogram panels of a few loaded sets, with the panel order they first use. */
function chunkSeries(chunk: readonly LoadedSet[]): {
  panelOrder: string[];
  curves: CurveSeries[];
  panels: HistogramPanel[];
  clipped: number;
} {
  const panelOrder: string[] = [];
  const curves: CurveSeries[] = [];
  const panels: HistogramPanel[] = [];
  let clipped = 0;
  for (const l of chunk) {
    const range = histogramRange([l.id, ...l.ood]);
    clipped += range.clipped;
    const idHist = histogram(l.id, range, HISTOGRAM_BINS);
    l.set.ood.forEach((key, k) => {
      const panel = datasetName(key);
      if (!panelOrder.includes(panel)) panelOrder.push(panel);
      const ood = l.ood[k];
      const c = curvesOf(l.id, ood, CURVE_POINTS);
      curves.push({
        panel,
        series: l.name,
        roc: c.roc,
        pr: c.pr,
        idFraction: l.id.length / (l.id.length + ood.length),
      });
      panels.push({
        panel,
        series: l.name,
        auroc: 100 * c.auroc,
        id: idHist,
        ood: histogram(ood, range, HISTOGRAM_BINS),
      });
    });
  }
  return { panelOrder, curves, panels, clipped };
}

type ScoreFigure = ScoreFigures["figures"][number];

/** The curve figure and the histogram figure of one chunk; `part` is "" or " (i of n)". */
function chunkFigures(
  chunk: readonly LoadedSet[],
  part: string,
  subtitle: string | undefined,
): { curves: ScoreFigure; histograms: ScoreFigure } {
  const { panelOrder, curves, panels, clipped } = chunkSeries(chunk);
  const seriesOrder = chunk.map((l) => l.name);
  const sub = subtitle ? [subtitle] : [];
  const curveFig: ScoreFigure = {
    kind: "curves",
    spec: curvesSpec({
      curves,
      title: `ROC and precision-recall curves${part}`,
      subtitle: [
        ...sub,
        "Top: ROC (dashed: TPR 95%, where FPR95 is read). Bottom: precision-recall, ID " +
        "positive",
        "(dashed: the ID share, a guessing detector's precision). All panels share 0-100 axes.",
      ],
      panelOrder,
      seriesOrder,
    }),
    caption: `ROC and precision-recall curves of ${seriesOrder.join(", ")}, one panel per OOD ` +
      "set.",
  };
  const clipNote = clipped > 0
    ? [
      `${clipped} scores beyond the 0.5-99.5 percentile range of a long-tailed row are ` +
      "counted in its end bins.",
    ]
    : [];
  const histFig: ScoreFigure = {
    kind: "histograms",
    spec: histogramsSpec({
      panels,
      title: `Score histograms, ID vs OOD${part}`,
      subtitle: [
        ...sub,
        `% of each set per bin (${HISTOGRAM_BINS} bins); higher score = more ID.`,
        "Panels of a row share bins and axes; rows differ because the methods' scores do.",
        ...clipNote,
      ],
      seriesOrder,
      panelOrder,
    }),
    caption: `Histograms of the ID and OOD scores of ${seriesOrder.join(", ")}.`,
  };
  return { curves: curveFig, histograms: histFig };
}

/**
 * Reads every score set and builds the curve and histogram specs. A set whose files cannot be
 * read (not a `.npy`, non-finite scores) is left out and named in `problems`.
 */
export async function scoreFigures(
  sets: readonly ScoreSet[],
  o: { subtitle?: string } = {},
): Promise<ScoreFigures> {
  const names = seriesNames(sets);
  const loaded: LoadedSet[] = [];
  const problems: string[] = [];
  for (let i = 0; i < sets.length; i++) {
    try {
      loaded.push(await load(names[i], sets[i]));
    } catch (e) {
      if (!(e instanceof DataError)) throw e;
      problems.push(`${names[i]}: ${e.message}; not drawn`);
    }
  }
  // At most SERIES_PER_FIGURE methods per figure; all curve figures come before the histograms.
  const sizes = chunkSizes(loaded.length, SERIES_PER_FIGURE);
  const curveFigs: ScoreFigure[] = [];
  const histFigs: ScoreFigure[] = [];
  let start = 0;
  sizes.forEach((size, c) => {
    const part = sizes.length > 1 ? ` (${c + 1} of ${sizes.length})` : "";
    const f = chunkFigures(loaded.slice(start, start + size), part, o.subtitle);
    start += size;
    curveFigs.push(f.curves);
    histFigs.push(f.histograms);
  });
  const drawn = loaded.map((l) => ({
    series: l.name,
    where: l.set.group === "" ? "." : l.set.group,
    id: l.set.id,
    idCount: l.id.length,
    ood: l.set.ood.map((n, k) => [datasetName(n), l.ood[k].length] as [string, number]),
  }));
  return { figures: [...curveFigs, ...histFigs], drawn, problems };
}
