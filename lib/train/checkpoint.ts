/**
 * Head-training checkpoints. `<dir>/checkpoint.bin` is self-contained and written atomically
 * (temp + fsync + rename): magic `MOSCKPT1`, a little-endian u32 header length, a JSON header
 * (`version, step, configHash, numOutputs, dim, losses, sha256`), zero padding to 4 bytes, then
 * float32 weight (O x D), bias (O), weight momentum (O x D), bias momentum (O) and the loss of
 * every completed step. `<dir>/checkpoint.json` repeats the header for people and scripts; resume
 * reads only the .bin, so a crash between the two writes cannot mix two checkpoints.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import { writeFileAtomic, writeJsonAtomic } from "../io/atomic.ts";
import type { HeadState } from "./step_graph.ts";

const MAGIC = "MOSCKPT1";

/** A training state at a step boundary. */
export interface Checkpoint {
  /** Number of completed steps (the next step to run). */
  step: number;
  /** Hash of everything that determines the run (see {@linkcode configHash}). */
  configHash: string;
  state: HeadState;
  /** Loss of each completed step (length `step`). */
  losses: Float32Array;
}

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function sha256(data: Uint8Array): Promise<string> {
  return hex(await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>));
}

function canonical(value: unknown): unknown {
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>);
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = canonical(v);
    }
    return out;
  }
  return value;
}

/**
 * SHA-256 (hex) of a JSON-able config with sorted keys; typed arrays hash as number arrays.
 *
 * @example
 * ```ts
 * import { hyperRule } from "./hyperrule.ts";
 * const rule = hyperRule(1_281_167);
 * const groups = [[0, 1, 2], [3, 4]];
 * const h = await configHash({ seed: 1, rule, groups }); // same config -> same hash
 * ```
 */
export function configHash(config: unknown): Promise<string> {
  return sha256(new TextEncoder().encode(JSON.stringify(canonical(config))));
}

/** Path of the checkpoint file inside `dir`. */
export function checkpointPath(dir: string): string {
  return `${dir}/checkpoint.bin`;
}

function payloadBytes(ckpt: Checkpoint): Uint8Array[] {
  const { weight, bias, vWeight, vBias } = ckpt.state;
  return [weight, bias, vWeight, vBias, ckpt.losses.subarray(0, ckpt.step)].map((a) =>
    new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
  );
}

/** Atomically writes `ckpt` to `<dir>/checkpoint.bin` (and the `checkpoint.json` summary). */
export async function writeCheckpoint(dir: string, ckpt: Checkpoint): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const parts = payloadBytes(ckpt);
  const payloadLen = parts.reduce((s, p) => s + p.length, 0);
  const payload = new Uint8Array(payloadLen);
  let off = 0;
  for (const p of parts) {
    payload.set(p, off);
    off += p.length;
  }
  const header = {
    version: 1,
    step: ckpt.step,
    configHash: ckpt.configHash,
    numOutputs: ckpt.state.bias.length,
    dim: ckpt.state.weight.length / ckpt.state.bias.length,
    losses: ckpt.step,
    sha256: await sha256(payload),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headLen = 12 + json.length;
  const pad = (4 - (headLen % 4)) % 4;
  const head = new Uint8Array(headLen + pad);
  head.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(head.buffer).setUint32(8, json.length + pad, true);
  head.set(json, 12);
  head.fill(0x20, headLen); // JSON-safe padding (spaces)
  await writeFileAtomic(checkpointPath(dir), [head, payload]);
  const last = ckpt.step > 0 ? ckpt.losses[ckpt.step - 1] : null;
  await writeJsonAtomic(`${dir}/checkpoint.json`, { ...header, lastLoss: last });
}

/**
 * Reads `<dir>/checkpoint.bin`. Returns `null` when there is none or when it belongs to another
 * configuration (different hash or shape), so the caller starts fresh; throws `DataError` when
 * the file is damaged.
 */
export async function readCheckpoint(
  dir: string,
  expected: { configHash: string; numOutputs: number; dim: number },
): Promise<Checkpoint | null> {
  const path = checkpointPath(dir);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
  const damaged = (why: string) =>
    new DataError(`Checkpoint ${path} is damaged (${why}); delete it to restart training`);
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) {
    throw damaged("not a MOS checkpoint");
  }
  const jsonLen = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  if (12 + jsonLen > bytes.length) throw damaged("truncated header");
  let header: {
    step: number;
    configHash: string;
    numOutputs: number;
    dim: number;
    losses: number;
    sha256: string;
  };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + jsonLen)));
  } catch {
    throw damaged("unreadable header");
  }
  if (
    header.configHash !== expected.configHash || header.numOutputs !== expected.numOutputs ||
    header.dim !== expected.dim
  ) {
    return null;
  }
  const O = header.numOutputs;
  const OD = O * header.dim;
  const floats = 2 * OD + 2 * O + header.losses;
  const start = 12 + jsonLen;
  if (bytes.length !== start + floats * 4) throw damaged("wrong length");
  // Copy so the arrays are aligned and independent of the file buffer.
  const payload = bytes.slice(start);
  if ((await sha256(payload)) !== header.sha256) throw damaged("checksum mismatch");
  const f = new Float32Array(payload.buffer);
  return {
    step: header.step,
    configHash: header.configHash,
    state: {
      weight: f.slice(0, OD),
      bias: f.slice(OD, OD + O),
      vWeight: f.slice(OD + O, 2 * OD + O),
      vBias: f.slice(2 * OD + O, 2 * OD + 2 * O),
    },
    losses: f.slice(2 * OD + 2 * O),
  };
}
