/**
 * The mean "others" probability of every group (Figures 12 and 13, and Figure 4): one panel per
 * set of images (the ID images of one group, or one OOD set), one bar per group of the head. For ID
 * panels the images' own group is highlighted, as the paper's red boxes do.
 *
 * @module
 */
import { baseConfig, titleOf, VEGA_LITE_SCHEMA, type VegaLiteSpec } from "./style.ts";

/** One panel: the mean others probability of each group for one set of images. */
export interface OthersPanel {
  /** Panel title, e.g. "animal (ID)" or "Textures". */
  name: string;
  /** Mean others probability per group, in group order (fractions in [0, 1]). */
  means: readonly number[];
  /** Index of the images' own group (ID panels), highlighted. */
  ownGroup?: number;
  /** Number of images averaged (shown in the panel title). */
  count?: number;
}

/** Options of {@linkcode othersBarsSpec}. */
export interface OthersBarsOptions {
  panels: readonly OthersPanel[];
  /** Group names, in group order (x axis). */
  groupNames: readonly string[];
  title: string;
  subtitle?: string;
  /** Panels per row (default 4). */
  columns?: number;
  /** Size of one panel in pixels (default 210 wide, so long panel titles fit; 16 per group high). */
  width?: number;
  height?: number;
}

/** Colour of the highlighted own-group bar (the paper's red boxes) and of the other bars. */
export const OTHERS_COLORS = Object.freeze({ own: "#d62728", other: "#4c78a8" });

/**
 * Horizontal bar panels of mean others probabilities on a fixed [0, 1] axis, so panels compare
 * directly.
 * Every panel must have one mean per group.
 */
export function othersBarsSpec(o: OthersBarsOptions): VegaLiteSpec {
  const K = o.groupNames.length;
  const values: Record<string, unknown>[] = [];
  const titles: string[] = [];
  for (const p of o.panels) {
    if (p.means.length !== K) {
      throw new RangeError(
        `Panel "${p.name}" has ${p.means.length} means for ${K} groups; give one per group`,
      );
    }
    const title = p.count === undefined ? p.name : `${p.name} (n = ${p.count})`;
    titles.push(title);
    p.means.forEach((m, k) => {
      values.push({
        panel: title,
        group: o.groupNames[k],
        value: m,
        own: p.ownGroup === k ? "images' own group" : "other groups",
      });
    });
  }
  const hasOwn = o.panels.some((p) => p.ownGroup !== undefined);
  const domain = hasOwn ? ["images' own group", "other groups"] : ["other groups"];
  const range = hasOwn ? [OTHERS_COLORS.own, OTHERS_COLORS.other] : [OTHERS_COLORS.other];
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: titleOf(o.title, o.subtitle),
    data: { values },
    facet: { field: "panel", type: "nominal", sort: titles, header: { title: null } },
    columns: o.columns ?? 4,
    spec: {
      width: o.width ?? 210,
      height: o.height ?? Math.max(60, 16 * K),
      mark: { type: "bar" },
      // Horizontal bars: the group names are written once per row of panels, unrotated.
      encoding: {
        y: {
          field: "group",
          type: "nominal",
          sort: [...o.groupNames],
          title: null,
          axis: { labelLimit: 0 },
        },
        x: {
          field: "value",
          type: "quantitative",
          title: "mean p(others)",
          scale: { domain: [0, 1] },
          axis: { values: [0, 0.25, 0.5, 0.75, 1], format: ".2f" },
        },
        color: {
          field: "own",
          type: "nominal",
          title: null,
          scale: { domain, range },
          legend: hasOwn ? {} : null,
        },
        tooltip: [{ field: "group" }, { field: "value", format: ".3f" }],
      },
    },
    config: baseConfig(),
  };
}
