import assert from "node:assert/strict";
import { UsageError } from "../errors.ts";
import { assertOutsideInputs, isWithin, resolvePath } from "./containment.ts";

Deno.test("resolvePath: symlinks, .. and paths that do not exist yet", async () => {
  const root = await Deno.realPath(await Deno.makeTempDir());
  try {
    await Deno.mkdir(`${root}/a/b`, { recursive: true });
    await Deno.symlink(`${root}/a`, `${root}/link`);
    assert.equal(resolvePath(`${root}/link/b`), `${root}/a/b`);
    assert.equal(resolvePath(`${root}/a/b/../b/./`), `${root}/a/b`);
    // Not there yet: resolved through the nearest existing ancestor (the link).
    assert.equal(resolvePath(`${root}/link/new/deeper`), `${root}/a/new/deeper`);
    assert.equal(resolvePath(`${root}/a/missing/../b`), `${root}/a/b`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("isWithin: prefix of a path component is not containment", () => {
  assert.equal(isWithin("/x/ab", "/x/a"), false);
  assert.equal(isWithin("/x/a/b", "/x/a"), true);
  assert.equal(isWithin("/x/a", "/x/a"), true);
  assert.equal(isWithin("/anything", "/"), true);
});

Deno.test("assertOutsideInputs: equal, containing, inside, via a link; disjoint passes", async () => {
  const root = await Deno.realPath(await Deno.makeTempDir());
  try {
    await Deno.mkdir(`${root}/set`);
    await Deno.writeTextFile(`${root}/model.onnx`, "x");
    await Deno.symlink(`${root}/set`, `${root}/alias`);
    const inputs = [
      { label: "--features", path: `${root}/set` },
      { label: "--model", path: `${root}/model.onnx` },
    ];
    const refuse = (out: string, want: RegExp) =>
      assert.throws(
        () => assertOutsideInputs({ label: "--out", path: out }, inputs),
        (e: unknown) =>
          e instanceof UsageError && want.test(e.message) && !e.message.includes("\n"),
      );
    refuse(`${root}/set`, /--out \S+ is --features/);
    refuse(`${root}/alias`, /is --features .*resolved/);
    refuse(`${root}/set/scores`, /lies inside --features/);
    refuse(root, /contains --features/);
    refuse(`${root}/model.onnx`, /is --model/);
    assertOutsideInputs({ label: "--out", path: `${root}/out` }, inputs);
    assertOutsideInputs({ label: "--out", path: `${root}/setx` }, inputs);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
