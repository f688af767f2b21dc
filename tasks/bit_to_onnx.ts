/**
 * `deno task bit-to-onnx`: converts a BiT ResNet-v2 `.npz` checkpoint (BiT-S: 1,000-way head,
 * BiT-M: 21,843-way ImageNet-21k head) into an ONNX model that `deno task extract` runs, and with
 * `--head-out` writes the checkpoint's own head as a flat head directory for `deno task score`.
 * `--out` (and its `.data` side file) may not be the `--npz` input; the model is written staged,
 * so a failed run leaves a previous model as it was.
 *
 * @module
 */
import { BIT_ARCH_NAMES, featureDim } from "../lib/bit/arch.ts";
import { writeCheckpointHead } from "../lib/bit/checkpoint_head.ts";
import { convertBitCheckpoint } from "../lib/bit/convert.ts";
import { readNpz } from "../lib/bit/npz.ts";
import { DataError, UsageError } from "../lib/errors.ts";
import { loadLabelSpace } from "../lib/grouping/label_space.ts";
import type { NpyArray } from "../lib/io/npy.ts";
import { assertOutsideInputs } from "../lib/io/containment.ts";
import { choiceFlag, defineTask, type FlagValuesOf, runTask } from "./_shared/cli.ts";
import { assertOnnxOutput, ONNX_FLAGS, onnxFlags } from "./_shared/onnx_flags.ts";

const SPEC = defineTask({
  name: "bit-to-onnx",
  summary: "Convert a BiT ResNet-v2 .npz checkpoint (BiT-S / BiT-M release) to ONNX.",
  usage: "deno task bit-to-onnx --npz BiT-S-R101x1.npz --out models/bit_s_r101x1.onnx " +
    "[--head-out DIR] [--label-space imagenet21k]",
  flags: {
    npz: {
      type: "string",
      required: true,
      help: "FILE  BiT checkpoint (.npz of HWIO kernels, 'resnet/...' keys)",
    },
    out: {
      type: "string",
      required: true,
      help: "FILE  output .onnx (a FILE.data side file is added > 1.8 GB)",
    },
    arch: {
      type: "string",
      default: "auto",
      help: `auto | ${BIT_ARCH_NAMES.join(" | ")}  expected architecture`,
    },
    "head-out": {
      type: "string",
      help: "DIR  also write the checkpoint's head (BiT-M: 21,843 classes) as a flat head " +
        "directory for `deno task score --head DIR`",
    },
    "label-space": {
      type: "string",
      help: "imagenet1k|imagenet21k|FILE.tsv  check that the head has one output per class of " +
        "this label space and record it in head.json (default: by head size)",
    },
    ...ONNX_FLAGS,
  },
  notes: [
    "Weight standardisation is applied once at conversion; the model's input is `images`",
    "(N, 3, H, W) float32 in [-1, 1]; `features` is the N x D penultimate feature (GroupNorm,",
    "ReLU, global average pool), `logits` the checkpoint head's output (add it to --outputs and",
    "extract writes logits.npy), `root`/`block1..4` are spatially averaged stage outputs.",
  ],
});

const baseName = (path: string) => path.split("/").pop()!;

/** Refuses a checkpoint whose head size is not the label space's class count. */
async function checkLabelSpace(
  spec: string,
  weights: Map<string, NpyArray>,
  npzPath: string,
): Promise<void> {
  const space = await loadLabelSpace(spec);
  const kernel = [...weights.entries()].find(([k]) => k.endsWith("head/conv2d/kernel"))?.[1];
  const K = kernel?.shape[3] ?? 0;
  if (K !== space.classes.length) {
    throw new DataError(
      `${npzPath} has a ${K}-class head but --label-space ${spec} has ${space.classes.length} ` +
        `classes; pass the label space of the checkpoint (BiT-M: imagenet21k, BiT-S: imagenet1k)`,
    );
  }
}

async function main(values: FlagValuesOf<typeof SPEC.flags>): Promise<void> {
  const { npz: npzPath, out } = values;
  const headOut = values["head-out"];
  const arch = choiceFlag(values, "arch", ["auto", ...BIT_ARCH_NAMES] as const, "auto");
  const { outputs, groupNorm } = onnxFlags(values);
  if (!out.endsWith(".onnx")) throw new UsageError(`--out ${out} should end in .onnx`);
  assertOnnxOutput(out, npzPath);
  if (headOut !== undefined) {
    assertOutsideInputs({ label: "--head-out", path: headOut }, [
      { label: "--npz", path: npzPath },
      { label: "--out", path: out },
    ]);
  }

  const t0 = performance.now();
  const weights = await readNpz(npzPath, { hint: "pass the BiT .npz checkpoint with --npz" });
  if (headOut !== undefined && ![...weights.keys()].some((k) => k.endsWith("head/conv2d/kernel"))) {
    throw new UsageError(
      `--head-out ${headOut}: ${npzPath} has no classifier head (head/conv2d/kernel); drop --head-out`,
    );
  }
  const space = values["label-space"];
  if (space !== undefined) await checkLabelSpace(space, weights, npzPath);
  const r = await convertBitCheckpoint({
    weights,
    npzPath,
    out,
    arch,
    outputs,
    groupNorm,
    labels: { arch: "--arch", outputs: "--outputs" },
  });
  const head = headOut === undefined ? "" : `; ${await writeCheckpointHead(
    headOut,
    weights,
    r.arch,
    baseName(npzPath),
    space,
  )}-class head -> ` +
    headOut;
  console.log(
    `wrote ${out}${r.dataFile ? ` (+ ${r.dataFile})` : ""}: ${r.arch.name}, units ` +
      `${r.arch.units.join(",")}, feature dim ${featureDim(r.arch)}, ` +
      `${r.arch.numClasses > 0 ? `${r.arch.numClasses} head classes, ` : "no head, "}` +
      `outputs ${r.outputs.join(",")}, ${(r.bytes / 1e6).toFixed(1)} MB${head}, ` +
      `${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
}

if (import.meta.main) await runTask(SPEC, main);
