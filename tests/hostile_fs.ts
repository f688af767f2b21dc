/**
 * Hostile file systems for command-line tests: a read-only directory, or a small disk that fills
 * up. A real tmpfs when `mount` works (root or CAP_SYS_ADMIN, as in this project's CI), else (or
 * with MOS_TEST_SIMULATE_FS=1) a `--preload` module that makes writes under the directory fail
 * with the kernel's EROFS or ENOSPC error. The disk size is a parameter so a whole demo run fits
 * before the disk is filled.
 *
 * @module
 */
import assert from "node:assert/strict";

async function quietCommand(cmd: string, args: string[]): Promise<boolean> {
  try {
    const r = await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output();
    return r.success;
  } catch {
    return false; // no such program
  }
}

/**
 * The `--preload` simulation for when no tmpfs can be mounted: writes under MOS_SIM_DIR fail like
 * the kernel's (MOS_SIM_MODE=readonly: EROFS at once; full: ENOSPC once MOS_SIM_BYTES bytes have
 * been written there). Reads are untouched; renames and removals need no space.
 */
const FS_SIM_SOURCE = `
const dir = Deno.env.get("MOS_SIM_DIR");
const mode = Deno.env.get("MOS_SIM_MODE");
let budget = Number(Deno.env.get("MOS_SIM_BYTES") ?? "0");
const abs = (p) => { const s = p instanceof URL ? p.pathname : String(p); return s.startsWith("/") ? s : Deno.cwd() + "/" + s; };
const under = (p) => { const a = abs(p); return a === dir || a.startsWith(dir + "/"); };
const fail = (op, p) => {
  const [msg, code] = mode === "readonly"
    ? ["Read-only file system (os error 30)", "EROFS"]
    : ["No space left on device (os error 28)", "ENOSPC"];
  return Object.assign(new Error(op ? msg + ": " + op + " '" + abs(p) + "'" : msg), { code });
};
const spend = (n, op, p) => { if (mode === "full") { budget -= n; if (budget < 0) throw fail(op, p); } };
const writing = (o) => !!o && (o.write || o.append || o.create || o.createNew || o.truncate);
const tracked = new WeakSet();
const wrap = (name, guard) => {
  const orig = Deno[name];
  Deno[name] = function (p, ...rest) { if (under(p)) guard(p, rest, name); return orig.call(Deno, p, ...rest); };
};
const ro = (p, _r, op) => { if (mode === "readonly") throw fail(op, p); };
for (const n of ["mkdir", "mkdirSync", "remove", "removeSync", "rename", "renameSync", "link", "linkSync", "symlink", "symlinkSync", "create", "createSync"]) wrap(n, ro);
for (const n of ["writeFile", "writeFileSync", "writeTextFile", "writeTextFileSync"]) {
  wrap(n, (p, [data], op) => { ro(p, 0, op); spend(typeof data === "string" ? data.length : data?.length ?? 0, op, p); });
}
for (const n of ["open", "openSync"]) {
  const orig = Deno[n];
  Deno[n] = function (p, o) {
    if (under(p) && writing(o)) {
      ro(p, 0, n);
      const f = orig.call(Deno, p, o);
      const mark = (file) => { tracked.add(file); return file; };
      return f instanceof Promise ? f.then(mark) : mark(f);
    }
    return orig.call(Deno, p, o);
  };
}
const proto = Deno.FsFile.prototype;
const w = proto.write, ws = proto.writeSync;
proto.write = function (b) { if (tracked.has(this)) spend(b.length, null, null); return w.call(this, b); };
proto.writeSync = function (b) { if (tracked.has(this)) spend(b.length, null, null); return ws.call(this, b); };
`;

/** A read-only directory at `dir`, and how to run a task on it. */
export interface ReadOnlyDir {
  dir: string;
  kind: "tmpfs" | "simulated";
  /** `--preload` module and environment for the task (simulated only). */
  preload?: string;
  env?: Record<string, string>;
  release(): Promise<void>;
}

/** A read-only tmpfs at `dir`, or the EROFS simulation (its module written under `root`). */
export async function readOnlyDir(dir: string, root: string): Promise<ReadOnlyDir> {
  await Deno.mkdir(dir, { recursive: true });
  if (
    Deno.env.get("MOS_TEST_SIMULATE_FS") !== "1" &&
    await quietCommand("mount", ["-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", dir])
  ) {
    return {
      dir,
      kind: "tmpfs",
      release: async () => assert.ok(await quietCommand("umount", [dir]), `umount ${dir} failed`),
    };
  }
  const preload = `${root}/fs_sim_readonly.ts`;
  await Deno.writeTextFile(preload, FS_SIM_SOURCE);
  return {
    dir,
    kind: "simulated",
    preload,
    env: { MOS_SIM_DIR: dir, MOS_SIM_MODE: "readonly" },
    release: async () => {},
  };
}

/** A small disk at `dir`, and how to run a task on it. */
export interface SmallDisk {
  dir: string;
  kind: "tmpfs" | "simulated";
  /** `--preload` module and environment for the task (simulated only). */
  preload?: string;
  env?: Record<string, string>;
  /**
   * Leaves only `free` bytes writable: pads the tmpfs with a filler file, or sets the simulated
   * budget (`simulated` bytes, since the simulation counts bytes where tmpfs counts 4 KiB pages).
   */
  fill(free: { tmpfs: number; simulated: number }): Promise<void>;
  release(): Promise<void>;
}

/** Mounts a `size`-byte tmpfs at `dir` (or prepares the simulation, files under `root`). */
export async function smallDisk(dir: string, root: string, size: number): Promise<SmallDisk> {
  await Deno.mkdir(dir, { recursive: true });
  const mounted = Deno.env.get("MOS_TEST_SIMULATE_FS") !== "1" &&
    await quietCommand("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]);
  if (mounted) {
    return {
      dir,
      kind: "tmpfs",
      release: async () => assert.ok(await quietCommand("umount", [dir]), `umount ${dir} failed`),
      fill: async (free) => {
        const f = await Deno.open(`${dir}/filler`, { write: true, createNew: true });
        let size = 0;
        try {
          for (const step of [1 << 20, 4096]) {
            const block = new Uint8Array(step);
            for (;;) {
              try {
                size += await f.write(block);
              } catch (err) {
                if ((err as { code?: string }).code !== "ENOSPC") throw err;
                break;
              }
            }
          }
        } finally {
          // Truncating gives pages back; leave `free` bytes (whole pages) for the run.
          await f.truncate(Math.max(0, size - free.tmpfs));
          f.close();
        }
      },
    };
  }
  const preload = `${root}/fs_sim_full.ts`;
  await Deno.writeTextFile(preload, FS_SIM_SOURCE);
  const env: Record<string, string> = {
    MOS_SIM_DIR: dir,
    MOS_SIM_MODE: "full",
    MOS_SIM_BYTES: String(2 ** 50),
  };
  return {
    dir,
    kind: "simulated",
    preload,
    env,
    release: async () => {},
    fill: (free) => {
      env.MOS_SIM_BYTES = String(free.simulated);
      return Promise.resolve();
    },
  };
}
