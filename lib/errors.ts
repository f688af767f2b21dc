/**
 * Error types shared by lib and tasks. Tasks print `error.message` as one line and exit with
 * `error.exitCode`; anything else is an internal failure (exit 1, stack only with `--debug`).
 *
 * @module
 */

/** A failure the user can fix; the message names the file / flag / value and what to do. */
export class MosError extends Error {
  /** Process exit code the task should use: 1 runtime / data failure, 2 usage error. */
  readonly exitCode: 1 | 2;
  /** An error with a one-line `message` for the user and the exit code (default 1). */
  constructor(message: string, exitCode: 1 | 2 = 1) {
    super(message);
    this.name = "MosError";
    this.exitCode = exitCode;
  }
}

/** Bad command-line usage (unknown flag, bad number, missing required flag): exit code 2. */
export class UsageError extends MosError {
  /** A usage error with `message`; exit code 2. */
  constructor(message: string) {
    super(message, 2);
    this.name = "UsageError";
  }
}

/** Bad or inconsistent input data (unreadable .npy, NaN features, wrong dims): exit code 1. */
export class DataError extends MosError {
  /** A data error with `message`; exit code 1. */
  constructor(message: string) {
    super(message, 1);
    this.name = "DataError";
  }
}
