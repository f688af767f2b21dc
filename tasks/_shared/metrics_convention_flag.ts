/**
 * `--metrics-convention paper|openood` and its first name `--fpr-convention`, shared by the
 * tasks that compute metrics. The convention (lib/metrics/convention.ts) picks both the FPR95
 * rule and the AUPR integration; the old name stays accepted because it is in scripts and
 * notes, with the same values.
 *
 * @module
 */
import { DataError, UsageError } from "../../lib/errors.ts";
import { readManifest } from "../../lib/io/manifest.ts";
import { METRICS_CONVENTIONS, type MetricsConvention } from "../../lib/metrics/convention.ts";
import { choiceFlag, defineFlags, type FlagValues } from "./cli.ts";

/** The flag's name. */
export const METRICS_CONVENTION_FLAG = "metrics-convention" as const;

/** Its first name, kept as an alias. */
export const METRICS_CONVENTION_ALIAS = "fpr-convention" as const;

/**
 * The two flag definitions, for a task's `flags` (no `default`: a default would make every run
 * look as if the flag were given, and hide a conflict between the two names).
 */
export function metricsConventionFlags(fallbackText: string) {
  return defineFlags({
    [METRICS_CONVENTION_FLAG]: {
      type: "string",
      help: `paper|openood   FPR95 and AUPR rules: paper = the released MOS code's (OOD accepted ` +
        `at 95% ID recall, average precision); openood = OpenOOD v1.5's (ID rejected at 95% OOD ` +
        `recall, trapezoid AUPR) (default: ${fallbackText})`,
    },
    [METRICS_CONVENTION_ALIAS]: {
      type: "string",
      help: `paper|openood   old name of --${METRICS_CONVENTION_FLAG}, same values`,
    },
  });
}

/**
 * The convention given by `--metrics-convention` or `--fpr-convention`, `fallback` when neither
 * is given. A value outside paper|openood, or the two names with different values, is a
 * UsageError naming the flags.
 */
export function metricsConventionFlag(
  values: FlagValues,
  fallback: MetricsConvention,
): MetricsConvention {
  const given = [METRICS_CONVENTION_FLAG, METRICS_CONVENTION_ALIAS]
    .filter((name) => values[name] !== undefined)
    .map((name) => ({ name, value: choiceFlag(values, name, METRICS_CONVENTIONS, fallback) }));
  if (given.length === 2 && given[0].value !== given[1].value) {
    throw new UsageError(
      `--${METRICS_CONVENTION_FLAG} ${given[0].value} and --${METRICS_CONVENTION_ALIAS} ` +
        `${given[1].value} disagree; --${METRICS_CONVENTION_ALIAS} is the old name of ` +
        `--${METRICS_CONVENTION_FLAG}, give one of them`,
    );
  }
  return given.length ? given[0].value : fallback;
}

/**
 * The metrics convention the `metrics.csv` files of score directories were written under, from
 * each directory's manifest.json (`config.metrics_convention`, written by the score stage);
 * null when none records one (directories not written by `score`). Directories that disagree,
 * or one scored under the former `fpr_convention: openood` (OpenOOD's FPR95 with average-precision
 * AUPR, which no convention produces now), are a DataError naming them.
 */
export async function scoreDirsConvention(
  dirs: readonly string[],
): Promise<MetricsConvention | null> {
  const found: { dir: string; convention: MetricsConvention }[] = [];
  for (const dir of dirs) {
    const m = await readManifest(dir);
    if (!m || m.stage !== "score" || m.config === null || typeof m.config !== "object") continue;
    const config = m.config as Record<string, unknown>;
    const value = config.metrics_convention ?? config.fpr_convention;
    if (config.metrics_convention === undefined && value === "openood") {
      throw new DataError(
        `${dir} was scored under the former fpr_convention openood (OpenOOD's FPR95 with ` +
          `average-precision AUPR); rescore it with \`deno task score ... --${METRICS_CONVENTION_FLAG} openood\``,
      );
    }
    if (value === "paper" || value === "openood") found.push({ dir, convention: value });
  }
  const other = found.find((f) => f.convention !== found[0].convention);
  if (other) {
    throw new DataError(
      `${found[0].dir} was scored under the ${found[0].convention} metrics convention and ` +
        `${other.dir} under ${other.convention}; rescore them with one --${METRICS_CONVENTION_FLAG}`,
    );
  }
  return found.length ? found[0].convention : null;
}
