/**
 * `deno task import-torch`: a PyTorch checkpoint of the MOS authors' ResNetV2 (their released
 * BiT-S-R101x1-group-finetune.pth.tar / -flat-finetune.pth.tar, or any torch.save of that
 * architecture, zip or legacy format) -> `<out>/backbone.onnx` (features + logits, the converter
 * of bit-to-onnx) and `<out>/head/` (a head directory as train-head writes it), ready for
 * `deno task extract --model <out>/backbone.onnx` and `deno task score --head <out>/head`.
 * No Python runs: the file is read by lib/torch's strict reader.
 *
 * @module
 */
import { featureDim } from "../lib/bit/arch.ts";
import { encodeNpy } from "../lib/io/npy.ts";
import { readClassTable, taxonomyGroups } from "../lib/io/classes.ts";
import { buildManifest, hashFile } from "../lib/io/manifest.ts";
import { readTorchCheckpoint } from "../lib/torch/checkpoint.ts";
import { importTorchModel, type TorchHeadMode } from "../lib/torch/import_model.ts";
import { choiceFlag, defineTask, type FlagValuesOf, runTask } from "./_shared/cli.ts";
import { removeOwnManifest, withResultDir } from "./_shared/result_dir.ts";

export const SPEC = defineTask({
  name: "import-torch",
  summary: "Import a MOS authors' PyTorch checkpoint (.pth.tar) as an ONNX backbone and a head.",
  usage: "deno task import-torch --pth BiT-S-R101x1-group-finetune.pth.tar --out models/mos_group",
  flags: {
    pth: {
      type: "string",
      required: true,
      help: "FILE  torch.save checkpoint ({step, model, optim} or a state dict; zip or legacy)",
    },
    out: {
      type: "string",
      required: true,
      help: "DIR   output: backbone.onnx, head/ (weight.npy, bias.npy, head.json), manifest.json",
    },
    head: {
      type: "string",
      default: "auto",
      help: "auto | none  import head.conv (1000 outputs: flat, 1008: the paper's groups) or not",
    },
    classes: {
      type: "string",
      help: "FILE  class table with the taxonomy groups (default: data/imagenet1k_classes.tsv)",
    },
    "group-norm": {
      type: "string",
      default: "instance",
      help: "instance | reduce | native  how GroupNorm is written in ONNX",
    },
  },
  notes: [
    "The group head's outputs are the released code's layout: per taxonomy group, 'others' then",
    "the group's classes in the class table's mos_sub_index order. Kernels are stored raw and",
    "weight-standardised at conversion, as the authors' StdConv2d does in its forward.",
    "A flat head's outputs are taken in the class table's order (sorted wnids).",
  ],
});

function say(line: string): void {
  if (Deno.env.get("MOS_QUIET") !== "1") console.error(`import-torch: ${line}`);
}

async function main(flags: FlagValuesOf<typeof SPEC.flags>): Promise<void> {
  const t0 = performance.now();
  const headMode = choiceFlag<TorchHeadMode>(flags, "head", ["auto", "none"], "auto");
  const groupNorm = choiceFlag(flags, "group-norm", ["instance", "reduce", "native"], "instance");
  const { pth, out } = flags;
  const inputs = [{ label: "--pth", path: pth }];
  if (flags.classes) inputs.push({ label: "--classes", path: flags.classes });

  await withResultDir(out, { purpose: "import-torch", inputs }, async (dir) => {
    say(`reading ${pth}`);
    const checkpoint = await readTorchCheckpoint(pth, {
      hint: "pass the checkpoint saved by torch.save with --pth",
    });
    const sha = await hashFile(pth);
    const table = await readClassTable(flags.classes);
    const groups = taxonomyGroups(table);
    say(`${checkpoint.format} format; converting`);
    const r = importTorchModel({
      checkpoint,
      file: pth,
      groups,
      numClasses: table.length,
      head: headMode,
      groupNorm,
      metadata: { source_pth: pth.split("/").pop()!, source_sha256: sha },
      hints: { noHead: "pass --head none to import only the backbone" },
    });
    const source = { pth: pth.split("/").pop()!, sha256: sha, format: checkpoint.format };
    const config = { head: headMode, group_norm: groupNorm, arch: r.arch.name };
    say(`writing ${out}`);
    // Another stage's result directory (a score run, a trained head) is refused, not overwritten.
    await removeOwnManifest(out, "import-torch");
    await dir.commit(async (w) => {
      await w.bytes("backbone.onnx", r.model.model);
      if (r.head) {
        const { weight, bias, info } = r.head;
        await w.bytes(
          "head/weight.npy",
          encodeNpy({ dtype: "<f4", shape: [weight.rows, weight.cols], data: weight.data }),
        );
        await w.bytes(
          "head/bias.npy",
          encodeNpy({ dtype: "<f4", shape: [bias.length], data: bias }),
        );
        await w.text("head/head.json", JSON.stringify({ ...info, source }, null, 2) + "\n");
      }
      const manifest = buildManifest({
        stage: "import-torch",
        config,
        inputs: { pth: `sha256:${sha}` },
        wallSeconds: (performance.now() - t0) / 1000,
      });
      await w.text("manifest.json", JSON.stringify(manifest, null, 2) + "\n");
    }, r.head ? ["head/head.json", "manifest.json"] : ["manifest.json"]);
    const h = r.head;
    console.log(
      `wrote ${out}/backbone.onnx (${r.arch.name}, feature dim ${featureDim(r.arch)}, outputs ` +
        `${r.model.outputs.join(",")})` +
        (h
          ? ` and ${out}/head (${h.info.kind}, ${h.info.num_classes} classes` +
            (h.info.kind === "group" ? `, ${h.info.groups.length} groups)` : ")")
          : "") +
        ` from a ${checkpoint.format}-format checkpoint in ${
          ((performance.now() - t0) / 1000).toFixed(1)
        } s`,
    );
  });
}

if (import.meta.main) await runTask(SPEC, main);
