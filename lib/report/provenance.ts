/**
 * The report's provenance section: one row per `manifest.json` of the results directory (which
 * stage wrote the directory, its seed, the toolkit and Deno versions, the wall time and when),
 * and under it, per manifest, the SHA-256 of every input and the stage's config. A manifest that
 * is not valid JSON is listed as such rather than dropped, so the page never hides a directory.
 *
 * @module
 */
import { escapeHtml, htmlTable, slug } from "./html.ts";
import type { TextFile } from "./scan.ts";

/** One manifest as the page shows it. */
export interface ProvenanceRow {
  /** Directory of the manifest, relative to the results directory ("." for the root). */
  dir: string;
  stage: string;
  seed: string;
  version: string;
  deno: string;
  /** Wall time in seconds, 2 decimals, or "-". */
  wall: string;
  created: string;
  inputs: [string, string][];
  /** Pretty-printed config JSON ("" when absent). */
  config: string;
  /** Why the manifest could not be read, when it could not. */
  error?: string;
}

function str(v: unknown): string {
  if (v === null || v === undefined) return "-";
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** Parses the manifests found by the scan into rows (order kept). */
export function provenanceRows(manifests: readonly TextFile[]): ProvenanceRow[] {
  return manifests.map((m) => {
    const dir = m.rel.includes("/") ? m.rel.slice(0, m.rel.lastIndexOf("/")) : ".";
    let v: Record<string, unknown>;
    try {
      const parsed = JSON.parse(m.text);
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        throw new Error("not a JSON object");
      }
      v = parsed;
    } catch (e) {
      return {
        dir,
        stage: "-",
        seed: "-",
        version: "-",
        deno: "-",
        wall: "-",
        created: "-",
        inputs: [],
        config: "",
        error: `not a readable manifest (${e instanceof Error ? e.message.split("\n")[0] : e})`,
      };
    }
    const inputs = v.inputs !== null && typeof v.inputs === "object" && !Array.isArray(v.inputs)
      ? Object.entries(v.inputs as Record<string, unknown>).map(([k, h]) =>
        [k, str(h)] as [string, string]
      )
      : [];
    const wall = typeof v.wall_seconds === "number" && Number.isFinite(v.wall_seconds)
      ? v.wall_seconds.toFixed(2)
      : "-";
    return {
      dir,
      stage: str(v.stage),
      seed: str(v.seed),
      version: `${str(v.tool)} ${str(v.version)}`,
      deno: str(v.deno),
      wall,
      created: str(v.created),
      inputs,
      config: v.config === undefined ? "" : JSON.stringify(v.config, null, 2),
    };
  });
}

/** The provenance section's HTML body (no heading). */
export function provenanceHtml(rows: readonly ProvenanceRow[]): string {
  if (rows.length === 0) return '<p class="note">No manifest.json in this directory.</p>';
  const summary = htmlTable(
    ["directory", "stage", "seed", "tool", "Deno", "wall time (s)", "created"],
    rows.map((r) => [r.dir, r.stage, r.seed, r.version, r.deno, r.wall, r.created]),
    ["left", "left", "right", "left", "left", "right", "left"],
  );
  const details = rows.map((r) => {
    const body = r.error ? `<p class="note">${escapeHtml(r.error)}</p>` : [
      r.inputs.length
        ? htmlTable(["input", "hash"], r.inputs)
        : '<p class="note">No inputs recorded.</p>',
      r.config ? `<pre>${escapeHtml(r.config)}</pre>` : "",
    ].join("\n");
    return `<details id="manifest-${slug(r.dir)}"><summary>${escapeHtml(r.dir)}: ${
      escapeHtml(r.stage)
    }</summary>\n${body}\n</details>`;
  }).join("\n");
  return `${summary}\n${details}`;
}
