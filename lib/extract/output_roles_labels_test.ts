import assert from "node:assert/strict";
import { chooseOutputs } from "./output_roles.ts";
import { assertModelOutputNames } from "./set_files.ts";

Deno.test("chooseOutputs / assertModelOutputNames: messages name the model, not a flag", () => {
  const outs = [{ name: "a", shape: [1, 8] }, { name: "b", shape: [1, 8] }];
  assert.throws(() => chooseOutputs("m.onnx", outs), {
    message: "model m.onnx: several outputs could be the features (outputs: a (1, 8), b (1, 8)); " +
      "pass features output NAME (and logits output NAME for the class logits)",
  });
  assert.throws(
    () => chooseOutputs("m.onnx", outs, { featuresOutput: "z" }, { model: "--model" }),
    {
      message:
        "features output z: --model m.onnx has no such output; its outputs: a (1, 8), b (1, 8)",
    },
  );
  assert.throws(
    () => assertModelOutputNames("m.onnx", ["labels"]),
    (e: unknown) => e instanceof Error && e.message.startsWith("model m.onnx: output name"),
  );
});
