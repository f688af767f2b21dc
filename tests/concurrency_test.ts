/**
 * Concurrency, with real processes: two runs writing one output directory. The first takes
 * `<out>/.lock`; any other run on that directory (the same task or another) exits 1 with one line
 * naming the directory, the holder's pid and task, and the lock file to remove if that process
 * is gone, and leaves the lock and the output alone. A lock whose process was SIGKILLed is stale:
 * the next run takes it over and completes. A lock of a live process, or of another host, is
 * respected.
 */
import assert from "node:assert/strict";
import sharp from "npm:sharp@0.35.5";
import {
  deadPid,
  describeRun,
  exists,
  type Fixture,
  ok,
  runTask,
  snapshotTree,
  spawnTask,
  type TaskResult,
  withTempDir,
  writeFixture,
} from "./cli_helpers.ts";
import { buildModel, floatConst, node } from "../lib/ort/graph.ts";
import { createRng } from "../lib/random.ts";

/** Steps of a run that must still be going when the test kills it (about a minute here). */
const LONG_STEPS = "300000";

/** Waits until `<dir>/.lock` names `pid` (60 s at most). */
async function waitForLock(dir: string, pid: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      if (JSON.parse(await Deno.readTextFile(`${dir}/.lock`)).pid === pid) return;
    } catch { /* not there yet */ }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`process ${pid} never took ${dir}/.lock`);
}

/** Asserts a run was refused because `pid` (running `purpose`) holds `dir`'s lock. */
function assertLockRefusal(
  file: string,
  args: string[],
  r: TaskResult,
  dir: string,
  holder: { pid: number; purpose: string; host?: string },
): void {
  const why = describeRun(file, args, r);
  assert.equal(r.code, 1, why);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one error line: ${why}`);
  assert.match(lines[0], /^error: /, why);
  const where = holder.host ? ` on ${holder.host}` : "";
  for (
    const m of [
      `${dir} is in use by process ${holder.pid}${where} (${holder.purpose})`,
      `remove ${dir}/.lock if that process is gone`,
    ]
  ) {
    assert.ok(lines[0].includes(m), `error should say "${m}": ${why}`);
  }
  assert.equal(r.stdout, "", why);
}

function trainArgs(fx: Fixture, out: string, steps: string): string[] {
  return ["--features", fx.train, "--out", out, "--steps", steps];
}

function scoreArgs(fx: Fixture, head: string, out: string): string[] {
  return [
    "--head",
    head,
    "--id",
    fx.val,
    "--ood",
    `far=${fx.ood.far}`,
    "--methods",
    "msp",
    "--out",
    out,
  ];
}

Deno.test("concurrency: a running train-head locks its --out; a SIGKILLed one's lock is taken over", async () => {
  await withTempDir(async (root) => {
    const fx = await writeFixture(`${root}/features`);
    const head = `${root}/head`;
    await ok("train_head.ts", trainArgs(fx, head, "50"));
    const out = `${root}/busy`;
    const first = spawnTask("train_head.ts", trainArgs(fx, out, LONG_STEPS));
    let finished = false;
    const status = first.status.then((s) => {
      finished = true;
      return s;
    });
    try {
      await waitForLock(out, first.pid);
      const lockBefore = await Deno.readTextFile(`${out}/.lock`);
      const holder = { pid: first.pid, purpose: "train-head" };

      const same = trainArgs(fx, out, LONG_STEPS);
      assertLockRefusal("train_head.ts", same, await runTask("train_head.ts", same), out, holder);
      const other = scoreArgs(fx, head, out);
      assertLockRefusal("score.ts", other, await runTask("score.ts", other), out, holder);

      assert.ok(!finished, "the first run must still hold the lock while the others are refused");
      assert.equal(await Deno.readTextFile(`${out}/.lock`), lockBefore, "the lock was touched");
    } finally {
      first.kill("SIGKILL");
    }
    assert.equal((await status).signal, "SIGKILL");

    // The killed run's lock stays behind, stale; the next run takes it over and finishes.
    assert.equal(JSON.parse(await Deno.readTextFile(`${out}/.lock`)).pid, first.pid);
    const r = await ok("train_head.ts", trainArgs(fx, out, "50"));
    assert.match(r.stdout, /steps 50/);
    assert.ok(!await exists(`${out}/.lock`), "the lock must be released after the run");
    const names = [...Deno.readDirSync(out)].map((e) => e.name).sort();
    assert.deepEqual(names, ["bias.npy", "head.json", "manifest.json", "weight.npy"]);
  });
});

Deno.test("concurrency: two identical runs started together: one works, the other is refused", async () => {
  await withTempDir(async (root) => {
    const fx = await writeFixture(`${root}/features`);
    const out = `${root}/head`;
    const args = trainArgs(fx, out, LONG_STEPS);
    const children = [
      spawnTask("train_head.ts", args, "piped"),
      spawnTask("train_head.ts", args, "piped"),
    ];
    const outputs = children.map((c) => c.output());
    try {
      const first = await Promise.race(outputs.map((p, i) => p.then((o) => ({ i, o }))));
      const loser = first.i;
      const winner = children[1 - loser];
      const r: TaskResult = {
        code: first.o.code,
        stdout: "",
        stderr: new TextDecoder().decode(first.o.stderr),
      };
      assertLockRefusal("train_head.ts", args, r, out, {
        pid: winner.pid,
        purpose: "train-head",
      });
      assert.equal(JSON.parse(await Deno.readTextFile(`${out}/.lock`)).pid, winner.pid);
    } finally {
      for (const c of children) {
        try {
          c.kill("SIGKILL");
        } catch { /* already exited */ }
      }
      await Promise.all(outputs);
    }
  });
});

/** A backbone for extract: global average pool -> `features` N x 3. */
function tinyModel(): Uint8Array {
  return buildModel({
    name: "gap",
    inputs: [{ name: "images", type: "float32", shape: ["N", 3, "H", "W"] }],
    outputs: [{ name: "features", type: "float32", shape: ["N", 3] }],
    nodes: [
      node("GlobalAveragePool", ["images"], ["gap"]),
      node("Flatten", ["gap"], ["flat"], { axis: 1 }),
      node("Mul", ["flat", "one"], ["features"]),
    ],
    initializers: [floatConst("one", [1], [1])],
  });
}

Deno.test("concurrency: hand-made locks in every task's --out: stale ones taken over, live ones respected", async (t) => {
  await withTempDir(async (root) => {
    const fx = await writeFixture(`${root}/features`);
    const head = `${root}/head`;
    await ok("train_head.ts", trainArgs(fx, head, "50"));
    const scores = `${root}/scores`;
    await ok("score.ts", scoreArgs(fx, head, scores));
    const images = `${root}/images/x`;
    await Deno.mkdir(images, { recursive: true });
    const rng = createRng(3);
    for (let i = 0; i < 2; i++) {
      const px = new Uint8Array(40 * 40 * 3).map(() => rng.int(256));
      await sharp(px, { raw: { width: 40, height: 40, channels: 3 } }).png()
        .toFile(`${images}/${i}.png`);
    }
    const model = `${root}/tiny.onnx`;
    await Deno.writeFile(model, tinyModel());
    const tasks: Record<string, { file: string; args: (out: string) => string[] }> = {
      extract: {
        file: "extract.ts",
        args: (out) => [
          "--model",
          model,
          "--images",
          `${root}/images`,
          "--out",
          out,
          "--size",
          "32",
        ],
      },
      "train-head": { file: "train_head.ts", args: (out) => trainArgs(fx, out, "50") },
      score: { file: "score.ts", args: (out) => scoreArgs(fx, head, out) },
      tables: { file: "tables.ts", args: (out) => ["--scores", scores, "--out", out] },
    };
    const sleeper = new Deno.Command("sleep", { args: ["60"] }).spawn();
    try {
      const host = Deno.hostname();
      const locks = {
        "of a dead process": { pid: await deadPid(), host, live: false },
        "of a live process": { pid: sleeper.pid, host, live: true },
        "from another host": { pid: 1, host: "build-node-7", live: true },
      };
      let n = 0;
      for (const [task, spec] of Object.entries(tasks)) {
        for (const [what, lock] of Object.entries(locks)) {
          // BUG (tasks/tables.ts writePaperTables): tables takes no lock, so it writes into a
          // directory another run holds. Expected: acquireLock(o.out, "tables") around the writes.
          await t.step(`${task}: lock ${what}`, async () => {
            const out = `${root}/out_${n++}`;
            await Deno.mkdir(out);
            const info = { ...lock, started: "2024-05-01T12:00:00.000Z", purpose: "extract" };
            delete (info as { live?: boolean }).live;
            await Deno.writeTextFile(`${out}/.lock`, JSON.stringify(info) + "\n");
            const before = await snapshotTree(out);
            const args = spec.args(out);
            const r = await runTask(spec.file, args);
            if (lock.live) {
              assertLockRefusal(spec.file, args, r, out, {
                pid: lock.pid,
                purpose: "extract",
                host: lock.host === host ? undefined : lock.host,
              });
              assert.deepEqual(await snapshotTree(out), before, "a refused run changed --out");
            } else {
              assert.equal(r.code, 0, describeRun(spec.file, args, r));
              assert.ok(!await exists(`${out}/.lock`), "the stale lock must be gone afterwards");
              const left = Object.keys(await snapshotTree(out) ?? {}).filter((p) =>
                p.includes(".lock") || p.includes(".tmp-")
              );
              assert.deepEqual(left, [], "lock or temp files left behind");
            }
          });
        }
      }
    } finally {
      sleeper.kill("SIGKILL");
      await sleeper.status;
    }
  });
});
