/**
 * Reads the synthetic demo's config (experiments/demo.yaml: the near-OOD / far-OOD groups of its
 * OOD sets) for `deno task demo` and `table1-extended --demo`. The default path is found from
 * this file, so the demo runs from any working directory.
 *
 * @module
 */
import { type DemoExperiment, parseDemoExperiment } from "../../lib/config/demo_experiment.ts";
import { DataError } from "../../lib/errors.ts";
import { OOD_SET_NAMES } from "../../lib/synthetic/benchmark.ts";

/** experiments/demo.yaml of this checkout. */
export const DEFAULT_DEMO_CONFIG: string = decodeURIComponent(
  new URL("../../experiments/demo.yaml", import.meta.url).pathname,
);

/**
 * Reads and checks the demo config at `path` (default {@linkcode DEFAULT_DEMO_CONFIG}) against
 * the synthetic benchmark's OOD set names; `flag` names the option in the error.
 */
export async function readDemoConfig(
  path: string = DEFAULT_DEMO_CONFIG,
  flag = "--config",
): Promise<DemoExperiment> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    throw new DataError(`Demo config not found: ${path}; pass ${flag} FILE`);
  }
  return parseDemoExperiment(text, OOD_SET_NAMES, path);
}
