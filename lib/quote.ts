/**
 * A short, one-line rendering of a value read from a user's file, for error messages: a JSON value
 * can be a megabyte long, deeply nested or hold newlines, and an error must stay one line.
 *
 * @module
 */

/**
 * Characters that would break a message's single line or the terminal: C0 / C1 controls and the
 * Unicode line and paragraph separators. Matching them is this regex's purpose.
 */
// deno-lint-ignore no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** Longest rendering {@linkcode quoteValue} returns by default (characters). */
const MAX_CHARS = 80;
/** Items shown per array / object before "...". */
const MAX_ITEMS = 4;
/** Nesting levels shown before "[...]" / "{...}". */
const MAX_DEPTH = 3;

function render(v: unknown, depth: number): string {
  if (v === undefined) return "undefined";
  if (typeof v === "string") {
    return JSON.stringify(v.length > MAX_CHARS ? v.slice(0, MAX_CHARS) : v);
  }
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
  if (v === null) return "null";
  if (typeof v !== "object") return typeof v;
  if (Array.isArray(v)) {
    if (depth >= MAX_DEPTH) return "[...]";
    const items = v.slice(0, MAX_ITEMS).map((x) => render(x, depth + 1));
    return `[${items.join(", ")}${v.length > MAX_ITEMS ? ", ..." : ""}]`;
  }
  if (depth >= MAX_DEPTH) return "{...}";
  const keys = Object.keys(v);
  const items = keys.slice(0, MAX_ITEMS).map((k) =>
    `${render(k, depth + 1)}: ${render((v as Record<string, unknown>)[k], depth + 1)}`
  );
  return `{${items.join(", ")}${keys.length > MAX_ITEMS ? ", ..." : ""}}`;
}

/**
 * `s` made safe for a one-line message: control and line-separator characters become `?`, and
 * text beyond `max` characters is cut to "...". For names read from files (zip members, dtypes).
 */
export function oneLine(s: string, max: number = MAX_CHARS): string {
  const t = s.replace(UNSAFE, "?");
  return t.length > max ? `${t.slice(0, max - 3)}...` : t;
}

/**
 * Renders `v` JSON-like on one line (control characters escaped), at most `max` characters:
 * strings are quoted, arrays and objects show their first items and levels only.
 *
 * @example
 * ```ts
 * quoteValue([[1, 2, 3, 4, 5, 6]]); // "[[1, 2, 3, 4, ...]]"
 * ```
 */
export function quoteValue(v: unknown, max: number = MAX_CHARS): string {
  // JSON.stringify of a string escapes every control character; the rest has none.
  const s = render(v, 0).replace(UNSAFE, " ");
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}
