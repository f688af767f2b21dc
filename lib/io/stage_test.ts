import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { DataError } from "../errors.ts";
import { acquireLock } from "./lock.ts";
import { buildManifest, readManifest, writeManifest } from "./manifest.ts";
import { commitStaged, runStage, type StageOptions } from "./stage.ts";
import { entryTree, withTempDir } from "../../tests/cli_helpers.ts";

/** Every file's bytes and mtime under `dir`, for "unchanged byte for byte" checks. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of entryTree(dir)) {
    if (p.endsWith("/")) continue;
    const bytes = Deno.readFileSync(`${dir}/${p}`);
    out[p] = `${new TextDecoder().decode(bytes)}@${Deno.statSync(`${dir}/${p}`).mtime?.getTime()}`;
  }
  return out;
}

/**
 * A stage that sums the bytes of its input file into `sum.txt`, counting its computations: the
 * result is checked against the sum worked out here from the input text.
 */
function summing(
  dir: string,
  input: string,
  calls: { compute: number; reuse: number },
  extra: Partial<StageOptions<number>> = {},
): StageOptions<number> {
  return {
    dir,
    stage: "sum",
    config: { kind: "byte sum" },
    inputs: { numbers: input },
    markers: ["sum.txt"],
    reuse: async (ctx) => {
      calls.reuse++;
      return Number(await Deno.readTextFile(`${ctx.dir}/sum.txt`));
    },
    compute: async () => {
      calls.compute++;
      return (await Deno.readFile(input)).reduce((a, b) => a + b, 0);
    },
    write: async (w, sum) => {
      await w.text("sum.txt", `${sum}`);
      await w.text("part/detail.txt", `sum ${sum}`);
    },
    ...extra,
  };
}

Deno.test("runStage: computes, writes files and the manifest, then reuses on a matching manifest", async () => {
  await withTempDir(async (root) => {
    const input = `${root}/in.txt`;
    await Deno.writeTextFile(input, "AB"); // 65 + 66
    const out = `${root}/a/out`;
    const calls = { compute: 0, reuse: 0 };
    const first = await runStage(summing(out, input, calls));
    assert.equal(first.result, 131);
    assert.equal(first.reused, false);
    assert.deepEqual(first.files, [`${out}/sum.txt`, `${out}/part/detail.txt`]);
    assert.deepEqual(entryTree(out), ["manifest.json", "part/", "part/detail.txt", "sum.txt"]);
    const sha = createHash("sha256").update("AB").digest("hex");
    assert.deepEqual(first.inputs, { numbers: `sha256:${sha}` });
    const m = await readManifest(out);
    assert.equal(m?.stage, "sum");
    assert.deepEqual(m?.inputs, { numbers: `sha256:${sha}` });
    assert.deepEqual(m?.config, { kind: "byte sum" });

    const before = snapshot(out);
    const again = await runStage(summing(out, input, calls));
    assert.equal(again.result, 131);
    assert.equal(again.reused, true);
    assert.deepEqual(calls, { compute: 1, reuse: 1 });
    assert.deepEqual(snapshot(out), before, "a reuse rewrites nothing");

    // force recomputes although the manifest matches.
    const forced = await runStage(summing(out, input, calls, { force: true }));
    assert.equal(forced.reused, false);
    assert.deepEqual(calls, { compute: 2, reuse: 1 });
  });
});

Deno.test("runStage: a changed input or config recomputes", async () => {
  await withTempDir(async (root) => {
    const input = `${root}/in.txt`;
    await Deno.writeTextFile(input, "AB");
    const out = `${root}/out`;
    const calls = { compute: 0, reuse: 0 };
    await runStage(summing(out, input, calls));
    await Deno.writeTextFile(input, "ABC"); // + 67
    const changed = await runStage(summing(out, input, calls));
    assert.equal(changed.reused, false);
    assert.equal(changed.result, 198);
    assert.equal(Deno.readTextFileSync(`${out}/sum.txt`), "198");
    const config = await runStage(summing(out, input, calls, { config: { kind: "other" } }));
    assert.equal(config.reused, false);
    assert.deepEqual(calls, { compute: 3, reuse: 0 });
    // Precomputed hashes take part in the match like hashed paths.
    const h1 = await runStage(summing(out, input, calls, { hashes: { extra: "sha256:1" } }));
    const h2 = await runStage(summing(out, input, calls, { hashes: { extra: "sha256:1" } }));
    const h3 = await runStage(summing(out, input, calls, { hashes: { extra: "sha256:2" } }));
    assert.deepEqual([h1.reused, h2.reused, h3.reused], [false, true, false]);
  });
});

Deno.test("runStage: a failure in compute or write keeps the previous result byte for byte", async () => {
  await withTempDir(async (root) => {
    const input = `${root}/in.txt`;
    await Deno.writeTextFile(input, "AB");
    const out = `${root}/out`;
    const calls = { compute: 0, reuse: 0 };
    await runStage(summing(out, input, calls));
    const before = snapshot(out);
    await new Promise((r) => setTimeout(r, 20)); // a rewrite would show in the mtimes
    await Deno.writeTextFile(input, "ABC");
    await assert.rejects(
      runStage(summing(out, input, calls, {
        compute: () => Promise.reject(new DataError("the scores overflow float32")),
      })),
      /overflow/,
    );
    assert.deepEqual(snapshot(out), before);
    await assert.rejects(
      runStage(summing(out, input, calls, {
        write: async (w) => {
          await w.text("sum.txt", "half");
          throw new DataError(`No space left writing ${w.path}/part/detail.txt`);
        },
      })),
      (e: Error) => {
        // The message names the final directory, not the staging one.
        assert.match(e.message, new RegExp(`writing ${out}/part/detail.txt$`));
        return true;
      },
    );
    assert.deepEqual(snapshot(out), before, "no staging, lock or new file left behind");
  });
});

Deno.test("runStage: a failed first run leaves no directory; a held lock refuses the stage", async () => {
  await withTempDir(async (root) => {
    const input = `${root}/in.txt`;
    await Deno.writeTextFile(input, "AB");
    const calls = { compute: 0, reuse: 0 };
    await assert.rejects(
      runStage(summing(`${root}/x/y`, input, calls, {
        compute: () => Promise.reject(new DataError("bad")),
      })),
      /bad/,
    );
    assert.deepEqual(entryTree(root), ["in.txt"]);

    const out = `${root}/out`;
    const lock = await acquireLock(out, "another run");
    try {
      await assert.rejects(runStage(summing(out, input, calls)), (e: Error) => {
        assert.ok(e instanceof DataError);
        assert.match(e.message, /in use by process .* \(another run\)/);
        return true;
      });
    } finally {
      lock.release();
    }
    assert.equal(calls.compute, 0, "nothing computed without the lock");
    const ok = await runStage(summing(out, input, calls));
    assert.equal(ok.result, 131);
    assert.ok(!entryTree(out).includes(".lock"), "the lock is released");
  });
});

Deno.test("runStage: another stage's manifest is left alone and named", async () => {
  await withTempDir(async (root) => {
    const input = `${root}/in.txt`;
    await Deno.writeTextFile(input, "AB");
    const out = `${root}/out`;
    await Deno.mkdir(out);
    await writeManifest(
      out,
      buildManifest({ stage: "train_head", config: {}, inputs: {}, wallSeconds: 1 }),
    );
    const before = snapshot(out);
    const calls = { compute: 0, reuse: 0 };
    await assert.rejects(runStage(summing(out, input, calls)), (e: Error) => {
      assert.ok(e instanceof DataError);
      assert.match(e.message, /manifest\.json was not written by this stage \(stage "train_head"/);
      return true;
    });
    assert.equal(calls.compute, 0);
    assert.deepEqual(snapshot(out), before);
  });
});

Deno.test("runStage: wallSeconds overrides the measured time; seed is recorded", async () => {
  await withTempDir(async (root) => {
    const input = `${root}/in.txt`;
    await Deno.writeTextFile(input, "A");
    const out = `${root}/out`;
    const calls = { compute: 0, reuse: 0 };
    await runStage(summing(out, input, calls, { seed: 7, wallSeconds: (sum) => sum / 10 }));
    const m = await readManifest(out);
    assert.equal(m?.wall_seconds, 6.5);
    assert.equal(m?.seed, 7);
  });
});

Deno.test("commitStaged: markers move last; a RangeError for names outside the directory", async () => {
  await withTempDir(async (root) => {
    const files = await commitStaged(root, async (w) => {
      await w.text("z.txt", "z");
      await w.text("a.txt", "a");
    }, ["z.txt"]);
    assert.deepEqual(files, [`${root}/z.txt`, `${root}/a.txt`]);
    await assert.rejects(
      commitStaged(root, (w) => w.text("../up.txt", "x").then(() => {}), []),
      RangeError,
    );
    assert.deepEqual(entryTree(root), ["a.txt", "z.txt"]);
  });
});
