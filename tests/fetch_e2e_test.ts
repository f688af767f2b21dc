/**
 * The download tasks and `extract-all` as subprocesses, against a local HTTP server on 127.0.0.1
 * started by the test: fetch-ood installs a Textures-sized archive (5,640 images) after an
 * interrupted first try, detects a corrupt archive without leaving anything behind, and says
 * clearly when the host is unreachable; fetch-bit likewise, and rejects a checkpoint that is not
 * the named model. extract-all runs a two-set plan.
 */
import assert from "node:assert/strict";
import sharp from "npm:sharp@0.35.5";
import { closedPort, makeTarGz, serveFiles } from "./http_fixture.ts";
import { describeRun, runTask } from "./cli_helpers.ts";
import { convertBitCheckpoint } from "../lib/bit/convert.ts";
import { encodeNpz } from "../lib/bit/npz.ts";
import { randomBitWeights } from "../lib/bit/random_weights.ts";
import { readFeatureSet } from "../lib/io/feature_set.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mos_fetch_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function listing(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

Deno.test("fetch-ood: Textures (5,640 images) after an interrupted download; then reused", async () => {
  await withDir(async (dir) => {
    const files: Record<string, Uint8Array> = {};
    for (let i = 0; i < 5640; i++) {
      const cls = `class${String(i % 47).padStart(2, "0")}`;
      files[`dtd/images/${cls}/${cls}_${String(i).padStart(4, "0")}.jpg`] = Uint8Array.of(
        0xff,
        0xd8,
        i & 255,
        i >> 8,
      );
    }
    files["dtd/labels/labels_joint_anno.txt"] = new TextEncoder().encode("x\n");
    const bytes = await makeTarGz(dir, "dtd", files);
    const served = { bytes, cutAfter: Math.floor(bytes.length / 2), cuts: 1 };
    const s = serveFiles(new Map([["/dtd-r1.0.1.tar.gz", served]]));
    try {
      const args = ["--only", "textures", "--dest", `${dir}/ood`, "--mirror", s.base];
      const first = await runTask("fetch_ood.ts", args);
      assert.equal(first.code, 1, describeRun("fetch_ood.ts", args, first));
      assert.match(first.stderr, /broke off after \d+ of \d+ bytes .*rerun the same command/);
      assert.deepEqual(listing(`${dir}/ood`), [".downloads"]);
      const second = await runTask("fetch_ood.ts", args);
      assert.equal(second.code, 0, describeRun("fetch_ood.ts", args, second));
      assert.match(second.stdout, /^Textures: 5640 images .* \(download resumed at [\d.]+ MB\)/);
      assert.equal(s.requests[1].range, `bytes=${Math.floor(bytes.length / 2)}-`);
      assert.deepEqual(listing(`${dir}/ood`), ["Textures"]);
      assert.equal(listing(`${dir}/ood/Textures`).length, 47);
      const third = await runTask("fetch_ood.ts", args);
      assert.equal(third.code, 0);
      assert.match(third.stdout, /already present, verified/);
      assert.equal(s.requests.length, 2);
    } finally {
      await s.close();
    }
  });
});

Deno.test("fetch-ood: a corrupt archive leaves nothing; offline is one clear line", async () => {
  await withDir(async (dir) => {
    const good = await makeTarGz(dir, "sun", {
      "SUN/images/a.jpg": new Uint8Array(3000).fill(7),
      "SUN/images/b.jpg": new Uint8Array(3000).fill(9),
    });
    const s = serveFiles(new Map([["/SUN.tar.gz", { bytes: good.slice(0, good.length - 40) }]]));
    try {
      const args = ["--only", "sun", "--dest", `${dir}/ood`, "--mirror", s.base];
      const r = await runTask("fetch_ood.ts", args);
      assert.equal(r.code, 1, describeRun("fetch_ood.ts", args, r));
      assert.match(r.stderr, /SUN\.tar\.gz is corrupt or truncated .*archive was deleted/);
      assert.deepEqual(listing(`${dir}/ood`), []);
    } finally {
      await s.close();
    }
    const port = closedPort();
    const args = [
      "--only",
      "places",
      "--dest",
      `${dir}/off`,
      "--mirror",
      `http://127.0.0.1:${port}`,
    ];
    const r = await runTask("fetch_ood.ts", args);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `^error: Places: cannot reach 127\\.0\\.0\\.1:${port} \\(connection refused\\): fetch-ood ` +
          "needs internet access",
      ),
    );
    assert.deepEqual(listing(`${dir}/off`), []);
  });
});

Deno.test("fetch-bit: offline message; a file that is not the named model is rejected", async () => {
  await withDir(async (dir) => {
    const port = closedPort();
    const off = await runTask("fetch_bit.ts", [
      "--dest",
      `${dir}/m`,
      "--mirror",
      `http://127.0.0.1:${port}`,
    ]);
    assert.equal(off.code, 1);
    assert.match(
      off.stderr,
      /^error: cannot reach 127\.0\.0\.1:\d+ \(connection refused\): fetch-bit needs internet access.*bit-to-onnx --npz BiT-S-R101x1\.npz/,
    );
    const tiny = encodeNpz(randomBitWeights({ units: [1, 1, 1, 1], rootChannels: 32, seed: 1 }));
    const s = serveFiles(new Map([["/BiT-S-R101x1.npz", { bytes: tiny }]]));
    try {
      const args = ["--model", "bit-s-r101x1", "--dest", `${dir}/m`, "--mirror", s.base];
      const r = await runTask("fetch_bit.ts", args);
      assert.equal(r.code, 1, describeRun("fetch_bit.ts", args, r));
      assert.match(
        r.stderr,
        /holds custom-1-1-1-1-c32 with 0 head classes, but BiT-S-R101x1 is r101x1 with 1000; it was deleted/,
      );
      assert.deepEqual(listing(`${dir}/m`), []);
      const bad = await runTask("fetch_bit.ts", ["--model", "BiT-X-R50x1", "--dest", `${dir}/m`]);
      assert.equal(bad.code, 2);
      assert.match(
        bad.stderr,
        /not a published BiT checkpoint; use one of BiT-S-R50x1, BiT-M-R50x1/,
      );
    } finally {
      await s.close();
    }
  });
});

Deno.test("extract-all: a two-set plan, count check, unlabeled OOD folders, views", async () => {
  await withDir(async (dir) => {
    const weights = randomBitWeights({ units: [1, 1, 1, 1], rootChannels: 32, seed: 2 });
    await Deno.writeFile(`${dir}/m.npz`, encodeNpz(weights));
    await convertBitCheckpoint({ weights, npzPath: `${dir}/m.npz`, out: `${dir}/m.onnx` });
    const png = (v: number) =>
      sharp(new Uint8Array(20 * 16 * 3).map((_, k) => (k * v) & 255), {
        raw: { width: 20, height: 16, channels: 3 },
      }).png();
    for (const [c, n] of [["n01", 2], ["n02", 2]] as const) {
      await Deno.mkdir(`${dir}/train/${c}`, { recursive: true });
      for (let i = 0; i < n; i++) await png(3 + i + c.length).toFile(`${dir}/train/${c}/${i}.png`);
    }
    await Deno.mkdir(`${dir}/tex/banded`, { recursive: true });
    for (let i = 0; i < 3; i++) await png(11 + i).toFile(`${dir}/tex/banded/b${i}.png`);
    const plan = (texCount: number) =>
      [
        `model: ${dir}/m.onnx`,
        "backbone: tiny",
        `out_root: ${dir}/features`,
        "defaults: { batch: 2, dtype: f32, size: 32 }",
        "sets:",
        `  train: { images: ${dir}/train, count: 4, views: 2 }`,
        `  textures: { images: ${dir}/tex, count: ${texCount}, unlabeled: true }`,
        `  missing: { images: ${dir}/nope, count: 1, source: "somewhere" }`,
      ].join("\n");
    await Deno.writeTextFile(`${dir}/plan.yaml`, plan(3));
    const bad = await runTask("extract_all.ts", ["--config", `${dir}/plan.yaml`]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /image folders not found: missing \(.*nope; get it via somewhere\)/);
    const args = ["--config", `${dir}/plan.yaml`, "--only", "train,textures"];
    const r = await runTask("extract_all.ts", args);
    assert.equal(r.code, 0, describeRun("extract_all.ts", args, r));
    const train = await readFeatureSet(`${dir}/features/train`);
    assert.deepEqual([...train.labels], [0, 0, 1, 1]);
    assert.equal(train.meta.views, 2);
    const tex = await readFeatureSet(`${dir}/features/textures`);
    assert.deepEqual([...tex.labels], [-1, -1, -1]);
    const again = await runTask("extract_all.ts", args);
    assert.match(again.stdout, /train: up to date/);
    await Deno.writeTextFile(`${dir}/plan.yaml`, plan(5640));
    const count = await runTask("extract_all.ts", [
      "--config",
      `${dir}/plan.yaml`,
      "--only",
      "textures",
    ]);
    assert.equal(count.code, 1);
    assert.match(count.stderr, /textures: .*tex holds 3 images but the plan expects 5640/);
  });
});
