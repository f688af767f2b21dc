/**
 * The demos' per-set note on inverted methods: reads the computed metrics and returns, for every
 * synthetic OOD set on which a method has AUROC below 50%, one line with the reason its mechanism
 * gives (lib/synthetic/mechanisms.ts). No line is printed for a set where no method inverts.
 *
 * @module
 */
import { parse } from "npm:csv-parse@7.0.3/sync";
import { DETECTORS } from "../../lib/detectors/registry.ts";
import { DataError } from "../../lib/errors.ts";
import { type AurocRow, inversionNotes } from "../../lib/synthetic/mechanisms.ts";
import { methodLabel } from "../../lib/tables/paper_tables.ts";

/** Display name of a method key: the paper's names, else the detector registry's label. */
function label(key: string): string {
  const paper = methodLabel(key);
  if (paper !== key) return paper;
  return DETECTORS.find((d) => d.key === key)?.label ?? key;
}

/**
 * AUROC rows of a metrics CSV with at least the columns `method`, `dataset` and `auroc` (the
 * score stage's metrics.csv, or table1-extended's, which adds `seed`): the mean over seeds, as
 * the tables show it. `file` names the file in errors.
 */
export function aurocRowsOf(text: string, file: string): AurocRow[] {
  let records: Record<string, string>[];
  try {
    records = parse(text, { columns: true, skip_empty_lines: true, trim: true });
  } catch (err) {
    throw new DataError(`${file} is not valid CSV (${(err as Error).message}); rerun the demo`);
  }
  const sums = new Map<string, { method: string; dataset: string; sum: number; n: number }>();
  for (const [i, r] of records.entries()) {
    const auroc = Number(r.auroc);
    if (r.method === undefined || r.dataset === undefined || r.auroc === undefined) {
      throw new DataError(`${file} needs the columns method, dataset, auroc; rerun the demo`);
    }
    if (r.auroc !== "" && r.auroc !== "NaN" && !Number.isFinite(auroc)) {
      throw new DataError(`${file} line ${i + 2}: auroc "${r.auroc}" is not a number; rerun`);
    }
    const key = `${r.method}\u0000${r.dataset}`;
    const e = sums.get(key) ?? { method: r.method, dataset: r.dataset, sum: 0, n: 0 };
    e.sum += r.auroc === "" ? NaN : auroc;
    e.n++;
    sums.set(key, e);
  }
  return [...sums.values()].map((e) => ({
    method: e.method,
    dataset: e.dataset,
    auroc: e.sum / e.n,
  }));
}

/**
 * The inversion notes of the metrics in `metricsFiles`, in the mechanisms' set order. A missing
 * or malformed file is a `DataError` naming it.
 */
export async function inversionNotesOf(metricsFiles: readonly string[]): Promise<string[]> {
  const rows: AurocRow[] = [];
  for (const file of metricsFiles) {
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch {
      throw new DataError(`${file} not found; rerun the demo with --force`);
    }
    rows.push(...aurocRowsOf(text, file));
  }
  return inversionNotes(rows, { label });
}
