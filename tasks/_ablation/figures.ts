/**
 * Writing figures: render a spec to SVG (and optionally PNG) into the staging directory of the
 * tables (tasks/_shared/result_dir.ts), and turn per-configuration metrics into the points the
 * figure builders take.
 *
 * @module
 */
import type { StagedWriter } from "../_shared/result_dir.ts";
import type { LinePoint } from "../../lib/figures/line_panels.ts";
import { renderSvg, svgToPng } from "../../lib/figures/render.ts";
import type { VegaLiteSpec } from "../../lib/figures/style.ts";
import type { DatasetMetrics } from "../../lib/tables/ablation_tables.ts";
import { datasetLabel, METRIC_LABELS } from "./common.ts";

/**
 * Renders `spec` and stages it as `<name>.svg` (and `<name>.png` with `png`); returns the final
 * paths. Render warnings go to `log`.
 */
export async function writeFigure(
  w: StagedWriter,
  name: string,
  spec: VegaLiteSpec,
  o: { png: boolean; log: (m: string) => void },
): Promise<string[]> {
  const { svg, warnings } = await renderSvg(spec);
  for (const warning of warnings) o.log(`  figure ${name}: ${warning}`);
  const files = [await w.text(`${name}.svg`, svg)];
  if (o.png) files.push(await w.bytes(`${name}.png`, await svgToPng(svg)));
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
