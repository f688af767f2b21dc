import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import { createStaging } from "../io/staging.ts";
import {
  assertModelOutputNames,
  commitSetFiles,
  isSafeOutputName,
  ownedFiles,
  planSetFiles,
  validateSetOutputs,
} from "./set_files.ts";

Deno.test("isSafeOutputName: plain file-name stems only", () => {
  for (const ok of ["features", "logits", "block4", "output.1", "onnx::Gemm_7", "a-b", "_x"]) {
    assert.ok(isSafeOutputName(ok), ok);
  }
  const long = "a".repeat(129);
  for (const bad of ["", ".", "..", "../x", "a/b", "a\\b", ".hidden", "x.", "a b", long, 7]) {
    assert.ok(!isSafeOutputName(bad), String(bad));
  }
  assert.throws(() => assertModelOutputNames("m.onnx", ["features", "labels"]), DataError);
  assert.throws(() => assertModelOutputNames("m.onnx", ["features", "views"]), DataError);
  assert.throws(() => assertModelOutputNames("m.onnx", ["features", "../x"]), /"\.\.\/x"/);
  assertModelOutputNames("m.onnx", ["features", "logits", "root"]);
});

const META = {
  dim: 8,
  dtype: "float32",
  views: 2,
  outputs: [
    { name: "features", file: "features.npy", dim: 8, dtype: "float32" },
    { name: "logits", file: "logits.npy", dim: 5, dtype: "float32" },
    { name: "views", file: "views.npy", dim: 8, dtype: "float32", rows_per_image: 2 },
  ],
};

Deno.test("validateSetOutputs: extract's layout passes, anything else names the entry", () => {
  assert.deepEqual(validateSetOutputs(META, "m.json"), META.outputs);
  assert.deepEqual(validateSetOutputs({ dim: 4, dtype: "float16" }, "m.json"), [
    { name: "features", file: "features.npy", dim: 4, dtype: "float16" },
  ]);
  const edits: [string, (o: Record<string, unknown>[]) => void, RegExp][] = [
    [
      "../ in file",
      (o) => (o[1].file = "../../victim.npy"),
      /outputs\[1\]\.file "\.\.\/\.\.\/victim\.npy"/,
    ],
    ["absolute file", (o) => (o[0].file = "/etc/x.npy"), /outputs\[0\]\.file/],
    ["name with slash", (o) => (o[1].name = "a/b"), /outputs\[1\]\.name/],
    ["file of another name", (o) => (o[1].file = "labels.npy"), /not "logits\.npy"/],
    ["secondary named labels", (o) => {
      o[1].name = "labels";
      o[1].file = "labels.npy";
    }, /outputs\[1\]\.name/],
    ["duplicate", (o) => o.splice(2, 0, { ...o[1] }), /listed twice/],
    ["views not last", (o) => o.push({ ...o[1], name: "x", file: "x.npy" }), /views/],
    ["views rows differ", (o) => (o[2].rows_per_image = 3), /rows_per_image/],
    ["rows on a non-view", (o) => (o[1].rows_per_image = 4), /only allowed for views/],
    ["huge dim", (o) => (o[1].dim = 2 ** 40), /outputs\[1\]\.dim/],
    ["bad dtype", (o) => (o[1].dtype = "int8"), /outputs\[1\]\.dtype/],
    ["not an object", (o) => (o[1] = "logits.npy" as unknown as Record<string, unknown>), /object/],
  ];
  for (const [what, edit, pattern] of edits) {
    const meta = structuredClone(META) as unknown as Record<string, unknown>;
    edit(meta.outputs as Record<string, unknown>[]);
    assert.throws(() => validateSetOutputs(meta, "m.json"), pattern, what);
    assert.throws(() => validateSetOutputs(meta, "m.json"), DataError, what);
  }
  assert.throws(() => validateSetOutputs({ ...META, outputs: [] }, "m.json"), /1 to 64/);
  assert.throws(() => validateSetOutputs({ ...META, outputs: "x" }, "m.json"), /1 to 64/);
});

async function files(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile) out[e.name] = await Deno.readTextFile(`${dir}/${e.name}`);
  }
  return out;
}

Deno.test("planSetFiles / commitSetFiles: own files replaced or removed, foreign ones kept", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A previous result of ours (its manifest lists logits.npy), plus a user's files.
    const prevFiles = ["features.npy", "logits.npy", "labels.npy", "manifest.json", "meta.json"];
    await Deno.writeTextFile(
      `${dir}/manifest.json`,
      JSON.stringify({ tool: "mos-toolkit", stage: "extract", files: prevFiles }),
    );
    for (const f of ["features.npy", "logits.npy", "labels.npy", "meta.json"]) {
      await Deno.writeTextFile(`${dir}/${f}`, `old ${f}`);
    }
    await Deno.writeTextFile(`${dir}/weight.npy`, "user");
    await Deno.writeTextFile(`${dir}/notes.txt`, "user");
    await Deno.mkdir(`${dir}/.parts`);
    await Deno.writeTextFile(`${dir}/x.npy.tmp-1-abc`, "a temp file");
    assert.deepEqual([...await ownedFiles(dir)].sort(), [...prevFiles].sort());

    const next = ["features.npy", "labels.npy", "paths.txt", "manifest.json", "meta.json"];
    const plan = await planSetFiles(dir, next, { task: "extract", internal: [".parts"] });
    assert.deepEqual(plan.stale, ["logits.npy"]);
    assert.equal(plan.warnings.length, 1);
    assert.match(
      plan.warnings[0],
      /2 entries that extract did not write \(notes\.txt, weight\.npy\)/,
    );

    const staging = await createStaging(dir);
    for (const f of next) await Deno.writeTextFile(`${staging}/${f}`, `new ${f}`);
    await commitSetFiles(staging, dir, plan.stale);
    assert.deepEqual(await files(dir), {
      "features.npy": "new features.npy",
      "labels.npy": "new labels.npy",
      "paths.txt": "new paths.txt",
      "manifest.json": "new manifest.json",
      "meta.json": "new meta.json",
      "weight.npy": "user",
      "notes.txt": "user",
      "x.npy.tmp-1-abc": "a temp file",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("planSetFiles: a foreign file the result would overwrite or a reader would read", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const next = ["features.npy", "labels.npy", "manifest.json", "meta.json"];
    // A manifest of another stage (a head) vouches for nothing.
    await Deno.writeTextFile(
      `${dir}/manifest.json`,
      JSON.stringify({ tool: "mos-toolkit", stage: "train_head", files: ["manifest.json"] }),
    );
    await assert.rejects(
      () => planSetFiles(dir, next, { task: "extract" }),
      /holds manifest\.json, which no extract or merge-shards run wrote .*would overwrite it/,
    );
    await Deno.remove(`${dir}/manifest.json`);
    for (const name of ["logits.npy", "paths.txt", "block2.npy"]) {
      await Deno.writeTextFile(`${dir}/${name}`, "user");
      await assert.rejects(
        () => planSetFiles(dir, next, { task: "merge-shards" }),
        new RegExp(`holds ${name.replace(".", "\\.")},.*merge-shards would read it`),
      );
      await Deno.remove(`${dir}/${name}`);
    }
    // A damaged manifest of ours cannot claim a path outside the directory.
    await Deno.writeTextFile(
      `${dir}/manifest.json`,
      JSON.stringify({
        tool: "mos-toolkit",
        stage: "merge-shards",
        files: ["../x.npy", "/etc/passwd", "a/b.npy", "features.npy"],
      }),
    );
    assert.deepEqual([...await ownedFiles(dir)].sort(), ["features.npy", "manifest.json"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
