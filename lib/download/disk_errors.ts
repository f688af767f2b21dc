/**
 * File-system failures while a download or an unpack writes (a full disk, a read-only mount, no
 * permission), told apart from damaged data: a full disk must not be reported as a corrupt archive,
 * and must not make the caller delete a good archive or a partial download that can resume.
 *
 * @module
 */
import { DataError } from "../errors.ts";

/** Error codes of a full, read-only or forbidden file system: the user fixes these. */
const DISK_CODES = new Set(["ENOSPC", "EDQUOT", "EROFS", "EACCES", "EPERM", "EFBIG"]);

/** A write that the file system refused; `path` is the file being written. */
export class DiskWriteError extends DataError {
  /** The file being written when the file system refused. */
  readonly path: string;
  constructor(message: string, path: string) {
    super(message);
    this.name = "DiskWriteError";
    this.path = path;
  }
}

/** Whether `err` is a file-system refusal (see {@linkcode DISK_CODES}) rather than bad data. */
export function isDiskError(err: unknown): boolean {
  if (err instanceof Deno.errors.PermissionDenied) return true;
  const code = (err as { code?: string } | null)?.code;
  return code !== undefined && DISK_CODES.has(code);
}

/**
 * The OS reason of a file-system error, e.g. "No space left on device (os error 28)", without the
 * runtime's ": op 'path'" suffix (the message names the path itself).
 */
export function diskReason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.message.split("\n")[0].replace(/: \w+ '[^']*'(?: -> '[^']*')?$/, "");
}

/**
 * `err` as a one-line {@linkcode DiskWriteError} naming `path` when it is a file-system refusal;
 * any other error is returned unchanged. `after` says what happens on a rerun (e.g. "the partial
 * download is kept and resumes").
 */
export function asDiskWriteError(err: unknown, path: string, after: string): unknown {
  if (err instanceof DiskWriteError || !isDiskError(err)) return err;
  return new DiskWriteError(
    `Cannot write ${path} (${diskReason(err)}); free space there or choose another destination, ` +
      `then rerun (${after})`,
    path,
  );
}
