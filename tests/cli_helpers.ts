/**
 * Shared pieces of the command-line tests: run a task as a real subprocess, write a tiny labelled
 * feature-set family (well-separated classes plus two OOD sets made differently), and snapshot a
 * directory tree to prove a failed run created or changed nothing.
 *
 * @module
 */
import assert from "node:assert/strict";
import { writeFeatureSet } from "../lib/io/feature_set.ts";
import { createRng } from "../lib/random.ts";

/** Repository root (the parent of tests/), the working directory of every task run. */
export const REPO_ROOT: string = decodeURIComponent(new URL("..", import.meta.url).pathname)
  .replace(/\/$/, "");

/** What a task run produced. */
export interface TaskResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `deno run -A tasks/<file> ...args` from the repository root with `MOS_QUIET=1` (or, with
 * `progress`, with the progress lines on) and returns its exit code and decoded output.
 */
export async function runTask(
  file: string,
  args: string[],
  opts: { progress?: boolean } = {},
): Promise<TaskResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `tasks/${file}`, ...args],
    cwd: REPO_ROOT,
    env: { MOS_QUIET: opts.progress ? "0" : "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Formats a run for assertion messages. */
export function describeRun(file: string, args: string[], r: TaskResult): string {
  return `${file} ${args.join(" ")} -> exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

/** Number of classes of the fixture family. */
export const FIXTURE_C = 10;
/** Feature dimension of the fixture family. */
export const FIXTURE_D = 16;
/** The fixture's grouping: K = 3 groups covering classes 0..9. */
export const FIXTURE_GROUPS: number[][] = [[0, 1, 2], [3, 4, 5, 6], [7, 8, 9]];
/** Backbone name recorded in every fixture meta.json (heads check it on scoring). */
export const FIXTURE_BACKBONE = "fixture-backbone";

/** Rows per class of the train and val sets. */
export const FIXTURE_PER_CLASS = { train: 40, val: 10 } as const;
/** Rows of each OOD set (different, so a score file of the wrong set has the wrong length). */
export const FIXTURE_OOD_ROWS = { faint: 100, far: 80 } as const;

/** Paths of a written fixture family. */
export interface Fixture {
  root: string;
  train: string;
  val: string;
  /** OOD sets by name: `faint` (a weakened class direction) and `far` (unused dimensions). */
  ood: Record<"faint" | "far", string>;
  /** JSON file holding {@linkcode FIXTURE_GROUPS}. */
  groups: string;
}

/**
 * Class c's centroid: 6 on dimension c (c < 10 < D), so classes are far apart compared with the
 * [0, 1) noise and a linear head separates them perfectly.
 */
function classRows(rng: ReturnType<typeof createRng>, perClass: number) {
  const N = perClass * FIXTURE_C;
  const data = new Float32Array(N * FIXTURE_D);
  const labels = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    const c = i % FIXTURE_C;
    labels[i] = c;
    for (let j = 0; j < FIXTURE_D; j++) data[i * FIXTURE_D + j] = rng.float();
    data[i * FIXTURE_D + c] += 6;
  }
  return { features: { data, rows: N, cols: FIXTURE_D }, labels };
}

/**
 * Writes the fixture family under `root`: `train` (40 per class), `val` (10 per class), and two
 * unlabelled OOD sets: `ood_faint` (100 rows: a class direction scaled by a uniform factor
 * in [0, 1), so some rows look like ID and its AUROCs are not all 100) and `ood_far` (80 rows:
 * mass 6 on dimensions 10..15, which no class uses). All values are nonnegative. Also `groups.json`.
 */
export async function writeFixture(root: string, seed = 1): Promise<Fixture> {
  const rng = createRng(seed);
  const meta = (dataset: string) => ({
    dataset,
    backbone: FIXTURE_BACKBONE,
    preprocess: "synthetic test fixture",
    num_classes: FIXTURE_C,
  });
  const train = `${root}/train`;
  const val = `${root}/val`;
  await writeFeatureSet(train, {
    meta: meta("fixture-train"),
    ...classRows(rng, FIXTURE_PER_CLASS.train),
  });
  await writeFeatureSet(val, {
    meta: meta("fixture-val"),
    ...classRows(rng, FIXTURE_PER_CLASS.val),
  });

  const faint = new Float32Array(FIXTURE_OOD_ROWS.faint * FIXTURE_D);
  const far = new Float32Array(FIXTURE_OOD_ROWS.far * FIXTURE_D);
  for (let i = 0; i < FIXTURE_OOD_ROWS.faint; i++) {
    for (let j = 0; j < FIXTURE_D; j++) faint[i * FIXTURE_D + j] = rng.float();
    faint[i * FIXTURE_D + (i % FIXTURE_C)] += 6 * rng.float();
  }
  for (let i = 0; i < FIXTURE_OOD_ROWS.far; i++) {
    for (let j = 0; j < FIXTURE_D; j++) far[i * FIXTURE_D + j] = rng.float();
    far[i * FIXTURE_D + FIXTURE_C + (i % (FIXTURE_D - FIXTURE_C))] += 6;
  }
  const ood = { faint: `${root}/ood_faint`, far: `${root}/ood_far` };
  for (const [name, data] of [["faint", faint], ["far", far]] as const) {
    await writeFeatureSet(ood[name], {
      meta: meta(`fixture-ood-${name}`),
      features: { data, rows: FIXTURE_OOD_ROWS[name], cols: FIXTURE_D },
      labels: new Int32Array(FIXTURE_OOD_ROWS[name]).fill(-1),
    });
  }
  const groups = `${root}/groups.json`;
  await Deno.writeTextFile(groups, JSON.stringify(FIXTURE_GROUPS));
  return { root, train, val, ood, groups };
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** One entry of a tree snapshot: a directory, or a file with its size, mtime and sha256. */
export type SnapshotEntry = "dir" | { size: number; mtime: number | null; sha256: string };

async function fileEntry(path: string): Promise<SnapshotEntry> {
  const bytes = await Deno.readFile(path);
  const info = await Deno.stat(path);
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return { size: bytes.length, mtime: info.mtime?.getTime() ?? null, sha256: hex(hash) };
}

/**
 * Snapshots the tree under `path` (relative path -> entry; a plain file is the single entry "");
 * an absent `path` gives null. Comparing two snapshots with `deepEqual` proves nothing was
 * created, removed, rewritten (mtime) or changed (sha256) there.
 */
export async function snapshotTree(path: string): Promise<Record<string, SnapshotEntry> | null> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
  if (!info.isDirectory) return { "": await fileEntry(path) };
  const out: Record<string, SnapshotEntry> = {};
  const walk = async (rel: string): Promise<void> => {
    const names: Deno.DirEntry[] = [];
    for await (const e of Deno.readDir(rel === "" ? path : `${path}/${rel}`)) names.push(e);
    names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of names) {
      const sub = rel === "" ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory) {
        out[sub] = "dir";
        await walk(sub);
      } else {
        out[sub] = await fileEntry(`${path}/${sub}`);
      }
    }
  };
  await walk("");
  return out;
}

/** Makes a temp dir, runs `fn` in it and removes it afterwards, whatever happens. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "mos_cli_" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Starts `deno run -A tasks/<file> ...args` (stdout discarded) and returns the child. */
export function spawnTask(
  file: string,
  args: string[],
  stderr: "piped" | "null" = "null",
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `tasks/${file}`, ...args],
    cwd: REPO_ROOT,
    env: { MOS_QUIET: "1" },
    stdin: "null",
    stdout: "null",
    stderr,
  }).spawn();
}

/** Runs a task that must succeed; fails the test with the run's output otherwise. */
export async function ok(file: string, args: string[]): Promise<TaskResult> {
  const r = await runTask(file, args);
  assert.equal(r.code, 0, describeRun(file, args, r));
  return r;
}

/** Whether `path` exists (without following a final symlink). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** Relative paths of every file under `dir` (hidden ones included), sorted; [] when absent. */
export async function listFiles(dir: string): Promise<string[]> {
  if (!await exists(dir)) return [];
  const out: string[] = [];
  const walk = async (rel: string) => {
    for await (const e of Deno.readDir(rel ? `${dir}/${rel}` : dir)) {
      const sub = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) await walk(sub);
      else out.push(sub);
    }
  };
  await walk("");
  return out.sort();
}

/** Every path under `dir`, directories included and ending in "/", sorted. */
export function entryTree(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(rel ? `${dir}/${rel}` : dir)) {
    const sub = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory) out.push(`${sub}/`, ...entryTree(dir, sub));
    else out.push(sub);
  }
  return out.sort();
}

/** Whether two byte arrays are identical. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Copies a directory tree (a pristine result to fail over, one copy per case). */
export async function copyTree(src: string, dst: string): Promise<string> {
  await Deno.mkdir(dst, { recursive: true });
  for await (const e of Deno.readDir(src)) {
    if (e.isDirectory) await copyTree(`${src}/${e.name}`, `${dst}/${e.name}`);
    else await Deno.copyFile(`${src}/${e.name}`, `${dst}/${e.name}`);
  }
  return dst;
}

/** Numbered fresh paths under `root`, so every case writes (or must not write) its own dir. */
export function counter(root: string, prefix: string): () => string {
  let i = 0;
  return () => `${root}/${prefix}_${i++}`;
}

/** A process id that no longer exists: a child that has exited and been reaped. */
export async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

/** What a cleanly failing run must show. */
export interface Expect {
  code: 1 | 2;
  /** Substrings the error line must contain (the file, flag or value at fault). */
  mentions: string[];
  /** Patterns the error line must match (wording that may vary in case). */
  matches?: RegExp[];
  /** Paths that must be exactly as before the run (absent ones must stay absent). */
  unchanged: string[];
}

/** Runs `deno run -A [--preload FILE] tasks/<file> ...args` with extra environment. */
export async function runWith(
  file: string,
  args: string[],
  opts: { preload?: string; env?: Record<string, string> } = {},
): Promise<TaskResult> {
  if (!opts.preload) return await runTask(file, args);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--preload", opts.preload, `tasks/${file}`, ...args],
    cwd: REPO_ROOT,
    env: { MOS_QUIET: "1", ...opts.env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Checks a failed run's exit code, its one clean error line, and empty stdout. */
export function checkErrorLine(file: string, args: string[], r: TaskResult, want: Expect): void {
  const why = describeRun(file, args, r);
  assert.equal(r.code, want.code, `exit code: ${why}`);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `stderr must be one line: ${why}`);
  assert.match(lines[0], /^error: \S/, why);
  assert.doesNotMatch(lines[0], /rerun with --debug/, `internal error, not a clean one: ${why}`);
  assert.doesNotMatch(lines[0], /[:(]\s*$/, `the line is cut off: ${why}`);
  for (const m of want.mentions) {
    assert.ok(lines[0].includes(m), `error should name "${m}": ${why}`);
  }
  for (const m of want.matches ?? []) assert.match(lines[0], m, why);
  assert.equal(r.stdout, "", `nothing on stdout: ${why}`);
}

/**
 * Runs a task that must fail cleanly: exit code 1 or 2, one `error:` line naming the file / flag /
 * value, nothing on stdout, and every `unchanged` path exactly as before.
 */
export async function expectError(
  file: string,
  args: string[],
  want: Expect,
  opts: { preload?: string; env?: Record<string, string> } = {},
): Promise<void> {
  const before = await Promise.all(want.unchanged.map((p) => snapshotTree(p)));
  const r = await runWith(file, args, opts);
  checkErrorLine(file, args, r, want);
  const after = await Promise.all(want.unchanged.map((p) => snapshotTree(p)));
  const why = describeRun(file, args, r);
  want.unchanged.forEach((p, i) => assert.deepEqual(after[i], before[i], `${p} changed: ${why}`));
}
