/**
 * Output containment: a task writes only under its own output directory, and that directory must
 * not overlap any of the task's inputs. Paths are compared after resolving symlinks (realpath), so
 * `--out` given through a link to a feature set, or as `set/../set`, is still recognised.
 *
 * @module
 */
import { UsageError } from "../errors.ts";

/** An input of a task, named by where it came from (e.g. `--features`, `shard 3`). */
export interface NamedPath {
  /** Where the path came from, as error messages name it (e.g. `--features`). */
  label: string;
  /** The input's file or directory. */
  path: string;
}

/**
 * The absolute, symlink-free form of `path`. A path that does not exist yet is resolved through
 * its nearest existing ancestor, so an `--out` that the task is about to create compares correctly.
 */
export function resolvePath(path: string): string {
  const abs = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  const parts = abs.split("/").filter((p) => p !== "" && p !== ".");
  const tail: string[] = [];
  for (;;) {
    const head = "/" + parts.join("/");
    try {
      const real = Deno.realPathSync(head);
      return normalise([real, ...tail.reverse()].join("/"));
    } catch {
      if (parts.length === 0) return normalise("/" + tail.reverse().join("/"));
      tail.push(parts.pop() as string);
    }
  }
}

/** Collapses `.`, `..` and repeated slashes of an absolute path. */
function normalise(abs: string): string {
  const out: string[] = [];
  for (const p of abs.split("/")) {
    if (p === "" || p === ".") continue;
    if (p === "..") out.pop();
    else out.push(p);
  }
  return "/" + out.join("/");
}

/** Whether resolved path `inner` is `outer` or lies below it. */
export function isWithin(inner: string, outer: string): boolean {
  return inner === outer || outer === "/" || inner.startsWith(outer + "/");
}

/**
 * Refuses (UsageError, exit 2) an output directory that equals, contains or lies inside one of
 * `inputs`. Call it before anything is created or written under `out`.
 *
 * @example
 * ```ts
 * assertOutsideInputs({ label: "--out", path: "results/scores" }, [
 *   { label: "--head", path: "results/heads/flat" },
 *   { label: "--id", path: "data/features/imagenet_val" },
 * ]);
 * ```
 */
export function assertOutsideInputs(out: NamedPath, inputs: readonly NamedPath[]): void {
  const o = resolvePath(out.path);
  for (const input of inputs) {
    const i = resolvePath(input.path);
    const relation = o === i
      ? "is"
      : isWithin(i, o)
      ? "contains"
      : isWithin(o, i)
      ? "lies inside"
      : "";
    if (relation === "") continue;
    throw new UsageError(
      `${out.label} ${out.path} ${relation} ${input.label} ${input.path}${
        o === out.path && i === input.path ? "" : ` (resolved: ${o} and ${i})`
      }; a task never writes into its inputs: choose an output directory outside them`,
    );
  }
}
