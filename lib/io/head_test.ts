import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import { matrix } from "../matrix.ts";
import { createRng } from "../random.ts";
import { type Head, headOutputs, readHead, writeHead } from "./head.ts";
import { encodeNpyHeader, writeNpy } from "./npy.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function randomHead(kind: "flat" | "group", seed = 5): Head {
  const rng = createRng(seed);
  const groups = kind === "group" ? [[4, 0], [2], [1, 3, 5]] : [];
  const C = 6;
  const O = headOutputs({ kind, num_classes: C, groups });
  const D = 7;
  return {
    info: {
      kind,
      num_classes: C,
      groups,
      train: { seed: 3, steps: 100, final_loss: 0.5 },
      features: "toy",
    },
    weight: matrix(O, D, new Float32Array(O * D).map(() => rng.normal())),
    bias: new Float32Array(O).map(() => rng.normal()),
  };
}

async function rejectsWith(p: Promise<unknown>, ...parts: string[]) {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof DataError, `expected DataError, got ${err}`);
    for (const s of parts) assert.ok(err.message.includes(s), `"${err.message}" lacks "${s}"`);
    return true;
  });
}

Deno.test("head: O is C for flat heads and C + K for group heads", () => {
  assert.equal(headOutputs({ kind: "flat", num_classes: 1000, groups: [] }), 1000);
  assert.equal(headOutputs({ kind: "group", num_classes: 6, groups: [[0], [1, 2], [3, 4, 5]] }), 9);
});

Deno.test("head: flat and group heads round-trip exactly", async () => {
  await withTempDir(async (dir) => {
    for (const kind of ["flat", "group"] as const) {
      const head = randomHead(kind);
      await writeHead(`${dir}/${kind}`, head);
      const back = await readHead(`${dir}/${kind}`);
      assert.deepEqual(back, { ...head, dir: `${dir}/${kind}` });
      assert.equal(back.weight.rows, kind === "group" ? 9 : 6);
    }
    const names = [...Deno.readDirSync(`${dir}/group`)].map((e) => e.name).sort();
    assert.deepEqual(names, ["bias.npy", "head.json", "weight.npy"]);
  });
});

Deno.test("head: a foreign head without train metadata or groups is read", async () => {
  await withTempDir(async (dir) => {
    await writeNpy(`${dir}/weight.npy`, { dtype: "<f4", shape: [2, 3], data: new Float32Array(6) });
    await writeNpy(`${dir}/bias.npy`, { dtype: "<f4", shape: [2], data: new Float32Array(2) });
    await Deno.writeTextFile(`${dir}/head.json`, '{"kind": "flat", "num_classes": 2, "note": 1}');
    const head = await readHead(dir);
    assert.deepEqual(head.info, { kind: "flat", num_classes: 2, groups: [], note: 1 });
  });
});

Deno.test("head: inconsistent head directories give DataErrors naming the file and numbers", async () => {
  await withTempDir(async (dir) => {
    await rejectsWith(readHead(`${dir}/none`), `Head not found: ${dir}/none`);
    await Deno.mkdir(`${dir}/empty`);
    await rejectsWith(readHead(`${dir}/empty`), "head.json is missing");

    const h = `${dir}/h`;
    await writeHead(h, randomHead("group"));
    const info = JSON.parse(await Deno.readTextFile(`${h}/head.json`));
    const put = (v: unknown) => Deno.writeTextFile(`${h}/head.json`, JSON.stringify(v));

    await put({ ...info, kind: "tree" });
    await rejectsWith(readHead(h), "head.json", '"kind" must be "flat" or "group"', '"tree"');
    await put({ ...info, num_classes: 0 });
    await rejectsWith(readHead(h), '"num_classes" must be a positive integer');
    await put({ ...info, groups: [[4, 0], [2], [1, 3]] });
    await rejectsWith(readHead(h), "head.json", "class 5 is in no group");
    await put({ ...info, groups: [[4, 0], [2, 0], [1, 3, 5]] });
    await rejectsWith(readHead(h), "class 0 appears in group 0 and again in group 1");
    await put({ ...info, num_classes: 7, groups: [[4, 0], [2], [1, 3, 5], [6]] });
    await rejectsWith(
      readHead(h),
      "weight.npy has 9 rows",
      "needs 11 outputs",
      "7 classes + 4 groups",
    );
    await put({ ...info, kind: "flat" });
    await rejectsWith(readHead(h), "weight.npy has 9 rows", "needs 6 outputs (6 classes)");
    await Deno.writeTextFile(`${h}/head.json`, "{");
    await rejectsWith(readHead(h), "head.json is not valid JSON");
    await put(info);

    await writeNpy(`${h}/bias.npy`, { dtype: "<f4", shape: [8], data: new Float32Array(8) });
    await rejectsWith(readHead(h), "bias.npy has 8 values", "needs 9");
    await writeNpy(`${h}/bias.npy`, { dtype: "<f4", shape: [9, 1], data: new Float32Array(9) });
    await rejectsWith(readHead(h), "bias.npy must be a 1-D float32 array");
    const nanBias = new Float32Array(9);
    nanBias[4] = NaN;
    await writeNpy(`${h}/bias.npy`, { dtype: "<f4", shape: [9], data: nanBias });
    await rejectsWith(readHead(h), "bias.npy has a non-finite value (NaN) at index 4");
    await writeNpy(`${h}/weight.npy`, { dtype: "<f4", shape: [63], data: new Float32Array(63) });
    await rejectsWith(readHead(h), "weight.npy must be a 2-D float32 array");
    await Deno.remove(`${h}/weight.npy`);
    await rejectsWith(readHead(h), "weight.npy is missing");
  });
});

Deno.test("head: writeHead rejects shapes that do not match the kind", async () => {
  await withTempDir(async (dir) => {
    const head = randomHead("group");
    head.info.kind = "flat";
    await assert.rejects(writeHead(dir, head), RangeError);
  });
});

Deno.test("head: head.json sizes are reconciled with the files before anything is allocated", async () => {
  await withTempDir(async (dir) => {
    const h = `${dir}/h`;
    await writeHead(h, randomHead("group"));
    const info = JSON.parse(await Deno.readTextFile(`${h}/head.json`));
    const put = (v: unknown) => Deno.writeTextFile(`${h}/head.json`, JSON.stringify(v));
    // The audit's case: a group head claiming 500,000,000 classes crashed score with V8's fatal
    // out-of-memory abort (validateGroups sized two tables by it).
    await put({ ...info, num_classes: 500_000_000 });
    await rejectsWith(readHead(h), `${h}/head.json`, "class 6 is in no group (499999994");
    // A flat head recording a grouping is validated the same way.
    await put({ ...info, kind: "flat", num_classes: 500_000_000 });
    await rejectsWith(readHead(h), "class 6 is in no group");
    // weight.npy's header agreeing with the lie is refused from the file's size.
    await put({ ...info, kind: "flat", num_classes: 500_000_000, groups: [] });
    const lying = encodeNpyHeader("<f4", [500_000_000, 7]);
    const file = new Uint8Array(lying.length + 6 * 7 * 4);
    file.set(lying);
    await Deno.writeFile(`${h}/weight.npy`, file);
    await rejectsWith(readHead(h), `${h}/weight.npy is truncated`, "14000000000 data bytes");
    // DESIGN: "groups" of a flat head is absent or null.
    await writeHead(`${dir}/f`, randomHead("flat"));
    const flat = JSON.parse(await Deno.readTextFile(`${dir}/f/head.json`));
    await Deno.writeTextFile(`${dir}/f/head.json`, JSON.stringify({ ...flat, groups: null }));
    assert.deepEqual((await readHead(`${dir}/f`)).info.groups, []);
    // A head.json far larger than any real one is refused before it is parsed.
    const big = new Uint8Array((16 << 20) + 1).fill(0x20);
    await Deno.writeFile(`${dir}/f/head.json`, big);
    await rejectsWith(readHead(`${dir}/f`), `${dir}/f/head.json is 16.0 MiB`, "corrupt");
    // Values too long or deep for a message are shortened to one line.
    const deep = '{"a":'.repeat(60) + JSON.stringify("x\n".repeat(9000)) + "}".repeat(60);
    await Deno.writeTextFile(
      `${dir}/f/head.json`,
      JSON.stringify(flat).replace(/"kind":"flat"/, `"kind":${deep}`),
    );
    await assert.rejects(readHead(`${dir}/f`), (e: unknown) => {
      assert.ok(e instanceof DataError && e.message.includes('"kind" must be "flat" or "group"'));
      assert.ok(!e.message.includes("\n") && e.message.length < 300, e.message);
      return true;
    });
  });
});
