import assert from "node:assert/strict";
import { writeNpy } from "../io/npy.ts";
import { labelRangeWarning, labelRangeWarnings } from "./label_range.ts";

Deno.test("labelRangeWarning: silent when the labels span 0..C-1 or are all -1", () => {
  assert.equal(labelRangeWarning([0, 4, 2, -1], 5, "l.npy"), null);
  assert.equal(labelRangeWarning([-1, -1], 1000, "l.npy"), null);
  assert.equal(labelRangeWarning([], 1000, "l.npy"), null);
});

Deno.test("labelRangeWarning: silent for labels beyond C (scoring rejects those itself)", () => {
  assert.equal(labelRangeWarning([0, 1000], 1000, "l.npy"), null);
});

Deno.test("labelRangeWarning: a shorter range is one line naming both", () => {
  // A 100-class subset labelled 0..99 against a 1000-class head.
  const w = labelRangeWarning(Int32Array.from({ length: 100 }, (_, i) => i), 1000, "l.npy")!;
  assert.match(w, /^l\.npy has labels up to 99 but the head has 1000 classes/);
  assert.ok(!w.includes("\n"));
});

Deno.test("labelRangeWarnings: reads the head's C and each set's labels.npy", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${root}/head`);
    await Deno.writeTextFile(
      `${root}/head/head.json`,
      JSON.stringify({ kind: "flat", num_classes: 4, groups: null }),
    );
    await writeNpy(`${root}/head/weight.npy`, {
      dtype: "<f4",
      shape: [4, 2],
      data: new Float32Array(8),
    });
    await writeNpy(`${root}/head/bias.npy`, {
      dtype: "<f4",
      shape: [4],
      data: new Float32Array(4),
    });
    for (const [name, labels] of [["ok", [0, 3]], ["short", [0, 1]]] as const) {
      await Deno.mkdir(`${root}/${name}`);
      await writeNpy(`${root}/${name}/labels.npy`, {
        dtype: "<i4",
        shape: [2],
        data: Int32Array.from(labels),
      });
    }
    await Deno.mkdir(`${root}/nolabels`);
    const got = await labelRangeWarnings(`${root}/head`, [
      `${root}/ok`,
      `${root}/short`,
      `${root}/nolabels`,
    ]);
    assert.equal(got.length, 1);
    assert.match(got[0], /short\/labels\.npy has labels up to 1 but the head has 4 classes/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
