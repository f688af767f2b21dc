/**
 * `deno task bit-to-onnx`: converts a BiT ResNet-v2 `.npz` checkpoint into an ONNX model that
 * `deno task extract` runs. `--out` (and its `.data` side file) may not be the `--npz` input; the
 * model is written staged, so a failed run leaves a previous model as it was.
 *
 * @module
 */
import { BIT_ARCH_NAMES, type BitArchName, featureDim } from "../lib/bit/arch.ts";
import { convertBitCheckpoint } from "../lib/bit/convert.ts";
import { readNpz } from "../lib/bit/npz.ts";
import { UsageError } from "../lib/errors.ts";
import { choiceFlag, requireString, runTask, type TaskSpec } from "./_shared/cli.ts";
import { assertOnnxOutput, ONNX_FLAGS, onnxFlags } from "./_shared/onnx_flags.ts";

const SPEC: TaskSpec = {
  name: "bit-to-onnx",
  summary: "Convert a BiT ResNet-v2 .npz checkpoint (BiT-S / BiT-M release) to ONNX.",
  usage: "deno task bit-to-onnx --npz BiT-S-R101x1.npz --out models/bit_s_r101x1.onnx",
  flags: {
    npz: { type: "string", help: "FILE  BiT checkpoint (.npz of HWIO kernels, 'resnet/...' keys)" },
    out: { type: "string", help: "FILE  output .onnx (a FILE.data side file is added > 1.8 GB)" },
    arch: {
      type: "string",
      default: "auto",
      help: `auto | ${BIT_ARCH_NAMES.join(" | ")}  expected architecture`,
    },
    ...ONNX_FLAGS,
  },
  notes: [
    "Weight standardisation is applied once at conversion; the model's input is `images`",
    "(N, 3, H, W) float32 in [-1, 1]; `features` is the N x D penultimate feature (GroupNorm,",
    "ReLU, global average pool), `root`/`block1..4` are spatially averaged stage outputs.",
  ],
};

async function main(values: Record<string, unknown>): Promise<void> {
  const flags = values as Record<string, string | boolean | string[] | undefined>;
  const npzPath = requireString(flags, "npz", SPEC.name);
  const out = requireString(flags, "out", SPEC.name);
  const arch = choiceFlag(flags, "arch", ["auto", ...BIT_ARCH_NAMES] as const, "auto");
  const { outputs, groupNorm } = onnxFlags(flags);
  if (!out.endsWith(".onnx")) throw new UsageError(`--out ${out} should end in .onnx`);
  assertOnnxOutput(out, npzPath);

  const t0 = performance.now();
  const weights = await readNpz(npzPath);
  const r = await convertBitCheckpoint({
    weights,
    npzPath,
    out,
    arch: arch as BitArchName | "auto",
    outputs,
    groupNorm,
  });
  console.log(
    `wrote ${out}${r.dataFile ? ` (+ ${r.dataFile})` : ""}: ${r.arch.name}, units ` +
      `${r.arch.units.join(",")}, feature dim ${featureDim(r.arch)}, ` +
      `${r.arch.numClasses > 0 ? `${r.arch.numClasses} head classes, ` : "no head, "}` +
      `outputs ${r.outputs.join(",")}, ${(r.bytes / 1e6).toFixed(1)} MB, ` +
      `${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
}

if (import.meta.main) await runTask(SPEC, main);
