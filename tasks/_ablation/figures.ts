/**
 * Writing figures: render a spec to SVG (and optionally PNG) atomically beside the tables, and
 * turn per-configuration metrics into the points the figure builders take.
 *
 * @module
 */
import { writeFileAtomic, writeTextAtomic } from "../../lib/io/atomic.ts";
import type { LinePoint } from "../../lib/figures/line_panels.ts";
import { renderSvg, svgToPng } from "../../lib/figures/render.ts";
import type { VegaLiteSpec } from "../../lib/figures/style.ts";
import type { DatasetMetrics } from "../../lib/tables/ablation_tables.ts";
import { datasetLabel, METRIC_LABELS } from "./common.ts";

/**
 * Renders `spec` to `<path>.svg` (and `<path>.png` with `png`); returns the written paths. Render
 * warnings go to `log`.
 */
export async function writeFigure(
  path: string,
  spec: VegaLiteSpec,
  o: { png: boolean; log: (m: string) => void },
): Promise<string[]> {
  const { svg, warnings } = await renderSvg(spec);
  for (const w of warnings) o.log(`  figure ${path}: ${w}`);
  await writeTextAtomic(`${path}.svg`, svg);
  const files = [`${path}.svg`];
  if (o.png) {
    await writeFileAtomic(`${path}.png`, await svgToPng(svg));
    files.push(`${path}.png`);
  }
  return files;
}

/** AUROC and FPR95 line points of one series at one x, one per OOD set. */
export function metricPoints(
  x: number | string,
  series: string,
  metrics: DatasetMetrics,
  datasets: readonly string[],
): LinePoint[] {
  const out: LinePoint[] = [];
  for (const d of datasets) {
    const m = metrics[d];
    if (!m) continue;
    out.push({ x, series, panel: datasetLabel(d), metric: METRIC_LABELS.auroc, value: m.auroc });
    out.push({ x, series, panel: datasetLabel(d), metric: METRIC_LABELS.fpr95, value: m.fpr95 });
  }
  return out;
}
