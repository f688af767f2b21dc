/**
 * `deno task bit-to-onnx`: converts a BiT ResNet-v2 `.npz` checkpoint into an ONNX model that
 * `deno task extract` runs.
 *
 * @module
 */
import { BIT_ARCH_NAMES, type BitArchName, featureDim, inferArch } from "../lib/bit/arch.ts";
import { readNpz } from "../lib/bit/npz.ts";
import {
  BIT_OUTPUTS,
  type BitOutput,
  buildBitOnnx,
  type GroupNormImpl,
  needsExternalData,
} from "../lib/bit/resnet_v2_onnx.ts";
import { UsageError } from "../lib/errors.ts";
import { writeFileAtomic } from "../lib/io/atomic.ts";
import { hashFile } from "../lib/io/manifest.ts";
import { choiceFlag, listFlag, requireString, runTask, type TaskSpec } from "./_shared/cli.ts";

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
    outputs: {
      type: "string",
      default: "features",
      help: `comma list of ${BIT_OUTPUTS.join(", ")}`,
    },
    "group-norm": {
      type: "string",
      default: "reduce",
      help: "reduce | instance | native  how GroupNorm is written in ONNX",
    },
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
  const outputs = listFlag(flags, "outputs", BIT_OUTPUTS, ["features"]) as BitOutput[];
  const groupNorm = choiceFlag(
    flags,
    "group-norm",
    ["reduce", "instance", "native"] as const,
    "reduce",
  ) as GroupNormImpl;
  if (!out.endsWith(".onnx")) throw new UsageError(`--out ${out} should end in .onnx`);

  const t0 = performance.now();
  const weights = await readNpz(npzPath);
  const bit = inferArch(weights, npzPath, arch as BitArchName | "auto");
  const external = needsExternalData(weights);
  const dataName = `${out.split("/").pop()}.data`;
  const model = buildBitOnnx(weights, bit, {
    outputs,
    groupNorm,
    externalDataName: external ? dataName : undefined,
    metadata: { source_npz: npzPath.split("/").pop()!, source_sha256: await hashFile(npzPath) },
  });
  const dir = out.includes("/") ? out.slice(0, out.lastIndexOf("/")) : ".";
  await Deno.mkdir(dir, { recursive: true });
  // The side file first: a model file never points at weights that are not there yet.
  if (external) await writeFileAtomic(`${out}.data`, model.externalData);
  await writeFileAtomic(out, model.model);
  const mb = (model.model.length + model.externalData.reduce((s, c) => s + c.length, 0)) / 1e6;
  console.log(
    `wrote ${out}${external ? ` (+ ${dataName})` : ""}: ${bit.name}, units ` +
      `${bit.units.join(",")}, feature dim ${featureDim(bit)}, ` +
      `${bit.numClasses > 0 ? `${bit.numClasses} head classes, ` : "no head, "}` +
      `outputs ${model.outputs.join(",")}, ${mb.toFixed(1)} MB, ` +
      `${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
}

if (import.meta.main) await runTask(SPEC, main);
