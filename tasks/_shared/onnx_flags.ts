/**
 * The conversion flags shared by `bit-to-onnx` and `fetch-bit`: which outputs the ONNX model has
 * and how GroupNorm is written, and the check that the `.onnx` output is not its own input.
 *
 * @module
 */
import { BIT_OUTPUTS, type BitOutput, type GroupNormImpl } from "../../lib/bit/resnet_v2_onnx.ts";
import { UsageError } from "../../lib/errors.ts";
import { assertOutsideInputs, resolvePath } from "../../lib/io/containment.ts";
import { choiceFlag, defineFlags, type FlagValues, listFlag } from "./cli.ts";

/** Flag definitions (`--outputs`, `--group-norm`). */
export const ONNX_FLAGS = defineFlags({
  outputs: {
    type: "string",
    default: "features",
    help: `comma list of ${BIT_OUTPUTS.join(", ")}`,
  },
  "group-norm": {
    type: "string",
    default: "instance",
    help: "instance | reduce | native  how GroupNorm is written in ONNX",
  },
});

/** Parses the shared conversion flags. */
export function onnxFlags(values: FlagValues): { outputs: BitOutput[]; groupNorm: GroupNormImpl } {
  return {
    outputs: listFlag<BitOutput>(values, "outputs", BIT_OUTPUTS, ["features"]),
    groupNorm: choiceFlag<GroupNormImpl>(
      values,
      "group-norm",
      ["instance", "reduce", "native"],
      "instance",
    ),
  };
}

/**
 * Refuses (exit 2) an `--out` that is, or whose `.data` side file is, the checkpoint it is made
 * from (symlinks followed), and one that is an existing directory.
 */
export function assertOnnxOutput(out: string, npzPath: string, npzLabel = "--npz"): void {
  const npz = { label: npzLabel, path: npzPath };
  assertOutsideInputs({ label: "--out", path: out }, [npz]);
  assertOutsideInputs({ label: "the side file of --out", path: `${out}.data` }, [npz]);
  let isDir = false;
  try {
    isDir = Deno.statSync(resolvePath(out)).isDirectory;
  } catch { /* absent: it will be created */ }
  if (isDir) throw new UsageError(`--out ${out} is a directory; give the .onnx file to write`);
}
