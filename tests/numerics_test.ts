/**
 * Finite inputs that overflow float32, through the command line (issue 11, item 6): features up to
 * 3.4e38 and heads whose products with them exceed float32's range. Every run either exits 0 with
 * scores equal to a float64 reference (the computation is stable) or exits 1 with ONE error line
 * naming the method, the dataset and the file, and leaves the previous result byte for byte.
 *
 * The hostile sets are built from the fixture family (tests/cli_helpers.ts): the heads are written
 * directly (weights 2 on the class dimension), so logits are `2 x_c` and a feature of 3.4e38
 * overflows the logits GEMM while a feature of 1e30 does not.
 */
import assert from "node:assert/strict";
import {
  copyTree,
  counter,
  expectError,
  FIXTURE_BACKBONE,
  FIXTURE_C,
  FIXTURE_D,
  FIXTURE_GROUPS,
  ok,
  withTempDir,
  writeFixture,
} from "./cli_helpers.ts";
import { type FeatureSet, readFeatureSet, writeFeatureSet } from "../lib/io/feature_set.ts";
import { writeHead } from "../lib/io/head.ts";
import { readNpy } from "../lib/io/npy.ts";

/** Largest float32 below its overflow (3.4028235e38 is FLT_MAX). */
const HUGE = 3.4e38;

/** Writes `src` with every feature value mapped by `f(value, row, col)` into `dir`. */
async function mapped(
  src: FeatureSet,
  dir: string,
  f: (v: number, row: number, col: number) => number,
): Promise<string> {
  const { rows, cols, data } = src.features;
  const out = new Float32Array(data.length);
  for (let k = 0; k < data.length; k++) out[k] = f(data[k], Math.floor(k / cols), k % cols);
  await writeFeatureSet(dir, {
    meta: { dataset: dir, backbone: FIXTURE_BACKBONE, num_classes: FIXTURE_C },
    features: { data: out, rows, cols },
    labels: src.labels,
  });
  return dir;
}

/**
 * Flat head (C outputs) or the fixture's group head (C + K outputs, "others" rows zero): output
 * of class c reads feature c with weight 2, bias 0, so logits are exactly `2 x_c`.
 */
async function writeScaledHead(dir: string, kind: "flat" | "group"): Promise<string> {
  const groups = kind === "group" ? FIXTURE_GROUPS : [];
  const O = FIXTURE_C + groups.length;
  const w = new Float32Array(O * FIXTURE_D);
  if (kind === "flat") {
    for (let c = 0; c < FIXTURE_C; c++) w[c * FIXTURE_D + c] = 2;
  } else {
    // Group k's slice starts with its "others" output, then its classes in sub order.
    let o = 0;
    for (const g of groups) {
      o++;
      for (const c of g) w[o++ * FIXTURE_D + c] = 2;
    }
  }
  await writeHead(dir, {
    info: { kind, num_classes: FIXTURE_C, groups, backbone: FIXTURE_BACKBONE },
    weight: { data: w, rows: O, cols: FIXTURE_D },
    bias: new Float32Array(O),
  });
  return dir;
}

/** float64 logits `2 x_c` (flat) of row i. */
function logitsRow(set: FeatureSet, i: number): number[] {
  const d = set.features.cols;
  return Array.from({ length: FIXTURE_C }, (_, c) => 2 * set.features.data[i * d + c]);
}

function lse(z: number[]): number {
  const m = Math.max(...z);
  return m + Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0));
}

/** float64 reference scores of the logit methods on a flat head (and MOS on the group head). */
function referenceScores(set: FeatureSet, method: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < set.features.rows; i++) {
    const z = logitsRow(set, i);
    if (method === "msp") out.push(Math.exp(Math.max(...z) - lse(z)));
    else if (method === "odin") {
      const t = z.map((v) => v / 1000);
      out.push(Math.exp(Math.max(...t) - lse(t)));
    } else if (method === "energy") out.push(lse(z));
    else if (method === "mos") {
      // Group slice: [others = 0, 2 x_c for c in group]; score -min_k p_k(others).
      let minOthers = Infinity;
      for (const g of FIXTURE_GROUPS) {
        const s = [0, ...g.map((c) => z[c])];
        minOthers = Math.min(minOthers, Math.exp(0 - lse(s)));
      }
      out.push(-minOthers);
    } else throw new RangeError(method);
  }
  return out;
}

Deno.test("numerics: finite inputs that overflow float32 in score and train-head", async (t) => {
  await withTempDir(async (root) => {
    const fx = await writeFixture(`${root}/features`);
    const val = await readFeatureSet(fx.val);
    const far = await readFeatureSet(fx.ood.far);
    const train = await readFeatureSet(fx.train);
    const flat = await writeScaledHead(`${root}/head_flat`, "flat");
    const group = await writeScaledHead(`${root}/head_group`, "group");
    // Logits 2 x 3.4e38 overflow: feature c of the row's own class (c = row mod C) is HUGE.
    const maxed = await mapped(far, `${root}/maxed`, (v, i, j) => j === i % FIXTURE_C ? HUGE : v);
    // Every value x 1e30: logits stay finite (2e30), squared distances overflow.
    const e30 = await mapped(far, `${root}/e30`, (v) => v * 1e30);
    // Training sets: every 7th row with a HUGE class feature; every value x 1e20.
    const trainMaxed = await mapped(
      train,
      `${root}/train_maxed`,
      (v, i, j) => i % 7 === 0 && j === train.labels[i] ? HUGE : v,
    );
    const trainE20 = await mapped(train, `${root}/train_e20`, (v) => v * 1e20);
    const nextOut = counter(root, "out");

    // A finished score result: every failed run below must leave a copy of it byte for byte.
    const pristine = `${root}/pristine_score`;
    await ok("score.ts", [
      "--head",
      flat,
      "--id",
      fx.val,
      "--ood",
      `far=${fx.ood.far}`,
      "--methods",
      "msp",
      "--out",
      pristine,
    ]);
    const existing = async () => await copyTree(pristine, nextOut());
    const score = (head: string, ood: string, methods: string, extra: string[], out: string) => [
      "--head",
      head,
      "--id",
      fx.val,
      "--ood",
      `hostile=${ood}`,
      "--methods",
      methods,
      "--out",
      out,
      "--force",
      ...extra,
    ];

    for (const method of ["msp", "odin", "energy", "kl"]) {
      await t.step(`${method}: logits that overflow float32 are one error`, async () => {
        const out = await existing();
        await expectError("score.ts", score(flat, maxed, method, [], out), {
          code: 1,
          mentions: [method, `"hostile"`, `${maxed}/features.npy`, `${flat}/weight.npy`],
          matches: [/not finite/, /overflows float32/],
          unchanged: [out],
        });
      });
    }

    await t.step("mos: group logits that overflow float32 are one error", async () => {
      const out = await existing();
      await expectError("score.ts", score(group, maxed, "mos", [], out), {
        code: 1,
        mentions: ["mos", `"hostile"`, `${maxed}/features.npy`, `${group}/weight.npy`],
        unchanged: [out],
      });
    });

    await t.step("mahalanobis: distances of 1e30 features overflow: one error", async () => {
      const out = await existing();
      await expectError("score.ts", score(flat, e30, "mahalanobis", ["--train", fx.train], out), {
        code: 1,
        mentions: ["mahalanobis", `"hostile"`, `${e30}/features.npy`],
        matches: [/overflows float32/],
        unchanged: [out],
      });
    });

    await t.step("mahalanobis: a --train covariance that overflows: one error", async () => {
      const out = await existing();
      const args = score(flat, fx.ood.far, "mahalanobis", ["--train", trainE20], out);
      await expectError("score.ts", args, {
        code: 1,
        mentions: ["mahalanobis", "--train", `${trainE20}/features.npy`],
        matches: [/overflow float32/],
        unchanged: [out],
      });
    });

    await t.step(
      "kl clean: --train logits that overflow are one error, not a lost class",
      async () => {
        // Before the guard, the NaN softmax rows silently emptied a class template and the run
        // exited 0 with metrics computed from the remaining templates.
        const out = await existing();
        const extra = ["--train", trainMaxed, "--kl-variant", "clean"];
        await expectError("score.ts", score(flat, fx.ood.far, "kl", extra, out), {
          code: 1,
          mentions: ["kl", "--train", `${trainMaxed}/features.npy`, "row 0"],
          unchanged: [out],
        });
      },
    );

    await t.step(
      "finite logits of 1e30 features are scored stably (float64 reference)",
      async () => {
        const e30Set = await readFeatureSet(e30);
        for (
          const [method, head] of [
            ["msp", flat],
            ["odin", flat],
            ["energy", flat],
            ["mos", group],
          ] as const
        ) {
          const out = nextOut();
          await ok("score.ts", score(head, e30, method, [], out));
          for (const [name, set] of [["hostile", e30Set], ["id", val]] as const) {
            const got = (await readNpy(`${out}/scores/${method}/${name}.npy`)).data as Float32Array;
            const want = referenceScores(set, method);
            for (let i = 0; i < want.length; i++) {
              // float32 logits and exponentials: relative error a few ulps of float32 (and
              // absolute 1e-6 for scores near 0).
              const tol = 1e-6 + 1e-5 * Math.abs(want[i]);
              assert.ok(
                Math.abs(got[i] - want[i]) <= tol,
                `${method} ${name} row ${i}: ${got[i]} vs float64 ${want[i]}`,
              );
            }
          }
        }
      },
    );

    const trainArgs = (features: string, out: string, extra: string[]) => [
      "--features",
      features,
      "--out",
      out,
      "--force",
      ...extra,
    ];
    const headCopy = async () => await copyTree(flat, nextOut());

    await t.step(
      "train-head: weights that overflow after the last step are one error",
      async () => {
        // One step at a large rate: the loss of step 1 is finite (zero weights) but the update
        // overflows; before the check the run exited 0 and wrote a head of Infinity weights.
        const out = await headCopy();
        const set = await mapped(
          train,
          `${root}/train_all_maxed`,
          (v, i, j) => j === train.labels[i] ? HUGE : v,
        );
        const extra = ["--steps", "1", "--batch", "8", "--lr", "100"];
        await expectError("train_head.ts", trainArgs(set, out, extra), {
          code: 1,
          mentions: [`${set}/features.npy`, "after step 1"],
          matches: [/float32 overflow/],
          unchanged: [out],
        });
      },
    );

    await t.step("train-head: a loss that overflows names the file and the step", async () => {
      const out = await headCopy();
      const set = await mapped(train, `${root}/train_e30`, (v) => v * 1e30);
      await expectError("train_head.ts", trainArgs(set, out, ["--steps", "20"]), {
        code: 1,
        mentions: [`${set}/features.npy`],
        matches: [/the loss of step \d+ is NaN/],
        unchanged: [out],
      });
    });
  });
});
