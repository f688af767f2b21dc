/**
 * Signals: `score`, `tables`, `table1-extended --demo` and `groups-ablation --demo` are each run
 * once uninterrupted, then started again from an empty `--out` and sent SIGINT or SIGTERM
 * (alternately) at seeded moments spread over the measured working part of the run (from about
 * the end of the task's start-up, which a `--help` run measures; more moments follow if none of
 * them reached a running task).
 *
 * After every signal:
 * - a run the signal reached exits 130 (SIGINT) or 143 (SIGTERM) and its last stderr line, printed
 *   once, says it was interrupted and what it released; a run that had already finished exits 0;
 * - nothing it wrote is left over that a finished run would not have: no `.lock`, no temp file
 *   (`*.tmp-*`), no staging directory (`.staging.tmp-*`), no stale lock moved aside;
 * - the same command, rerun to completion, gives the uninterrupted run's files, byte for byte,
 *   except the fields that record time (see {@linkcode timeless}).
 *
 * Every run of a command writes to the same path (the reference is moved aside first), because
 * the outputs record their own paths (sets.json, manifests). SIGKILL, which no process can handle,
 * is tests/crash_test.ts's subject.
 */
import assert from "node:assert/strict";
import { createRng } from "../lib/random.ts";
import { timelessReport } from "../lib/report/page.ts";
import {
  bytesEqual,
  exists,
  listFiles,
  ok,
  REPO_ROOT,
  withTempDir,
  writeFixture,
} from "./cli_helpers.ts";

/** Signals per command. */
const SIGNALS = 4;
/** Signals per command at most, when none of the first {@linkcode SIGNALS} reached the task. */
const MAX_SIGNALS = 12;

/** Exit code of a run that handled the signal: 128 + its number. */
const EXIT_CODE = { SIGINT: 130, SIGTERM: 143 } as const;

/**
 * What of a file may differ between two runs: the time fields. manifest.json without
 * `wall_seconds` / `created`; a detector's result.json without `seconds`; timings.csv by its
 * method column; the "Test time (s)" column of a CSV or Markdown table; report.html without its
 * time cells and hashes. Everything else is the bytes themselves.
 */
function timeless(rel: string, bytes: Uint8Array): Uint8Array | string {
  const name = rel.split("/").pop()!;
  const text = () => new TextDecoder().decode(bytes);
  if (name === "manifest.json" || name === "result.json") {
    const v = JSON.parse(text());
    delete v.wall_seconds;
    delete v.created;
    if (name === "result.json") delete v.seconds;
    return JSON.stringify(v);
  }
  if (name === "timings.csv") return text().split("\n").map((l) => l.split(",")[0]).join("\n");
  // report.html shows the time fields above in cells of class "time", and the input hashes,
  // among them hashes of manifests (time fields included).
  if (name === "report.html") return timelessReport(text()).replace(/sha256:[0-9a-f]{64}/g, "");
  const isTime = (cell: string) => cell.trim() === "Test time (s)";
  if (name.endsWith(".csv")) {
    const lines = text().split("\n");
    const col = lines[0].split(",").findIndex(isTime);
    if (col < 0) return bytes;
    return lines.map((l) => l.split(",").filter((_, i) => i !== col).join(",")).join("\n");
  }
  if (name.endsWith(".md")) {
    // Markdown tables: drop the time column of each table whose header names it.
    let col = -1;
    return text().split("\n").map((l) => {
      if (!l.startsWith("|")) {
        col = -1;
        return l;
      }
      const cells = l.split("|");
      if (col < 0) col = cells.findIndex(isTime);
      return col < 0 ? l : cells.filter((_, i) => i !== col).join("|");
    }).join("\n");
  }
  return bytes;
}

/** Asserts `out` holds exactly the files of `ref`, each the same up to its time fields. */
async function assertSameTree(out: string, ref: string, why: string): Promise<void> {
  const [a, b] = await Promise.all([listFiles(out), listFiles(ref)]);
  assert.deepEqual(a, b, `${why}: the set of files differs from the uninterrupted run`);
  for (const rel of a) {
    const [x, y] = await Promise.all([
      Deno.readFile(`${out}/${rel}`),
      Deno.readFile(`${ref}/${rel}`),
    ]);
    const [u, v] = [timeless(rel, x), timeless(rel, y)];
    const same = typeof u === "string" ? u === v : v instanceof Uint8Array && bytesEqual(u, v);
    assert.ok(same, `${why}: ${rel} differs from the uninterrupted run`);
  }
}

/** What an interrupted run may not leave: its lock, temp files, staging dirs, moved-aside locks. */
async function leftovers(dir: string): Promise<string[]> {
  const bad: string[] = [];
  const walk = async (rel: string) => {
    for await (const e of Deno.readDir(rel ? `${dir}/${rel}` : dir)) {
      const sub = rel ? `${rel}/${e.name}` : e.name;
      if (/^\.lock$|\.tmp-|^\.staging|\.stale-/.test(e.name)) bad.push(sub);
      else if (e.isDirectory) await walk(sub);
    }
  };
  if (await exists(dir)) await walk("");
  return bad.sort();
}

/** Milliseconds from spawn to exit of `deno run -A tasks/<file> ...args`, which must succeed. */
async function timed(file: string, args: string[]): Promise<number> {
  const t0 = performance.now();
  await ok(file, args);
  return performance.now() - t0;
}

/** How a signalled run ended. */
type Outcome = "handled" | "finished first" | "before the handlers";

/**
 * Starts the task, sends `sig` after `delayMs`, and checks how it ended: the signal handled
 * (exit 130 / 143, one "interrupted" line last on stderr), the run finished first (exit 0), or the
 * signal came before the task installed its handlers (killed by it, during start-up). Returns that
 * and the interrupted line.
 */
async function signalAfter(
  file: string,
  args: string[],
  sig: "SIGINT" | "SIGTERM",
  delayMs: number,
): Promise<{ outcome: Outcome; line: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `tasks/${file}`, ...args],
    cwd: REPO_ROOT,
    env: { MOS_QUIET: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill(sig);
    } catch { /* already exited */ }
  }, delayMs);
  const [status, err] = await Promise.all([child.status, new Response(child.stderr).text()]);
  clearTimeout(timer);
  const why = `${file} ${args.join(" ")}, ${sig} at ${delayMs} ms -> ` +
    `${status.signal ?? `exit ${status.code}`}\nstderr: ${err}`;
  if (status.signal !== null) {
    assert.equal(status.signal, sig, why);
    return { outcome: "before the handlers", line: "" };
  }
  if (status.code === 0) return { outcome: "finished first", line: "" };
  assert.equal(status.code, EXIT_CODE[sig], why);
  const lines = err.trimEnd().split("\n");
  const line = lines[lines.length - 1];
  assert.match(
    line,
    new RegExp(
      `^interrupted: \\S+ got ${sig}; released \\d+ locks?, removed \\d+ temp ` +
        "(file or directory|files and directories); rerun the same command to finish$",
    ),
    why,
  );
  assert.equal(lines.filter((l) => l.startsWith("interrupted:")).length, 1, why);
  return { outcome: "handled", line };
}

/** One command under test; `args` get the output directory. */
interface SignalSpec {
  file: string;
  args: (out: string) => string[];
}

/**
 * The uninterrupted run, then {@linkcode SIGNALS} signalled runs and reruns of `spec`, each from
 * an empty `--out`, at moments drawn from `seed`.
 */
async function signalRuns(
  t: Deno.TestContext,
  dir: string,
  spec: SignalSpec,
  seed: number,
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const out = `${dir}/out`;
  const ref = `${dir}/ref`;
  const args = spec.args(out);
  // The shorter of two runs each: later runs start faster (warm caches), and moments past the
  // end of a run test nothing. The second uninterrupted run must already equal the first.
  const startMs = Math.min(
    await timed(spec.file, ["--help"]),
    await timed(spec.file, ["--help"]),
  );
  let ms = await timed(spec.file, args);
  await Deno.rename(out, ref);
  ms = Math.min(ms, await timed(spec.file, args));
  await assertSameTree(out, ref, `${spec.file}: two uninterrupted runs`);
  await Deno.remove(out, { recursive: true });
  const rng = createRng(seed);
  const log: string[] = [];
  let handled = 0;
  // On a loaded machine start-up and run length vary, so a moment may fall before the handlers
  // or after the end; then further seeded moments follow, until one reaches a running task.
  for (let i = 0; i < SIGNALS || (handled === 0 && i < MAX_SIGNALS); i++) {
    const sig = i % 2 === 0 ? "SIGINT" : "SIGTERM";
    // Mostly within the part of the run after start-up, where the task holds locks and writes;
    // from half the start-up on, as any one start-up may be shorter than the one measured.
    const from = 0.5 * startMs;
    const delay = Math.round(from + rng.float() * Math.max(1, ms - from));
    await t.step(`${sig} at ${delay} ms of ~${Math.round(ms)}`, async () => {
      try {
        const { outcome, line } = await signalAfter(spec.file, args, sig, delay);
        if (outcome === "handled") handled++;
        const why = `${spec.file}: ${sig} at ${delay} ms (${outcome})`;
        log.push(
          `${i}: ${sig} at ${delay} ms: ${outcome}${line ? ` (${line.split("; ")[1]})` : ""}`,
        );
        assert.deepEqual(await leftovers(dir), [], `${why}: left behind`);
        await ok(spec.file, args);
        await assertSameTree(out, ref, why);
      } finally {
        // The next signal starts from an empty --out, whatever this one found.
        await Deno.remove(out, { recursive: true }).catch(() => {});
      }
    });
  }
  console.log(
    `${spec.file}: ${handled}/${log.length} signals reached a running task (uninterrupted ~${
      Math.round(ms)
    } ms, start-up ~${Math.round(startMs)} ms)\n${log.map((l) => `  ${l}`).join("\n")}`,
  );
  // All of them missing would mean the test checked nothing.
  assert.ok(handled >= 1, `${spec.file}: no signal reached a running task`);
}

Deno.test("signals: SIGINT / SIGTERM at seeded moments leave nothing behind, reruns are identical", async (t) => {
  await withTempDir(async (root) => {
    const fx = await writeFixture(`${root}/features`);
    const heads = { flat: `${root}/head_flat`, group: `${root}/head_group` };
    const train = ["--features", fx.train, "--val", fx.val, "--steps", "200", "--threads", "2"];
    await ok("train_head.ts", [...train, "--out", heads.flat]);
    await ok("train_head.ts", [...train, "--groups", fx.groups, "--out", heads.group]);
    const score = (head: string, methods: string) => (out: string) => [
      "--head",
      head,
      "--id",
      fx.val,
      "--ood",
      `faint=${fx.ood.faint}`,
      "--ood",
      `far=${fx.ood.far}`,
      "--train",
      fx.train,
      "--methods",
      methods,
      // Bootstrap intervals: the longest honest part of a score run, and tables --ci reads them.
      "--ci",
      "--resamples",
      "1000",
      "--threads",
      "2",
      "--out",
      out,
    ];
    const scoreFlat = score(heads.flat, "msp,odin,mahalanobis,energy,kl");

    await t.step("score", async (t) => {
      await signalRuns(t, `${root}/score`, { file: "score.ts", args: scoreFlat }, 11);
    });

    await t.step("tables", async (t) => {
      const scores = { flat: `${root}/scores_flat`, group: `${root}/scores_group` };
      await ok("score.ts", scoreFlat(scores.flat));
      await ok("score.ts", score(heads.group, "mos")(scores.group));
      await signalRuns(t, `${root}/tables`, {
        file: "tables.ts",
        args: (out) => [
          "--scores",
          scores.flat,
          "--scores",
          scores.group,
          "--flat-head",
          heads.flat,
          "--group-head",
          heads.group,
          "--ci",
          "--out",
          out,
        ],
      }, 12);
    });

    await t.step("table1-extended --demo", async (t) => {
      // The sizes of tests/table1_extended_test.ts; a few detectors of each kind (logits,
      // features, groups, multi-layer) instead of all of them.
      await signalRuns(t, `${root}/table1_extended`, {
        file: "table1_extended.ts",
        args: (out) => [
          "--demo",
          "--dim",
          "16",
          "--train-per-class",
          "10",
          "--val-per-class",
          "2",
          "--ood-count",
          "150",
          "--steps",
          "20",
          "--methods",
          "msp,energy,mahalanobis,knn,mos",
          "--threads",
          "2",
          "--out",
          out,
        ],
      }, 13);
    });

    await t.step("groups-ablation --demo", async (t) => {
      // The sizes of tests/ablation_tasks_test.ts, one level: two heads, trained and scored.
      await signalRuns(t, `${root}/groups_ablation`, {
        file: "groups_ablation.ts",
        args: (out) => [
          "--demo",
          "--dim",
          "8",
          "--train-per-class",
          "2",
          "--steps",
          "5",
          "--levels",
          "0",
          "--strategies",
          "taxonomy,random",
          "--threads",
          "2",
          "--out",
          out,
        ],
      }, 14);
    });
  });
});

/**
 * A task shell around a loop of atomic writes under a lock (mode "busy"), a task that finishes at
 * once and then signals itself (mode "after"), or one that just finishes ("plain").
 */
function probeSource(): string {
  const url = (rel: string) => JSON.stringify(new URL(rel, `file://${REPO_ROOT}/`).href);
  return `
import { runTask } from ${url("tasks/_shared/cli.ts")};
import { acquireLock } from ${url("lib/io/lock.ts")};
import { writeFileAtomic } from ${url("lib/io/atomic.ts")};
const [dir, mode] = Deno.args;
const spec = { name: "probe", summary: "", usage: "", flags: {} };
await runTask(spec, async () => {
  const lock = await acquireLock(dir, "probe");
  try {
    if (mode !== "busy") return;
    console.log("ready");
    for (let i = 0; ; i++) await writeFileAtomic(dir + "/f" + (i % 3) + ".bin", new Uint8Array(1 << 16));
  } finally {
    lock.release();
  }
}, []);
if (mode === "after") {
  Deno.kill(Deno.pid, "SIGTERM");
  await new Promise((r) => setTimeout(r, 3000));
  console.log("survived");
}
`;
}

Deno.test("signals: the task shell cleans up writes in flight, and only while the task runs", async (t) => {
  await withTempDir(async (root) => {
    const probe = `${root}/probe.ts`;
    await Deno.writeTextFile(probe, probeSource());
    const spawn = (dir: string, mode: string) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", probe, dir, mode],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();

    await t.step(
      "a finished task exits on its own; a later signal gets the default action",
      async () => {
        const t0 = performance.now();
        const plain = await spawn(`${root}/plain`, "plain").output();
        assert.equal(plain.code, 0, new TextDecoder().decode(plain.stderr));
        assert.ok(performance.now() - t0 < 30_000, "the handlers kept the process alive");
        const after = await spawn(`${root}/after`, "after").output();
        assert.equal(after.signal, "SIGTERM", "the task's handler outlived the task");
        assert.equal(new TextDecoder().decode(after.stdout), "");
        assert.deepEqual(await listFiles(`${root}/after`), []);
      },
    );

    // Writes back to back: signals land while temp files are being opened, written, renamed.
    const rng = createRng(15);
    for (let i = 0; i < 8; i++) {
      const sig = i % 2 === 0 ? "SIGINT" : "SIGTERM";
      const delay = rng.int(40);
      await t.step(`${sig} ${delay} ms into a loop of atomic writes`, async () => {
        const dir = `${root}/busy_${i}`;
        const child = spawn(dir, "busy");
        const reader = child.stdout.getReader();
        const first = await reader.read(); // "ready": the lock is held, writes begin
        assert.equal(new TextDecoder().decode(first.value), "ready\n");
        await new Promise((r) => setTimeout(r, delay));
        child.kill(sig);
        reader.releaseLock();
        const { code, signal, stderr } = await child.output();
        const err = new TextDecoder().decode(stderr);
        assert.equal(signal, null, err);
        assert.equal(code, EXIT_CODE[sig], err);
        assert.match(err, new RegExp(`^interrupted: probe got ${sig}; released 1 lock, removed`));
        assert.deepEqual(await leftovers(dir), [], err);
        for (const f of await listFiles(dir)) {
          assert.match(f, /^f[012]\.bin$/);
          assert.equal((await Deno.stat(`${dir}/${f}`)).size, 1 << 16, `${f} is whole`);
        }
      });
    }
  });
});
