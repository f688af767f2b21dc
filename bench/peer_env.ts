/**
 * How the bench runs its Python peers (Debian's /usr/bin/python3 with NumPy, scikit-learn,
 * PyTorch) on any x86-64 CPU.
 *
 * OpenBLAS picks its kernels by probing the CPU; inside some VMs the probe misreads the CPU and
 * falls back to slow generic kernels, so the bench names the core type, but only one the CPU
 * really has: a core type the CPU cannot run (SkylakeX on an AVX2-only CPU) kills the peer with
 * SIGILL. The type comes from the `flags` line of /proc/cpuinfo: avx512f -> SkylakeX, avx2 ->
 * Haswell, anything else -> left to OpenBLAS's own probe. A peer that dies of a signal is
 * reported with that signal.
 *
 * @module
 */

/** Debian's interpreter, where python3-numpy / python3-sklearn / python3-torch install. */
export const PYTHON = "/usr/bin/python3";

/** The OpenBLAS core type for a /proc/cpuinfo text, or undefined to leave OpenBLAS's probe. */
export function coreTypeFor(cpuinfo: string): "SkylakeX" | "Haswell" | undefined {
  const flags = new Set((cpuinfo.match(/^flags\s*:(.*)$/m)?.[1] ?? "").trim().split(/\s+/));
  if (flags.has("avx512f")) return "SkylakeX";
  if (flags.has("avx2")) return "Haswell";
  return undefined;
}

let cached: string | undefined | null = null;

/** {@linkcode coreTypeFor} of this machine (undefined off Linux or on a non-AVX2 CPU). */
export function openblasCoreType(): string | undefined {
  if (cached === null) {
    let text = "";
    try {
      text = Deno.readTextFileSync("/proc/cpuinfo");
    } catch {
      text = "";
    }
    cached = coreTypeFor(text);
  }
  return cached;
}

/** The environment of a peer: OPENBLAS_CORETYPE when one is chosen, plus `extra`. */
export function peerEnv(extra: Record<string, string> = {}): Record<string, string> {
  const core = openblasCoreType();
  return core ? { OPENBLAS_CORETYPE: core, ...extra } : { ...extra };
}

/** One line for the bench notes: which core type the peers got and why. */
export function coreTypeNote(): string {
  const core = openblasCoreType();
  return core
    ? `peers run with OPENBLAS_CORETYPE=${core} (from the CPU flags in /proc/cpuinfo)`
    : "peers run with OpenBLAS's own CPU probe (no avx2 / avx512f flag found in /proc/cpuinfo)";
}

/** Whether {@linkcode PYTHON} imports `module` (false when python3 is missing too). */
export async function pythonHas(module: string): Promise<boolean> {
  try {
    const r = await new Deno.Command(PYTHON, {
      args: ["-c", `import ${module}`],
      env: peerEnv(),
      stdout: "null",
      stderr: "null",
    }).output();
    return r.success;
  } catch {
    return false;
  }
}

/** The outcome of a peer run: its stdout, or one line saying why there is none. */
export type PeerRun = { ok: true; stdout: string } | { ok: false; reason: string };

/** Why a finished peer process failed, in one line (its signal, or its last stderr line). */
export function failureReason(
  name: string,
  r: { code: number; signal: Deno.Signal | null; stderr: Uint8Array },
): string {
  if (r.signal) return `${name} peer killed by ${r.signal}`;
  const last = new TextDecoder().decode(r.stderr).trim().split("\n").pop()?.trim();
  return `${name} peer failed (exit ${r.code})${last ? `: ${last}` : ""}`;
}

/**
 * Runs `python3 script args...` with {@linkcode peerEnv}(`env`); a crash is reported with its
 * signal ("numpy peer killed by SIGILL"), a failure with its exit code and last stderr line.
 */
export async function runPeer(
  name: string,
  script: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<PeerRun> {
  let r: Deno.CommandOutput;
  try {
    r = await new Deno.Command(PYTHON, { args: [script, ...args], env: peerEnv(env) }).output();
  } catch (e) {
    return { ok: false, reason: `${name} peer could not start ${PYTHON}: ${(e as Error).message}` };
  }
  if (r.success) return { ok: true, stdout: new TextDecoder().decode(r.stdout) };
  return { ok: false, reason: failureReason(name, r) };
}
