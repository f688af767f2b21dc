/**
 * Strict flag parsing for the bench's stand-alone scripts (`deno run -A bench/scoring.ts ...`),
 * with the tasks' error contract: an unknown flag or a missing value prints one line and exits
 * 2 instead of an uncaught exception. (`deno task bench` itself uses tasks/_shared/cli.ts.)
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

/** `parseArgs({ ...config, strict: true })`, or one `error:` line and exit 2. */
export function parseBenchArgs<const T extends ParseArgsConfig>(script: string, config: T) {
  try {
    return parseArgs({ ...config, strict: true, args: config.args ?? Deno.args });
  } catch (e) {
    console.error(`error: ${(e as Error).message}; see \`deno run -A ${script} --help\``);
    Deno.exit(2);
  }
}
