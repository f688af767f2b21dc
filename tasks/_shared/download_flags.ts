/**
 * The flags `fetch-ood` and `fetch-bit` share: where to download from (`--mirror`) and how long a
 * download may take (`--time-limit`, `--stall-timeout`), with their bounds, and the one-line
 * messages for a download that was stopped or could not start.
 *
 * @module
 */
import { type NetworkError, STALLED, TIME_LIMIT } from "../../lib/download/http_download.ts";
import { MosError, UsageError } from "../../lib/errors.ts";
import type { NamedPath } from "../../lib/io/containment.ts";
import { defineFlags, type FlagValues, numberFlag, optionalString } from "./cli.ts";

/** Default of `--time-limit`: two hours covers the largest BiT checkpoint (3.7 GB) at 0.5 MB/s. */
export const DEFAULT_TIME_LIMIT_S = 7200;
/** Upper bound of `--time-limit`: two days. Longer is a typo; a stopped download resumes anyway. */
export const MAX_TIME_LIMIT_S = 172_800;
/** Default of `--stall-timeout`. */
export const DEFAULT_STALL_S = 60;
/** Upper bound of `--stall-timeout`: one hour without a byte is a dead connection. */
export const MAX_STALL_S = 3600;

/** Flag definitions (`--time-limit`, `--stall-timeout`), checked against their bounds. */
export const TIME_FLAGS = defineFlags({
  "time-limit": {
    type: "number",
    min: 1,
    max: MAX_TIME_LIMIT_S,
    integer: true,
    default: DEFAULT_TIME_LIMIT_S,
    help:
      `SECONDS  stop a download that takes longer (1..${MAX_TIME_LIMIT_S}; it resumes on rerun)`,
  },
  "stall-timeout": {
    type: "number",
    min: 1,
    max: MAX_STALL_S,
    integer: true,
    default: DEFAULT_STALL_S,
    help: `SECONDS  stop a download that receives nothing this long (1..${MAX_STALL_S})`,
  },
});

/** The parsed download flags. */
export interface DownloadFlags {
  /** Base URL, as given (undefined: the published location). */
  mirror?: string;
  /** A `file:` mirror's directory: an input of the task, which --dest must stay out of. */
  inputs: NamedPath[];
  timeLimitMs: number;
  stallMs: number;
  timeLimitS: number;
  stallS: number;
}

/**
 * Parses `--mirror` (an http, https or file URL), `--time-limit` and `--stall-timeout` (numbers
 * already when declared by {@linkcode TIME_FLAGS}); every mistake is a `UsageError` (exit 2)
 * raised before anything is created.
 */
export function downloadFlags(values: FlagValues): DownloadFlags {
  const mirror = optionalString(values, "mirror");
  const inputs: NamedPath[] = [];
  if (mirror !== undefined) {
    let url: URL;
    try {
      url = new URL(mirror);
    } catch {
      throw new UsageError(
        `--mirror "${mirror}" is not a URL; give a base URL such as https://host/path or ` +
          "file:///dir",
      );
    }
    if (!["http:", "https:", "file:"].includes(url.protocol)) {
      throw new UsageError(
        `--mirror "${mirror}" uses ${url.protocol}; give an http, https or file URL`,
      );
    }
    if (url.protocol === "file:") {
      inputs.push({ label: "--mirror", path: decodeURIComponent(url.pathname) });
    }
  }
  const timeLimitS = numberFlag(values, "time-limit", {
    min: 1,
    max: MAX_TIME_LIMIT_S,
    integer: true,
  }) ?? DEFAULT_TIME_LIMIT_S;
  const stallS = numberFlag(values, "stall-timeout", { min: 1, max: MAX_STALL_S, integer: true }) ??
    DEFAULT_STALL_S;
  return {
    mirror,
    inputs,
    timeLimitMs: timeLimitS * 1000,
    stallMs: stallS * 1000,
    timeLimitS,
    stallS,
  };
}

/**
 * The one-line error for a `NetworkError` of a download: a stopped transfer (time limit, stall)
 * says which flag to raise; anything else says the task needs internet access, then `offline`
 * (what to do without it).
 */
export function downloadFailure(
  err: NetworkError,
  flags: DownloadFlags,
  task: string,
  offline: string,
  prefix = "",
): MosError {
  if (err.reason === TIME_LIMIT) {
    return new MosError(
      `${prefix}${err.message}; or raise --time-limit (now ${flags.timeLimitS} s)`,
    );
  }
  if (err.reason === STALLED) {
    return new MosError(
      `${prefix}${err.message}; or raise --stall-timeout (now ${flags.stallS} s) if the server ` +
        "is just slow",
    );
  }
  return new MosError(
    `${prefix}${err.message}: ${task} needs internet access; run it on a machine that has it ` +
      `(partial downloads resume), or ${offline}`,
  );
}
