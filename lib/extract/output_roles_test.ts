import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import { chooseOutputs, isRowShape, type ModelOutputInfo } from "./output_roles.ts";

const out = (name: string, ...shape: (number | string)[]): ModelOutputInfo => ({ name, shape });

Deno.test("chooseOutputs: a model with a `features` output keeps every output, features first", () => {
  const got = chooseOutputs("m.onnx", [out("logits", "N", 1000), out("features", "N", 2048)]);
  assert.deepEqual(got, [
    { model: "features", name: "features" },
    { model: "logits", name: "logits" },
  ]);
});

Deno.test("chooseOutputs: found by shape, stored as features / logits", () => {
  // The only per-image output is the features; a 4-D map is not a candidate.
  assert.deepEqual(
    chooseOutputs("m.onnx", [out("pool", "N", 512), out("map", "N", 512, 7, 7)]),
    [{ model: "pool", name: "features" }],
  );
  // An ImageNet-width output (1000) is the logits, the other one the features; (N, D, 1, 1) counts.
  assert.deepEqual(
    chooseOutputs("m.onnx", [out("fc", "N", 1000), out("avgpool", "N", 2048, 1, 1)]),
    [{ model: "avgpool", name: "features" }, { model: "fc", name: "logits" }],
  );
  // A name that says logits decides whatever the width.
  assert.deepEqual(
    chooseOutputs("m.onnx", [out("emb", "N", 8), out("head_logits", "N", 5)]),
    [{ model: "emb", name: "features" }, { model: "head_logits", name: "logits" }],
  );
});

Deno.test("chooseOutputs: flags name the outputs; bad names and ambiguity are one clear error", () => {
  const outs = [out("emb", "N", 8), out("scores", "N", 5), out("map", "N", 8, 4, 4)];
  assert.deepEqual(
    chooseOutputs("m.onnx", outs, { featuresOutput: "emb", logitsOutput: "scores" }),
    [{ model: "emb", name: "features" }, { model: "scores", name: "logits" }],
  );
  // --logits-output alone: the one remaining per-image output is the features.
  assert.deepEqual(chooseOutputs("m.onnx", outs, { logitsOutput: "scores" }), [
    { model: "emb", name: "features" },
    { model: "scores", name: "logits" },
  ]);
  // As the extract task names them (the defaults are nouns; output_roles_labels_test.ts).
  const FLAG_LABELS = {
    model: "--model",
    featuresOutput: "--features-output",
    logitsOutput: "--logits-output",
  };
  const fails = (flags: Parameters<typeof chooseOutputs>[2], re: RegExp, list = outs) =>
    assert.throws(() => chooseOutputs("m.onnx", list, flags, FLAG_LABELS), (e: unknown) => {
      assert.ok(e instanceof DataError);
      assert.match(e.message, re);
      return true;
    });
  // Two plain per-image outputs: the error lists each output with its shape and the flags.
  fails(
    {},
    /several outputs could be the features \(outputs: emb \(N, 8\), scores \(N, 5\), map \(N, 8, 4, 4\)\); pass --features-output NAME/,
  );
  fails(
    { featuresOutput: "nope" },
    /--features-output nope: --model m\.onnx has no such output; its outputs: emb \(N, 8\)/,
  );
  fails(
    { featuresOutput: "map" },
    /--features-output map: .*shape \(N, 8, 4, 4\), not one row per image/,
  );
  fails({ featuresOutput: "emb", logitsOutput: "emb" }, /both name 'emb'/);
  fails({}, /only per-image outputs look like class logits/, [out("logits", "N", 1000)]);
  fails({}, /none of its outputs has one row per image/, [out("map", "N", 3, 7, 7)]);
});

Deno.test("isRowShape: (N, D) and (N, D, 1, 1) only", () => {
  assert.equal(isRowShape(["N", 4]), true);
  assert.equal(isRowShape(["N", 4, 1, 1]), true);
  assert.equal(isRowShape(["N", 4, "h", "w"]), false);
  assert.equal(isRowShape(["N"]), false);
  assert.equal(isRowShape(null), false);
});
