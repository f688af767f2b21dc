import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import { acquireLock, processAlive } from "./lock.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The pid of a process that has exited and been reaped. */
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

const listDir = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

Deno.test("lock: acquire writes pid/host/purpose, blocks a second taker, release frees it", async () => {
  await withTempDir(async (dir) => {
    const lock = await acquireLock(`${dir}/out`, "score");
    const info = JSON.parse(await Deno.readTextFile(`${dir}/out/.lock`));
    assert.deepEqual(
      [info.pid, info.host, info.purpose],
      [Deno.pid, Deno.hostname(), "score"],
    );
    assert.ok(!Number.isNaN(Date.parse(info.started)));
    assert.deepEqual(listDir(`${dir}/out`), [".lock"], "no temp files may remain");
    await assert.rejects(
      acquireLock(`${dir}/out`, "train"),
      (e: unknown) =>
        e instanceof DataError &&
        e.message.includes(`${dir}/out is in use by process ${Deno.pid} (score) since`) &&
        e.message.includes(`remove ${dir}/out/.lock if that process is gone`),
    );
    lock.release();
    lock.release(); // idempotent
    assert.deepEqual(listDir(`${dir}/out`), []);
    (await acquireLock(`${dir}/out`, "again")).release();
  });
});

Deno.test("lock: a live child process's lock is respected", async () => {
  await withTempDir(async (dir) => {
    const child = new Deno.Command("sleep", { args: ["30"] }).spawn();
    try {
      assert.equal(processAlive(child.pid), true);
      const lock = {
        pid: child.pid,
        host: Deno.hostname(),
        started: "2024-01-01T00:00:00.000Z",
        purpose: "extract",
      };
      await Deno.writeTextFile(`${dir}/.lock`, JSON.stringify(lock));
      await assert.rejects(
        acquireLock(dir, "score"),
        (e: unknown) =>
          e instanceof DataError &&
          e.message ===
            `${dir} is in use by process ${child.pid} (extract) since 2024-01-01T00:00:00.000Z; ` +
              `wait for it or remove ${dir}/.lock if that process is gone`,
      );
    } finally {
      child.kill("SIGKILL");
      await child.status;
    }
    // Once the child is gone (and reaped), the same lock is stale and taken over.
    assert.equal(processAlive(child.pid), false);
    const lock = await acquireLock(dir, "score");
    assert.equal(JSON.parse(await Deno.readTextFile(`${dir}/.lock`)).pid, Deno.pid);
    lock.release();
  });
});

Deno.test("lock: stale, unreadable and foreign-host locks", async () => {
  await withTempDir(async (dir) => {
    const pid = await deadPid();
    const host = Deno.hostname();
    await Deno.writeTextFile(
      `${dir}/.lock`,
      JSON.stringify({ pid, host, started: "x", purpose: "old" }),
    );
    const lock = await acquireLock(dir, "new");
    assert.equal(JSON.parse(await Deno.readTextFile(`${dir}/.lock`)).purpose, "new");
    lock.release();
    assert.deepEqual(listDir(dir), []);

    await Deno.writeTextFile(`${dir}/.lock`, "");
    (await acquireLock(dir, "after-garbage")).release();

    await Deno.writeTextFile(
      `${dir}/.lock`,
      JSON.stringify({ pid, host: `${host}-elsewhere`, started: "t", purpose: "train" }),
    );
    await assert.rejects(
      acquireLock(dir, "score"),
      new RegExp(`process ${pid} on ${host}-elsewhere \\(train\\)`),
    );
  });
});

Deno.test("lock: release never removes a lock taken over by another process", async () => {
  await withTempDir(async (dir) => {
    const lock = await acquireLock(dir, "mine");
    const other = JSON.stringify({ pid: 1, host: Deno.hostname(), started: "t", purpose: "other" });
    await Deno.writeTextFile(`${dir}/.lock`, other);
    lock.release();
    assert.equal(await Deno.readTextFile(`${dir}/.lock`), other);
  });
});

Deno.test("lock: processAlive rejects nonsense pids", () => {
  assert.equal(processAlive(0), false);
  assert.equal(processAlive(-5), false);
  assert.equal(processAlive(1.5), false);
  assert.equal(processAlive(Deno.pid), true);
});

/**
 * A directory whose file system is full but for `freeWrites` small files: a 16 KiB tmpfs padded
 * with a filler when mounting works (root), else an in-process stand-in that fails writes under it
 * as the kernel does (the file is created, its first write past the budget gets ENOSPC).
 */
async function withFullDisk(
  freeWrites: 0 | 1,
  fn: (dir: string, kind: string) => Promise<void>,
): Promise<void> {
  await withTempDir(async (root) => {
    const dir = `${root}/fs`;
    await Deno.mkdir(dir);
    let mounted = false;
    try {
      mounted = (await new Deno.Command("mount", {
        args: ["-t", "tmpfs", "-o", "size=16k", "tmpfs", dir],
        stdout: "null",
        stderr: "null",
      }).output()).success;
    } catch { /* no mount command */ }
    if (mounted) {
      try {
        await Deno.writeFile(`${dir}/filler`, new Uint8Array((4 - freeWrites) * 4096));
        await fn(dir, "tmpfs");
      } finally {
        await new Deno.Command("umount", { args: [dir] }).output();
      }
      return;
    }
    let budget = freeWrites;
    const enospc = (p: string) =>
      Object.assign(new Error(`No space left on device (os error 28): write '${p}'`), {
        code: "ENOSPC",
      });
    const under = (p: string | URL) => String(p).startsWith(`${dir}/`);
    const tracked = new WeakSet<Deno.FsFile>();
    const orig = {
      openSync: Deno.openSync,
      writeSync: Deno.FsFile.prototype.writeSync,
      writeTextFileSync: Deno.writeTextFileSync,
    };
    Deno.openSync = (p, o) => {
      const f = orig.openSync(p, o);
      if (under(p) && o?.write) tracked.add(f);
      return f;
    };
    Deno.FsFile.prototype.writeSync = function (this: Deno.FsFile, b: Uint8Array) {
      if (tracked.has(this) && budget-- <= 0) throw enospc("file");
      return orig.writeSync.call(this, b);
    };
    Deno.writeTextFileSync = (p, text, o) => {
      if (!under(p)) return orig.writeTextFileSync(p, text, o);
      orig.writeTextFileSync(p, "", o);
      if (budget-- <= 0) throw enospc(String(p));
      orig.writeTextFileSync(p, text, o && { ...o, createNew: false });
    };
    try {
      await fn(dir, "simulated");
    } finally {
      Object.assign(Deno, { openSync: orig.openSync, writeTextFileSync: orig.writeTextFileSync });
      Deno.FsFile.prototype.writeSync = orig.writeSync;
    }
  });
}

/** The names under `dir`, recursively, except the tmpfs filler. */
function leftovers(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(rel ? `${dir}/${rel}` : dir)) {
    const sub = rel ? `${rel}/${e.name}` : e.name;
    if (sub === "filler") continue;
    out.push(e.isDirectory ? `${sub}/` : sub);
    if (e.isDirectory) out.push(...leftovers(dir, sub));
  }
  return out.sort();
}

Deno.test("lock: a failed start on a full disk leaves no lock, temp file or directory", async () => {
  await withFullDisk(0, async (dir, kind) => {
    // The directories the lock needs are made first (a full tmpfs still takes directories).
    await assert.rejects(
      acquireLock(`${dir}/out/sub`, "score"),
      (e: unknown) =>
        e instanceof DataError &&
        e.message.includes(`Cannot write ${dir}/out/sub/.lock (No space left on device`),
      kind,
    );
    assert.deepEqual(leftovers(dir), [], `${kind}: a failed start left files behind`);
    // An existing directory stays, only the lock's own files go.
    await Deno.mkdir(`${dir}/kept`);
    await assert.rejects(acquireLock(`${dir}/kept`, "score"), DataError);
    assert.deepEqual(leftovers(dir), ["kept/"], kind);
  });
});

Deno.test("lock: without hard links, a lock the disk cannot hold is not left empty", async () => {
  await withFullDisk(1, async (dir, kind) => {
    const linkSync = Deno.linkSync;
    // A file system without hard links (some network and FUSE mounts answer EPERM).
    Deno.linkSync = () => {
      throw new Deno.errors.PermissionDenied("Operation not permitted (os error 1)");
    };
    try {
      await assert.rejects(
        acquireLock(`${dir}/out`, "score"),
        (e: unknown) => e instanceof DataError && e.message.includes(`${dir}/out/.lock`),
        kind,
      );
    } finally {
      Deno.linkSync = linkSync;
    }
    // An empty .lock would have been taken over as stale by the next run, but it must not exist.
    assert.deepEqual(leftovers(dir), [], `${kind}: a failed start left files behind`);
  });
});
