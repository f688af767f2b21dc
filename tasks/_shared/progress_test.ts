/**
 * Progress reporting with a fake clock: a job shorter than the delay prints nothing at all; a
 * longer one prints, when stderr is not a terminal, one line per new decile after the delay and a
 * final line; the terminal bar is throttled to one redraw per 100 ms.
 */
import assert from "node:assert/strict";
import { createProgress, formatDuration, PROGRESS_DELAY_MS } from "./progress.ts";

/** A progress reporter on a fake clock; `out` collects what it writes. */
function fake(total: number, tty = false, delayMs?: number) {
  let t = 1000;
  const out: string[] = [];
  const p = createProgress({
    label: "job",
    total,
    unit: "steps",
    now: () => t,
    write: (s) => out.push(s),
    tty,
    quiet: false,
    delayMs,
  });
  return { p, out, advance: (ms: number) => (t += ms) };
}

Deno.test("progress: a one-second job prints no line at all", () => {
  const { p, out, advance } = fake(100);
  for (let i = 1; i <= 100; i++) {
    advance(10); // 100 updates over 1 s: ten deciles, which used to print ten lines
    p.update(i, `loss ${i}`);
  }
  p.finish("done");
  assert.deepEqual(out, []);
  // Without the delay (the old behaviour) the same job printed nine decile lines and a final one.
  const old = fake(100, false, 0);
  for (let i = 1; i <= 100; i++) {
    old.advance(10);
    old.p.update(i);
  }
  old.p.finish("done");
  assert.equal(old.out.length, 10);
});

Deno.test("progress: a job just under the delay prints nothing; the same job past it prints", () => {
  const short = fake(10);
  for (let i = 1; i <= 10; i++) {
    short.advance((PROGRESS_DELAY_MS - 1) / 10);
    short.p.update(i);
  }
  short.p.finish();
  assert.deepEqual(short.out, []);

  const long = fake(10);
  for (let i = 1; i <= 10; i++) {
    long.advance(PROGRESS_DELAY_MS / 5); // 1 s a step: the delay ends after step 5
    long.p.update(i);
  }
  long.p.finish();
  // Step 5 (t = 5 s) is the first past the delay: one line each for steps 5..9 (deciles 5..9;
  // step 10 is the end, left to finish), then the final line. 10 steps in 10 s: 1.0 steps/s.
  assert.deepEqual(long.out, [
    "job 5/10 steps (50%) 1.0 steps/s, elapsed 5s, ETA 5s\n",
    "job 6/10 steps (60%) 1.0 steps/s, elapsed 6s, ETA 4s\n",
    "job 7/10 steps (70%) 1.0 steps/s, elapsed 7s, ETA 3s\n",
    "job 8/10 steps (80%) 1.0 steps/s, elapsed 8s, ETA 2s\n",
    "job 9/10 steps (90%) 1.0 steps/s, elapsed 9s, ETA 1s\n",
    "job 10/10 steps (100%) 1.0 steps/s, elapsed 10s, ETA 0s\n",
  ]);
});

Deno.test("progress: a long non-terminal job prints one line per decile, not per update", () => {
  const { p, out, advance } = fake(1000);
  for (let i = 1; i <= 1000; i++) {
    advance(20); // 20 s in all
    p.update(i);
  }
  p.finish("final");
  // The delay ends at update 250 (t = 5 s, decile 2): lines at 250, 300, ..., 900, then finish.
  assert.equal(out.length, 8 + 1);
  assert.match(out[0], /^job 250\/1000 steps \(25%\) 50 steps\/s, elapsed 5s, ETA 15s\n$/);
  assert.match(out[1], /^job 300\/1000 /);
  assert.match(out[7], /^job 900\/1000 /);
  assert.match(out[8], /^job 1000\/1000 steps \(100%\) .*, final\n$/);
});

Deno.test("progress: the terminal bar starts after the delay and redraws at most every 100 ms", () => {
  const { p, out, advance } = fake(200, true);
  for (let i = 1; i <= 200; i++) {
    advance(50); // an update every 50 ms, 10 s in all; the delay ends at update 100
    p.update(i);
  }
  p.finish();
  const draws = out.filter((s) => s.startsWith("\r\x1b[2K["));
  // Updates 100, 102, ..., 200 are the ones 100 ms after the last redraw: 51 redraws, then the
  // final line.
  assert.equal(draws.length, 51);
  assert.match(draws[0], /\[#{12}-{12}\] job 100\/200 steps \(50%\)/);
  assert.match(draws[1], / job 102\/200 /);
  assert.equal(out.length, 52);
  assert.ok(out[51].startsWith("\r\x1b[2Kjob 200/200 steps (100%) "), out[51]);
  assert.ok(out[51].endsWith("\n"));
});

Deno.test("progress: quiet prints nothing even for long jobs", () => {
  let t = 0;
  const out: string[] = [];
  const p = createProgress({
    label: "q",
    total: 2,
    now: () => t,
    write: (s) => out.push(s),
    tty: false,
    quiet: true,
  });
  t = 60_000;
  p.update(1);
  p.finish();
  assert.deepEqual(out, []);
});

Deno.test("formatDuration: seconds, minutes, hours and unknown", () => {
  assert.equal(formatDuration(12.4), "12s");
  assert.equal(formatDuration(185), "3m05s");
  assert.equal(formatDuration(3720), "1h02m");
  assert.equal(formatDuration(NaN), "?");
});
