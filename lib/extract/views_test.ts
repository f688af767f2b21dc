import assert from "node:assert/strict";
import sharp from "npm:sharp@0.35.5";
import { createRng } from "../random.ts";
import { cropFlipRgb, drawViews, viewResizeFor } from "./preprocess.ts";

Deno.test("drawViews: torchvision's ranges, seeded by (seed, position), prefix-stable", () => {
  assert.equal(viewResizeFor(480), 512);
  const tops = new Set<number>();
  let flips = 0;
  const n = 4000;
  for (let p = 0; p < n; p++) {
    const [d] = drawViews(3, p, 1, 512, 480);
    assert.ok(d.top >= 0 && d.top <= 32 && d.left >= 0 && d.left <= 32);
    tops.add(d.top);
    if (d.flip) flips++;
  }
  assert.equal(tops.size, 33, "every offset 0..32 occurs (RandomCrop's randint(0, 33))");
  // Binomial(4000, 0.5): sd 31.6; 5 sd is 158.
  assert.ok(Math.abs(flips - n / 2) < 158, `flips ${flips}`);
  assert.deepEqual(drawViews(3, 17, 4, 512, 480), drawViews(3, 17, 4, 512, 480));
  assert.deepEqual(drawViews(3, 17, 4, 512, 480).slice(0, 2), drawViews(3, 17, 2, 512, 480));
  assert.notDeepEqual(drawViews(3, 17, 4, 512, 480), drawViews(4, 17, 4, 512, 480));
  assert.notDeepEqual(drawViews(3, 17, 4, 512, 480), drawViews(3, 18, 4, 512, 480));
});

Deno.test("cropFlipRgb equals sharp's extract + flop", async () => {
  const rng = createRng(5);
  const size = 40;
  const rgb = Uint8Array.from({ length: size * size * 3 }, () => rng.int(256));
  for (const view of [{ top: 0, left: 0, flip: false }, { top: 5, left: 8, flip: true }]) {
    let img = sharp(rgb, { raw: { width: size, height: size, channels: 3 } })
      .extract({ left: view.left, top: view.top, width: 32, height: 32 });
    if (view.flip) img = img.flop();
    const want = new Uint8Array(await img.raw().toBuffer());
    assert.deepEqual(cropFlipRgb(rgb, size, 32, view), want);
  }
});
