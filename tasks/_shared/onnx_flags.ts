/**
 * The conversion flags shared by `bit-to-onnx` and `fetch-bit`: which outputs the ONNX model has
 * and how GroupNorm is written.
 *
 * @module
 */
import { BIT_OUTPUTS, type BitOutput, type GroupNormImpl } from "../../lib/bit/resnet_v2_onnx.ts";
import { choiceFlag, type FlagDef, type FlagValues, listFlag } from "./cli.ts";

/** Flag definitions (`--outputs`, `--group-norm`). */
export const ONNX_FLAGS: Record<string, FlagDef> = {
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
};

/** Parses the shared conversion flags. */
export function onnxFlags(values: FlagValues): { outputs: BitOutput[]; groupNorm: GroupNormImpl } {
  return {
    outputs: listFlag(values, "outputs", BIT_OUTPUTS, ["features"]) as BitOutput[],
    groupNorm: choiceFlag(
      values,
      "group-norm",
      ["instance", "reduce", "native"] as const,
      "instance",
    ) as GroupNormImpl,
  };
}
