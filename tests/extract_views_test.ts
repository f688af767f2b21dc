/**
 * `extract --views V`: V seeded training views per image in views.npy, next to the unchanged
 * evaluation features; checked against an independent crop (sharp extract + flop) run through the
 * same model, for determinism (same seed, same bytes), and through a 2-shard merge.
 */
import assert from "node:assert/strict";
import sharp from "npm:sharp@0.35.5";
import { assertClose } from "./assert_close.ts";
import { describeRun, runTask } from "./cli_helpers.ts";
import { convertBitCheckpoint } from "../lib/bit/convert.ts";
import { randomBitWeights } from "../lib/bit/random_weights.ts";
import { decodeRgbSizes, drawViews, rgbToChw } from "../lib/extract/preprocess.ts";
import { readNpy, toFloat32 } from "../lib/io/npy.ts";
import { createSession, f32Tensor } from "../lib/ort/session.ts";
import { createRng } from "../lib/random.ts";

const S = 32;
const R = 34; // round(32 * 512 / 480)
const V = 2;

async function makeImages(root: string): Promise<string[]> {
  const names: string[] = [];
  for (const [c, n] of [["a", 3], ["b", 2]] as const) {
    await Deno.mkdir(`${root}/${c}`, { recursive: true });
    for (let i = 0; i < n; i++) {
      const rng = createRng(10 * i + c.charCodeAt(0));
      const [w, h] = [50 + 7 * i, 40 + 5 * i];
      const px = Uint8Array.from(
        { length: w * h * 3 },
        (_, k) => ((k % (w * 3)) * 2 + rng.int(40)) & 255,
      );
      await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toFile(
        `${root}/${c}/${i}.png`,
      );
      names.push(`${c}/${i}.png`);
    }
  }
  return names;
}

async function ok(args: string[]): Promise<void> {
  const r = await runTask("extract.ts", args);
  assert.equal(r.code, 0, describeRun("extract.ts", args, r));
}

Deno.test("extract --views: seeded crops/flips, independent check, determinism, shards", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mos_views_" });
  try {
    const weights = randomBitWeights({ units: [1, 1, 1, 1], rootChannels: 32, seed: 3 });
    await Deno.writeFile(`${dir}/m.npz`, new Uint8Array(0));
    const model = `${dir}/m.onnx`;
    await convertBitCheckpoint({ weights, npzPath: `${dir}/m.npz`, out: model });
    const names = await makeImages(`${dir}/img`);
    const base = ["--model", model, "--images", `${dir}/img`, "--size", String(S), "--batch", "3"];
    await ok([...base, "--out", `${dir}/plain`]);
    await ok([...base, "--out", `${dir}/v`, "--views", String(V), "--view-seed", "2"]);
    await ok([...base, "--out", `${dir}/v_again`, "--views", String(V), "--view-seed", "2"]);
    await ok([...base, "--out", `${dir}/v_seed3`, "--views", String(V), "--view-seed", "3"]);

    const meta = JSON.parse(await Deno.readTextFile(`${dir}/v/meta.json`));
    assert.equal(meta.views, V);
    assert.equal(meta.count, names.length);
    const views = await readNpy(`${dir}/v/views.npy`);
    const D = meta.dim;
    assert.deepEqual(views.shape, [names.length * V, D]);
    // The evaluation features do not change when views are added.
    assert.deepEqual(
      await Deno.readFile(`${dir}/v/features.npy`),
      await Deno.readFile(`${dir}/plain/features.npy`),
    );
    assert.deepEqual(
      await Deno.readFile(`${dir}/v/views.npy`),
      await Deno.readFile(`${dir}/v_again/views.npy`),
      "same seed, same bytes",
    );
    assert.notDeepEqual(
      await Deno.readFile(`${dir}/v/views.npy`),
      await Deno.readFile(`${dir}/v_seed3/views.npy`),
    );

    // Independent expectation: sharp crops (and mirrors) the 34 x 34 resize; same model.
    const session = await createSession(model, { threads: 1 });
    const got = toFloat32(views);
    let worst = 0;
    for (let i = 0; i < names.length; i++) {
      const [, big] = await decodeRgbSizes(`${dir}/img/${names[i]}`, [S, R]);
      const draws = drawViews(2, i, V, R, S);
      const rows: Float32Array[] = [];
      for (let v = 0; v < V; v++) {
        let img = sharp(big, { raw: { width: R, height: R, channels: 3 } })
          .extract({ left: draws[v].left, top: draws[v].top, width: S, height: S });
        if (draws[v].flip) img = img.flop();
        const crop = new Uint8Array(await img.raw().toBuffer());
        const x = new Float32Array(3 * S * S);
        rgbToChw(crop, S, x);
        const out = await session.run({ images: f32Tensor(x, [1, 3, S, S]) });
        const want = out.features.data as Float32Array;
        const row = got.subarray((i * V + v) * D, (i * V + v + 1) * D);
        worst = Math.max(
          worst,
          assertClose(row, want, {
            atol: 1e-5,
            rtol: 1e-4,
            reason: "same ORT model, batch of 3 vs batch of 1 (kernel summation order)",
          }),
        );
        rows.push(row);
      }
      // With a 34 -> 32 crop there are 18 (top, left, flip) draws; seed 2 draws two different
      // ones for each of these 5 images, so the two rows must differ.
      assert.notDeepEqual(draws[0], draws[1]);
      assert.notDeepEqual(rows[0], rows[1], `image ${i}: its two views differ`);
    }
    await session.release();

    // Two shards merged equal the single run, views included (rows_per_image in merge).
    for (const s of ["0/2", "1/2"]) {
      await ok([
        ...base,
        "--out",
        `${dir}/shard${s[0]}`,
        "--views",
        String(V),
        "--view-seed",
        "2",
        "--shard",
        s,
      ]);
    }
    const m = await runTask("merge_shards.ts", [
      "--out",
      `${dir}/merged`,
      `${dir}/shard1`,
      `${dir}/shard0`,
    ]);
    assert.equal(m.code, 0, describeRun("merge_shards.ts", [], m));
    assert.deepEqual(
      await Deno.readFile(`${dir}/merged/views.npy`),
      await Deno.readFile(`${dir}/v/views.npy`),
    );
    assert.equal(JSON.parse(await Deno.readTextFile(`${dir}/merged/meta.json`)).views, V);
    console.log(`views vs independent crop: worst abs diff ${worst.toExponential(2)}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
