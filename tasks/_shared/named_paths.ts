/**
 * `NAME=PATH` flag values (`--ood sun=features/sun`), shared by score (feature set directories)
 * and evaluate (score files), and the check that every name is used once.
 *
 * @module
 */
import { UsageError } from "../../lib/errors.ts";

/** A set name and the path given for it. */
export interface NamedArg {
  name: string;
  path: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * Parses `NAME=PATH` given to `--flag`; a bare `PATH` takes `defaultName` when there is one.
 * `what` ("DIR", "FILE") and `example` only word the error.
 */
export function parseNamedPath(
  raw: string,
  flag: string,
  what: string,
  example: string,
  defaultName?: string,
): NamedArg {
  const eq = raw.indexOf("=");
  if (eq === -1 && defaultName) return { name: defaultName, path: raw };
  const name = raw.slice(0, eq);
  const path = raw.slice(eq + 1);
  if (eq === -1 || !NAME.test(name) || path === "") {
    throw new UsageError(
      `--${flag} "${raw}" must be NAME=${what} (NAME of letters, digits, "_", "-", "."), ` +
        `e.g. --${flag} sun=${example}`,
    );
  }
  return { name, path };
}

/**
 * `--id [NAME=]PATH` (NAME defaults to "id") and one or more `--ood NAME=PATH`, with distinct
 * names. `what` ("DIR", "FILE") and `example` word the errors.
 */
export function parseIdAndOod(
  idRaw: string,
  oodRaws: readonly string[],
  what: string,
  example: string,
): { id: NamedArg; ood: NamedArg[] } {
  const id = parseNamedPath(idRaw, "id", what, example, "id");
  if (oodRaws.length === 0) {
    throw new UsageError(`--ood NAME=${what} is required (at least one OOD set)`);
  }
  const ood = oodRaws.map((raw) => parseNamedPath(raw, "ood", what, example));
  assertUniqueNames([id.name, ...ood.map((o) => o.name)]);
  return { id, ood };
}

/** Throws a UsageError naming the first name given twice. */
export function assertUniqueNames(names: readonly string[]): void {
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new UsageError(`Set name "${dup}" is used twice; give each one its own NAME`);
}
