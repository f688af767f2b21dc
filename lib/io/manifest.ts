/**
 * `manifest.json` in every result directory: what produced it (stage, config, seed, input hashes,
 * tool and Deno versions, wall time). A stage whose manifest matches its stage, config and inputs
 * is skipped.
 *
 * Inputs are hashed in full (SHA-256 of every byte, streamed through `node:crypto`): measured here
 * at ~1.8 GB/s (crypto.subtle.digest: 0.28 GB/s and needs the whole file in memory), so even 10.5 GB of ImageNet features hash in about 6 s plus the read, which is
 * cheap next to scoring and never misses a change the way a size/mtime/sampled summary can.
 * Hashes are cached per process by (path, size, mtime), so stages run together hash each input once.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { DataError } from "../errors.ts";
import { writeJsonAtomic } from "./atomic.ts";

/** The toolkit's version, recorded in every manifest. */
export const TOOL_VERSION = "0.1.0";

/** Contents of `manifest.json`. */
export interface Manifest {
  /** Marks the file as this toolkit's manifest. */
  tool: "mos-toolkit";
  /** Toolkit version that wrote it ({@linkcode TOOL_VERSION}). */
  version: string;
  /** Deno version that ran the stage. */
  deno: string;
  /** Name of the stage that produced the directory. */
  stage: string;
  /** The stage's configuration; a rerun with an equal config (and inputs) is skipped. */
  config: unknown;
  /** Random seed of the stage, null when it draws nothing. */
  seed: number | null;
  /** Input name -> `sha256:<hex>` of the file, or of the directory listing (see hashPath). */
  inputs: Record<string, string>;
  /** Wall-clock time the stage took, in seconds. */
  wall_seconds: number;
  /** ISO 8601 time the manifest was built. */
  created: string;
}

/** What a stage compares against an existing manifest. */
export interface ManifestKey {
  /** Stage name; must equal the manifest's. */
  stage: string;
  /** Stage configuration; compared with the manifest's canonically (key order ignored). */
  config: unknown;
  /** Input name -> `sha256:<hex>`; must equal the manifest's. */
  inputs: Record<string, string>;
}

const CHUNK = 8 << 20;
const hashCache = new Map<string, { stamp: string; hash: string }>();

/**
 * SHA-256 (hex) of a file's bytes, streamed in 8 MiB chunks; cached per (path, inode, size, mtime)
 * so an atomic rewrite (new inode) is always rehashed.
 */
export async function hashFile(path: string): Promise<string> {
  const file = await Deno.open(path, { read: true }).catch((err) => {
    if (err instanceof Deno.errors.NotFound) throw new DataError(`Input ${path} not found`);
    throw err;
  });
  try {
    const info = await file.stat();
    const stamp = info.mtime ? `${info.ino}:${info.size}:${info.mtime.getTime()}` : "";
    const key = await Deno.realPath(path);
    const hit = hashCache.get(key);
    if (hit && stamp && hit.stamp === stamp) return hit.hash;
    const h = createHash("sha256");
    const buf = new Uint8Array(CHUNK);
    for (;;) {
      const n = await file.read(buf);
      if (n === null) break;
      h.update(buf.subarray(0, n));
    }
    const hash = h.digest("hex");
    // Like git's "racily clean" rule: a file modified within the last 2 s could change again
    // inside the same mtime tick, so only older files are cached.
    if (stamp && Date.now() - info.mtime!.getTime() > 2000) hashCache.set(key, { stamp, hash });
    return hash;
  } finally {
    file.close();
  }
}

/** Files that never describe a directory's content: locks, temps, our own manifest. */
function skipped(name: string): boolean {
  return name === ".lock" || name === "manifest.json" || name.includes(".tmp-");
}

/**
 * SHA-256 (hex) of a file, or of a directory: the sorted list of `relative/path\0<file sha256>\n`
 * over all files below it (locks, temp files and manifest.json excluded).
 */
export async function hashPath(path: string): Promise<string> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new DataError(`Input ${path} not found`);
    throw err;
  }
  if (!info.isDirectory) return await hashFile(path);
  const entries: string[] = [];
  const walk = async (dir: string, rel: string) => {
    const names: { name: string; isDirectory: boolean }[] = [];
    for await (const e of Deno.readDir(dir)) {
      if (!skipped(e.name)) names.push({ name: e.name, isDirectory: e.isDirectory });
    }
    for (const e of names) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) await walk(`${dir}/${e.name}`, r);
      else entries.push(`${r}\0${await hashFile(`${dir}/${e.name}`)}\n`);
    }
  };
  await walk(path, "");
  entries.sort();
  return createHash("sha256").update(entries.join("")).digest("hex");
}

/** Hashes each named input path (file or directory) as `sha256:<hex>`. */
export async function hashInputs(paths: Record<string, string>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(paths).sort()) out[name] = `sha256:${await hashPath(paths[name])}`;
  return out;
}

/** Builds a manifest; `created` defaults to now. */
export function buildManifest(opts: {
  stage: string;
  config: unknown;
  seed?: number | null;
  inputs: Record<string, string>;
  wallSeconds: number;
  created?: Date;
}): Manifest {
  return {
    tool: "mos-toolkit",
    version: TOOL_VERSION,
    deno: Deno.version.deno,
    stage: opts.stage,
    config: opts.config,
    seed: opts.seed ?? null,
    inputs: opts.inputs,
    wall_seconds: opts.wallSeconds,
    created: (opts.created ?? new Date()).toISOString(),
  };
}

/** Reads `dir/manifest.json`; null when it is absent or not a manifest (then the stage reruns). */
export async function readManifest(dir: string): Promise<Manifest | null> {
  try {
    const m = JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`));
    if (m === null || typeof m !== "object" || typeof m.stage !== "string") return null;
    if (m.inputs === null || typeof m.inputs !== "object") return null;
    return m as Manifest;
  } catch {
    return null;
  }
}

/** JSON with object keys sorted, so key order never makes two configs differ. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = v[k];
    return sorted;
  });
}

/**
 * True when `dir/manifest.json` records the same stage, config and inputs (key order ignored;
 * times, versions and seed outside the config are not compared).
 */
export async function manifestMatches(dir: string, key: ManifestKey): Promise<boolean> {
  const m = await readManifest(dir);
  if (!m) return false;
  return m.stage === key.stage &&
    canonical(m.config) === canonical(key.config) &&
    canonical(m.inputs) === canonical(key.inputs);
}

/** Atomically writes `dir/manifest.json`. */
export async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  await writeJsonAtomic(`${dir}/manifest.json`, manifest);
}
