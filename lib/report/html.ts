/**
 * HTML text helpers of the report: escaping and the small elements every section builds.
 *
 * @module
 */

/** Escapes `&`, `<`, `>`, `"` and `'` so text can sit in element content or a quoted attribute. */
export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => `&${{ "&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "#39" }[c]};`,
  );
}

/** A fragment id made of `[a-z0-9-]` from any text ("scores/flat" -> "scores-flat"). */
export function slug(s: string): string {
  const t = s.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  return t === "" ? "x" : t;
}

/** Column alignment of a table cell. */
export type Align = "left" | "right";

/**
 * Whether a column holds times (measured seconds, timestamps): its cells differ from run to run,
 * so they carry `class="time"`, and a comparison of two reports can drop exactly them.
 */
export function isTimeColumn(header: string): boolean {
  return /test time|wall time|wall_seconds|^seconds$|^created$|\(s\)$/i.test(header.trim());
}

/**
 * A plain HTML table: header cells, body rows, optional per-column alignment. Cells of time
 * columns ({@linkcode isTimeColumn}) get the class `time`.
 */
export function htmlTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  align?: readonly Align[],
): string {
  const cls = (j: number) => {
    const c = [
      ...(align?.[j] === "right" ? ["num"] : []),
      ...(isTimeColumn(header[j] ?? "") ? ["time"] : []),
    ];
    return c.length ? ` class="${c.join(" ")}"` : "";
  };
  const head = header.map((h, j) => `<th${cls(j)}>${escapeHtml(h)}</th>`).join("");
  const body = rows
    .map((r) => `<tr>${r.map((c, j) => `<td${cls(j)}>${escapeHtml(c)}</td>`).join("")}</tr>`)
    .join("\n");
  return `<div class="table-wrap"><table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table></div>`;
}

/** True when every non-empty cell of column `j` reads as a number (then it is right-aligned). */
export function numericColumn(rows: readonly (readonly string[])[], j: number): boolean {
  let any = false;
  for (const r of rows) {
    const c = (r[j] ?? "").trim();
    if (c === "" || c === "-") continue;
    if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?( ?[±(].*)?$/.test(c)) return false;
    any = true;
  }
  return any;
}
