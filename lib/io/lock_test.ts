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
