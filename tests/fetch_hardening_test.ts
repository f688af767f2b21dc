/**
 * Issue 11 for the download tasks, each case a real subprocess against a local HTTP server on
 * 127.0.0.1: gzip bombs stop with one line under 300 MB peak RSS (measured by the child itself,
 * VmHWM); oversized, slow and stalled downloads stop with one line; unpack folders of killed runs
 * are removed by the next run; `--dest` is locked and a failed start leaves neither a lock nor an
 * empty `--dest`; a full disk (a real tmpfs) keeps the archive and every installed set; usage
 * errors and outputs that would overwrite an input exit 2 before anything is created.
 */
import assert from "node:assert/strict";
import {
  checkErrorLine,
  describeRun,
  exists,
  type Expect,
  runWith,
  snapshotTree,
  type TaskResult,
  withTempDir,
} from "./cli_helpers.ts";
import { closedPort, makeTarGz, makeZeroTarGz, serveFiles } from "./http_fixture.ts";
import { encodeNpz } from "../lib/bit/npz.ts";
import { randomBitWeights } from "../lib/bit/random_weights.ts";
import { createRng } from "../lib/random.ts";

/** Peak RSS limit the issue sets for a gzip bomb. */
const RSS_LIMIT_BYTES = 300e6;

/** A preload that writes the process's peak RSS (VmHWM, KiB) to $MOS_HWM_FILE as it exits. */
const HWM_PRELOAD = `
globalThis.addEventListener("unload", () => {
  const s = Deno.readTextFileSync("/proc/self/status");
  Deno.writeTextFileSync(Deno.env.get("MOS_HWM_FILE"), /VmHWM:\\s+(\\d+)/.exec(s)[1]);
});
`;

/** Runs a task and returns its result with its peak RSS in bytes. */
async function runMeasured(
  dir: string,
  file: string,
  args: string[],
): Promise<TaskResult & { peak: number }> {
  const preload = `${dir}/hwm_preload.ts`;
  const out = `${dir}/hwm.txt`;
  await Deno.writeTextFile(preload, HWM_PRELOAD);
  await Deno.remove(out).catch(() => {});
  const r = await runWith(file, args, { preload, env: { MOS_HWM_FILE: out } });
  const peak = Number(await Deno.readTextFile(out)) * 1024;
  return { ...r, peak };
}

/** One clean error line (see checkErrorLine); what must stay unchanged is checked separately. */
function errorLine(
  file: string,
  args: string[],
  r: TaskResult,
  want: Omit<Expect, "unchanged">,
): void {
  checkErrorLine(file, args, r, { ...want, unchanged: [] });
}

function names(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

/** A process that stays alive while the test needs a live pid; kill it when done. */
function liveProcess(): Deno.ChildProcess {
  return new Deno.Command("sleep", { args: ["60"], stdout: "null", stderr: "null" }).spawn();
}

async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

function lockText(pid: number, purpose: string): string {
  return JSON.stringify({ pid, host: Deno.hostname(), started: "2024-01-01T00:00:00Z", purpose });
}

Deno.test("fetch-ood: gzip bombs stop with one line under 300 MB peak RSS, leaving nothing", async () => {
  await withTempDir(async (dir) => {
    // 256 MiB of zeros in one member; and in 256 members of 1 MiB, which no member cap catches.
    const one = await makeZeroTarGz(dir, "one", { "iNaturalist/images/zero.jpg": 256 << 20 });
    const many: Record<string, number> = {};
    for (let i = 0; i < 256; i++) many[`SUN/images/z${String(i).padStart(3, "0")}.jpg`] = 1 << 20;
    const spread = await makeZeroTarGz(dir, "many", many);
    assert.ok(one.length < 2 << 20 && spread.length < 2 << 20, "the bombs are small downloads");
    const s = serveFiles(
      new Map([["/iNaturalist.tar.gz", { bytes: one }], ["/SUN.tar.gz", { bytes: spread }]]),
    );
    try {
      const cases: [string, RegExp][] = [
        [
          "inaturalist",
          /^error: .*iNaturalist\.tar\.gz holds "iNaturalist\/images\/zero\.jpg" of 256\.0 MiB, more than any file of iNaturalist \(10,000 images\) can be \(64\.0 MiB\); it is not the published archive .*; the archive was deleted, rerun to download it again$/,
        ],
        [
          "sun",
          /^error: .*SUN\.tar\.gz inflates more than 8-fold \(.* from .*\), which no archive of SUN \(10,000 images\) does .*; the archive was deleted, rerun to download it again$/,
        ],
      ];
      for (const [set, re] of cases) {
        const dest = `${dir}/ood_${set}`;
        const args = ["--only", set, "--dest", dest, "--mirror", s.base];
        const r = await runMeasured(dir, "fetch_ood.ts", args);
        errorLine("fetch_ood.ts", args, r, { code: 1, mentions: [], matches: [re] });
        assert.ok(
          r.peak < RSS_LIMIT_BYTES,
          `peak RSS ${(r.peak / 1e6).toFixed(0)} MB: ${describeRun("fetch_ood.ts", args, r)}`,
        );
        assert.equal(await exists(dest), false, "nothing is left, not even --dest");
      }
    } finally {
      await s.close();
    }
  });
});

Deno.test("fetch-ood / fetch-bit: a download larger than the file can be is one line, nothing kept", async () => {
  await withTempDir(async (dir) => {
    const small = new Uint8Array(1000);
    const s = serveFiles(
      new Map([
        ["/dtd-r1.0.1.tar.gz", { bytes: small, claimLength: 50_000_000_000 }],
        ["/BiT-S-R101x1.npz", { bytes: small, claimLength: 10_000_000_000 }],
      ]),
    );
    try {
      const ood = ["--only", "textures", "--dest", `${dir}/ood`, "--mirror", s.base];
      const r1 = await runWith("fetch_ood.ts", ood);
      errorLine("fetch_ood.ts", ood, r1, {
        code: 1,
        mentions: ["dtd-r1.0.1.tar.gz announces 46.6 GiB"],
        matches: [/more than the 11\.\d GiB the Textures archive can be; .*nothing was kept$/],
      });
      assert.equal(await exists(`${dir}/ood`), false);
      const bit = ["--dest", `${dir}/models`, "--mirror", s.base];
      const r2 = await runWith("fetch_bit.ts", bit);
      errorLine("fetch_bit.ts", bit, r2, {
        code: 1,
        mentions: ["BiT-S-R101x1.npz announces 9.3 GiB"],
        matches: [/more than the 1\d\d\.\d MiB the BiT-S-R101x1 checkpoint can be/],
      });
      assert.equal(await exists(`${dir}/models`), false);
    } finally {
      await s.close();
    }
  });
});

Deno.test("fetch-ood: --time-limit stops a slow download with one line; the rerun resumes", async () => {
  await withTempDir(async (dir) => {
    const rng = createRng(3);
    const bytes = Uint8Array.from({ length: 300_000 }, () => rng.int(256));
    const slow = { bytes, trickle: { bytes: 4096, everyMs: 100 } };
    const s = serveFiles(new Map([["/dtd-r1.0.1.tar.gz", slow]]));
    try {
      const args = [
        "--only",
        "textures",
        "--dest",
        `${dir}/ood`,
        "--mirror",
        s.base,
        "--time-limit",
        "1",
      ];
      const t0 = performance.now();
      const r = await runWith("fetch_ood.ts", args);
      errorLine("fetch_ood.ts", args, r, {
        code: 1,
        mentions: ["(time limit reached); rerun the same command to resume"],
        matches: [
          /^error: Textures: download of \S+ broke off after \d+ of 300000 bytes .*; or raise --time-limit \(now 1 s\)$/,
        ],
      });
      assert.ok(performance.now() - t0 < 30_000);
      assert.deepEqual(names(`${dir}/ood/.downloads`), [
        "dtd-r1.0.1.tar.gz.part",
        "dtd-r1.0.1.tar.gz.part.json",
      ]);
      const kept = (await Deno.stat(`${dir}/ood/.downloads/dtd-r1.0.1.tar.gz.part`)).size;
      assert.ok(kept > 0 && kept < bytes.length);
      assert.equal(await exists(`${dir}/ood/.lock`), false, "the lock is released");
      // The rerun continues where the time limit stopped it (the bytes are no archive, so the
      // unpack then refuses them; the resume is what is checked here).
      delete (slow as { trickle?: unknown }).trickle;
      const again = await runWith("fetch_ood.ts", args.slice(0, -2));
      assert.match(again.stderr, /dtd-r1\.0\.1\.tar\.gz is corrupt or truncated/);
      assert.equal(s.requests[1].range, `bytes=${kept}-`);
      assert.equal(s.requests[1].status, 206);
    } finally {
      await s.close();
    }
  });
});

Deno.test("fetch-bit: a stalled server stops after --stall-timeout with one line", async () => {
  await withTempDir(async (dir) => {
    const s = serveFiles(
      new Map([["/BiT-S-R101x1.npz", { bytes: new Uint8Array(50_000), stallAfter: 1000 }]]),
    );
    try {
      const args = ["--dest", `${dir}/m`, "--mirror", s.base, "--stall-timeout", "1"];
      const r = await runWith("fetch_bit.ts", args);
      errorLine("fetch_bit.ts", args, r, {
        code: 1,
        mentions: ["broke off after 1000 of 50000 bytes (no data for 1 s)"],
        matches: [/raise --stall-timeout \(now 1 s\) if the server is just slow$/],
      });
      assert.equal((await Deno.stat(`${dir}/m/BiT-S-R101x1.npz.part`)).size, 1000);
    } finally {
      await s.close();
    }
  });
});

Deno.test("fetch-ood: unpack folders of killed runs are removed by the next run, nothing else", async () => {
  await withTempDir(async (dir) => {
    const dest = `${dir}/ood`;
    const dead = await deadPid();
    const live = liveProcess();
    try {
      const killed = [`.SUN.unpack.tmp-${dead}-k1`, `.Places.unpack-${dead}-k2`];
      const kept = [`.Textures.unpack.tmp-${live.pid}-l1`, ".my-notes", "Places.unpack-mine"];
      for (const n of [...killed, ...kept]) {
        await Deno.mkdir(`${dest}/${n}/images`, { recursive: true });
        await Deno.writeTextFile(`${dest}/${n}/images/a.jpg`, "x");
      }
      const before = await Promise.all(kept.map((n) => snapshotTree(`${dest}/${n}`)));
      const port = closedPort();
      const args = ["--only", "sun", "--dest", dest, "--mirror", `http://127.0.0.1:${port}`];
      const r = await runWith("fetch_ood.ts", args);
      errorLine("fetch_ood.ts", args, r, { code: 1, mentions: ["connection refused"] });
      assert.deepEqual(names(dest), [...kept].sort());
      const after = await Promise.all(kept.map((n) => snapshotTree(`${dest}/${n}`)));
      assert.deepEqual(after, before);
    } finally {
      live.kill();
      await live.status;
    }
  });
});

Deno.test("fetch-ood / fetch-bit: --dest is locked; a failed start leaves no lock, no empty --dest", async () => {
  await withTempDir(async (dir) => {
    const live = liveProcess();
    try {
      const port = closedPort();
      const mirror = `http://127.0.0.1:${port}`;
      const tasks: [string, string[]][] = [["fetch_ood.ts", ["--only", "sun"]], [
        "fetch_bit.ts",
        [],
      ]];
      for (const [file, extra] of tasks) {
        const dest = `${dir}/busy_${file}`;
        await Deno.mkdir(dest);
        await Deno.writeTextFile(`${dest}/.lock`, lockText(live.pid, "another run"));
        const before = await snapshotTree(dest);
        const args = [...extra, "--dest", dest, "--mirror", mirror];
        const r = await runWith(file, args);
        errorLine(file, args, r, {
          code: 1,
          mentions: [`${dest} is in use by process ${live.pid} (another run)`],
        });
        assert.deepEqual(await snapshotTree(dest), before, "the holder's lock is untouched");
        // A failed start: a fresh --dest is gone again; a stale lock is taken over and released.
        const fresh = `${dir}/fresh_${file}`;
        const r2 = await runWith(file, [...extra, "--dest", fresh, "--mirror", mirror]);
        assert.equal(r2.code, 1, r2.stderr);
        assert.equal(await exists(fresh), false, `${file}: a failed first run leaves no --dest`);
        await Deno.writeTextFile(`${dest}/.lock`, lockText(await deadPid(), "a killed run"));
        const r3 = await runWith(file, args);
        assert.match(r3.stderr, /connection refused/);
        assert.deepEqual(names(dest), [], `${file}: the stale lock was taken over and released`);
      }
    } finally {
      live.kill();
      await live.status;
    }
  });
});

/** Whether a tmpfs can be mounted here (root or CAP_SYS_ADMIN, as in CI). */
async function canMount(): Promise<boolean> {
  if (Deno.build.os !== "linux") return false;
  const dir = await Deno.makeTempDir({ prefix: "mos_mnt_" });
  try {
    const r = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir],
      stdout: "null",
      stderr: "null",
    }).output().catch(() => null);
    if (!r?.success) return false;
    await new Deno.Command("umount", { args: [dir] }).output();
    return true;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.test({
  name: "fetch-ood on a full disk (2 MiB tmpfs): one line naming the file, archive and sets kept",
  ignore: !(await canMount()),
  fn: async () => {
    await withTempDir(async (dir) => {
      const rng = createRng(5);
      const files: Record<string, Uint8Array> = {};
      for (let i = 0; i < 60; i++) {
        files[`SUN/images/img_${i}.jpg`] = Uint8Array.from({ length: 20_000 }, () => rng.int(256));
      }
      const bytes = await makeTarGz(dir, "sun", files);
      const s = serveFiles(new Map([["/SUN.tar.gz", { bytes }]]));
      const dest = `${dir}/disk`;
      await Deno.mkdir(dest);
      const mount = await new Deno.Command("mount", {
        args: ["-t", "tmpfs", "-o", "size=2m", "tmpfs", dest],
      }).output();
      assert.ok(mount.success);
      try {
        await Deno.mkdir(`${dest}/Textures/banded`, { recursive: true });
        await Deno.writeTextFile(`${dest}/Textures/banded/a.jpg`, "an installed set");
        const before = await snapshotTree(`${dest}/Textures`);
        const args = ["--only", "sun", "--dest", dest, "--mirror", s.base];
        const r = await runWith("fetch_ood.ts", args);
        errorLine("fetch_ood.ts", args, r, {
          code: 1,
          mentions: ["No space left on device", "the archive is kept"],
          matches: [/^error: Cannot write \S+\/SUN\/images\/img_\d+\.jpg /],
        });
        assert.doesNotMatch(r.stderr, /corrupt|deleted/);
        assert.deepEqual(await snapshotTree(`${dest}/Textures`), before);
        assert.deepEqual(await Deno.readFile(`${dest}/.downloads/SUN.tar.gz`), bytes);
        assert.deepEqual(names(dest), [".downloads", "Textures"], "no unpack folder, no lock");
      } finally {
        await s.close();
        await new Deno.Command("umount", { args: [dest] }).output();
      }
    });
  },
});

Deno.test("usage errors and outputs over inputs exit 2 before anything is created", async (t) => {
  await withTempDir(async (dir) => {
    const dest = `${dir}/never`;
    const mirrorDir = `${dir}/mirror`;
    await Deno.mkdir(mirrorDir);
    const cases: [string, string[], string][] = [
      ["fetch_ood.ts", ["--time-limit", "0"], "--time-limit must be an integer >= 1"],
      ["fetch_ood.ts", ["--time-limit", "172801"], "<= 172800"],
      [
        "fetch_ood.ts",
        ["--time-limit", "1.5"],
        '--time-limit must be an integer >= 1 and <= 172800, got "1.5"',
      ],
      [
        "fetch_ood.ts",
        ["--stall-timeout", "3601"],
        "--stall-timeout must be an integer >= 1 and <= 3600",
      ],
      ["fetch_ood.ts", ["--mirror", "ftp://host/x"], '--mirror "ftp://host/x" uses ftp:'],
      ["fetch_ood.ts", ["--mirror", "not a url"], '--mirror "not a url" is not a URL'],
      ["fetch_ood.ts", ["--only", "imagenet"], '--only: unknown set "imagenet"'],
      [
        "fetch_bit.ts",
        ["--time-limit", "-3"],
        '--time-limit must be an integer >= 1 and <= 172800, got "-3"',
      ],
      ["fetch_bit.ts", ["--out", `${dest}/m.npz`], "should end in .onnx"],
      ["fetch_bit.ts", ["--model", "BiT-X-R50x1"], "not a published BiT checkpoint"],
    ];
    for (const [i, [file, extra, mention]] of cases.entries()) {
      await t.step(`${file} ${extra.join(" ")}`, async () => {
        // Each case its own --dest, so one case's leftovers cannot fail another.
        const fresh = `${dest}_${i}`;
        const args = [...extra.map((a) => a.replace(dest, fresh)), "--dest", fresh];
        const r = await runWith(file, args);
        errorLine(file, args, r, { code: 2, mentions: [mention.replace(dest, fresh)] });
        assert.equal(await exists(fresh), false, "--dest not created");
      });
    }
    await t.step("--dest inside a file: mirror", async () => {
      for (const file of ["fetch_ood.ts", "fetch_bit.ts"]) {
        const inside = `${mirrorDir}/sub`;
        const args = ["--mirror", `file://${mirrorDir}`, "--dest", inside];
        const r = await runWith(file, args);
        errorLine(file, args, r, {
          code: 2,
          mentions: [`--dest ${inside} lies inside --mirror ${mirrorDir}`],
        });
        assert.equal(await exists(inside), false);
      }
    });
    await t.step("fetch-bit --out that is its own checkpoint or a directory", async () => {
      await Deno.mkdir(`${dir}/models/dir.onnx`, { recursive: true });
      await Deno.writeTextFile(`${dir}/models/BiT-S-R50x1.npz`, "a checkpoint downloaded before");
      await Deno.symlink(`${dir}/models/BiT-S-R50x1.npz`, `${dir}/models/link.onnx`);
      for (
        const [out, mention] of [
          [`${dir}/models/link.onnx`, "is the checkpoint"],
          [`${dir}/models/dir.onnx`, "is a directory"],
        ]
      ) {
        const args = ["--model", "BiT-S-R50x1", "--dest", `${dir}/models`, "--out", out];
        const r = await runWith("fetch_bit.ts", args);
        errorLine("fetch_bit.ts", args, r, { code: 2, mentions: [`--out ${out}`, mention] });
      }
      assert.deepEqual(names(`${dir}/models`), ["BiT-S-R50x1.npz", "dir.onnx", "link.onnx"]);
      assert.equal(
        await Deno.readTextFile(`${dir}/models/BiT-S-R50x1.npz`),
        "a checkpoint downloaded before",
      );
    });
    await t.step(
      "bit-to-onnx --out that is the --npz (directly, via a link, as side file)",
      async () => {
        const npz = encodeNpz(randomBitWeights({ units: [1, 1, 1, 1], rootChannels: 16, seed: 4 }));
        const src = `${dir}/ckpt`;
        await Deno.mkdir(src);
        await Deno.writeFile(`${src}/m.onnx`, npz); // a checkpoint with a misleading name
        await Deno.writeFile(`${src}/w.npz`, npz);
        await Deno.symlink(`${src}/w.npz`, `${src}/link.onnx`);
        await Deno.writeFile(`${src}/x.onnx.data`, npz);
        const before = await snapshotTree(src);
        for (
          const [input, out, mention] of [
            [`${src}/m.onnx`, `${src}/m.onnx`, `--out ${src}/m.onnx is --npz`],
            [`${src}/w.npz`, `${src}/link.onnx`, `--out ${src}/link.onnx is --npz`],
            [`${src}/x.onnx.data`, `${src}/x.onnx`, "the side file of --out"],
          ]
        ) {
          const args = ["--npz", input, "--out", out];
          const r = await runWith("bit_to_onnx.ts", args);
          errorLine("bit_to_onnx.ts", args, r, { code: 2, mentions: [mention] });
        }
        assert.deepEqual(await snapshotTree(src), before, "the checkpoints are untouched");
      },
    );
  });
});
