/**
 * `deno task fetch-bit`: downloads a published BiT checkpoint from the public bucket (resumable,
 * size-capped by the model's parameter count, time-limited), checks it holds exactly the expected
 * architecture, and converts it to ONNX for `extract`. `--dest` is locked for the run; the model is
 * written staged, so a failure leaves a previous model as it was.
 *
 * @module
 */
import { featureDim, inferArch } from "../lib/bit/arch.ts";
import { writeCheckpointHead } from "../lib/bit/checkpoint_head.ts";
import { convertBitCheckpoint } from "../lib/bit/convert.ts";
import { readNpz } from "../lib/bit/npz.ts";
import {
  BIT_BUCKET,
  bitCheckpointCap,
  bitModel,
  bitParamCount,
} from "../lib/download/bit_models.ts";
import { downloadFile, NetworkError } from "../lib/download/http_download.ts";
import { DataError, MosError, UsageError } from "../lib/errors.ts";
import { assertOutsideInputs } from "../lib/io/containment.ts";
import type { NpyArray } from "../lib/io/npy.ts";
import { assertOnnxOutput, ONNX_FLAGS, onnxFlags } from "./_shared/onnx_flags.ts";
import { createProgress, type Progress } from "./_shared/progress.ts";
import { defineTask, type FlagValuesOf, runTask } from "./_shared/cli.ts";
import { downloadFailure, downloadFlags, TIME_FLAGS } from "./_shared/download_flags.ts";
import { withResultDir } from "./_shared/result_dir.ts";

const SPEC = defineTask({
  name: "fetch-bit",
  summary: "Download a BiT checkpoint from the public BiT bucket, verify it, convert it to ONNX.",
  usage: "deno task fetch-bit --model BiT-S-R101x1",
  flags: {
    model: {
      type: "string",
      default: "BiT-S-R101x1",
      help: "NAME  BiT-S-R50x1 | BiT-S-R101x1 | ... | BiT-M-R152x4 (the paper: BiT-S-R101x1)",
    },
    dest: { type: "string", default: "models", help: "DIR  where the .npz and .onnx go" },
    out: { type: "string", help: "FILE  output .onnx (default: DIR/bit_s_r101x1.onnx etc.)" },
    mirror: { type: "string", help: `URL  base URL serving <model>.npz (default ${BIT_BUCKET})` },
    "head-out": {
      type: "string",
      help: "DIR  also write the checkpoint's head (BiT-M: 21,843 classes) as a flat head " +
        "directory for `deno task score --head DIR`",
    },
    ...ONNX_FLAGS,
    ...TIME_FLAGS,
  },
  notes: [
    "Interrupted downloads resume when the same command is rerun (HTTP Range).",
    "Without internet access: download the .npz elsewhere and run",
    "`deno task bit-to-onnx --npz BiT-S-R101x1.npz --out models/bit_s_r101x1.onnx`.",
    "BiT-M models (BiT-M-R50x1, ...) carry the 21,843-way ImageNet-21k head: --outputs",
    "features,logits makes extract write 21k logits; --head-out DIR lets score use that head.",
  ],
});

function floats(weights: Map<string, NpyArray>): number {
  let n = 0;
  for (const a of weights.values()) n += a.shape.reduce((x, y) => x * y, 1);
  return n;
}

async function main(values: FlagValuesOf<typeof SPEC.flags>): Promise<void> {
  const flags = downloadFlags(values);
  const spec = bitModel(values.model, flags.mirror, { label: "--model" });
  const dest = values.dest.replace(/\/+$/, "") || ".";
  const out = values.out ?? `${dest}/${spec.model.toLowerCase().replaceAll("-", "_")}.onnx`;
  const headOut = values["head-out"];
  if (!out.endsWith(".onnx")) throw new UsageError(`--out ${out} should end in .onnx`);
  const { outputs, groupNorm } = onnxFlags(values);
  const npzPath = `${dest}/${spec.file}`;
  // Every refusal before anything is created: nothing is written into a file: mirror (an input),
  // and the model may not replace its own checkpoint.
  assertOutsideInputs({ label: "--dest", path: dest }, flags.inputs);
  assertOnnxOutput(out, npzPath, "the checkpoint");
  if (flags.inputs.length > 0) assertOutsideInputs({ label: "--out", path: out }, flags.inputs);
  if (headOut !== undefined) {
    assertOutsideInputs({ label: "--head-out", path: headOut }, [
      ...flags.inputs,
      { label: "the checkpoint", path: npzPath },
      { label: "--out", path: out },
    ]);
  }
  await withResultDir(
    dest,
    { purpose: "fetch-bit", inputs: flags.inputs, flag: "--dest" },
    () => fetchAndConvert({ spec, dest, out, npzPath, flags, outputs, groupNorm, headOut }),
  );
}

/** Downloads the checkpoint (resumable, capped at the model's size) with a progress bar. */
async function download(o: FetchJob) {
  const { spec, npzPath, flags } = o;
  let bar: Progress | undefined;
  try {
    const r = await downloadFile({
      url: spec.url,
      dest: npzPath,
      maxBytes: bitCheckpointCap(spec),
      what: `the ${spec.model} checkpoint`,
      sourceHint: "the URL or --mirror",
      idleTimeoutMs: flags.stallMs,
      timeLimitMs: flags.timeLimitMs,
      onProgress: (done, total) => {
        bar ??= createProgress({
          label: `fetch ${spec.file}`,
          total: Math.round((total ?? done) / 1e5) / 10,
          unit: "MB",
          start: Math.round(done / 1e5) / 10,
        });
        bar.update(Math.round(done / 1e5) / 10);
      },
    });
    bar?.finish();
    return r;
  } catch (err) {
    if (err instanceof NetworkError) {
      throw downloadFailure(
        err,
        flags,
        "fetch-bit",
        `fetch ${spec.url} elsewhere and run ` +
          `\`deno task bit-to-onnx --npz ${spec.file} --out ${o.out}\``,
      );
    }
    throw err;
  }
}

/**
 * Reads the downloaded checkpoint and checks it is exactly the published architecture (every
 * array, every shape, no extras, the head size); a bad file this run downloaded is deleted.
 */
async function verify(o: FetchJob, reused: boolean) {
  const { spec, npzPath } = o;
  const reject = async (why: string): Promise<never> => {
    if (reused) {
      // There before this run: nothing shows this task wrote it, so it is left alone.
      throw new DataError(
        `${npzPath} ${why}; it was there before this run and is left alone: move it away and ` +
          "rerun to download it again (or check --mirror)",
      );
    }
    await Deno.remove(npzPath).catch(() => {});
    throw new DataError(
      `${npzPath} ${why}; it was deleted, rerun to download it again (or check --mirror)`,
    );
  };
  let weights: Map<string, NpyArray>;
  try {
    weights = await readNpz(npzPath, { hint: "pass the BiT .npz checkpoint with --npz" });
  } catch (err) {
    if (err instanceof DataError) return await reject(`cannot be read (${err.message})`);
    throw err;
  }
  let arch;
  try {
    arch = inferArch(weights, npzPath, "auto");
  } catch (err) {
    if (err instanceof MosError) return await reject(`is not a BiT checkpoint (${err.message})`);
    throw err;
  }
  if (arch.name !== spec.arch || arch.numClasses !== spec.numClasses) {
    return await reject(
      `holds ${arch.name} with ${arch.numClasses} head classes, but ${spec.model} is ` +
        `${spec.arch} with ${spec.numClasses}`,
    );
  }
  const expected = bitParamCount(spec.arch, spec.numClasses);
  if (floats(weights) !== expected) {
    return await reject(`holds ${floats(weights)} parameters, expected ${expected}`);
  }
  return { weights, expected };
}

/** What {@linkcode fetchAndConvert} works on. */
interface FetchJob {
  spec: ReturnType<typeof bitModel>;
  dest: string;
  out: string;
  npzPath: string;
  flags: ReturnType<typeof downloadFlags>;
  outputs: ReturnType<typeof onnxFlags>["outputs"];
  groupNorm: ReturnType<typeof onnxFlags>["groupNorm"];
  headOut?: string;
}

async function fetchAndConvert(o: FetchJob): Promise<void> {
  const { spec, out, npzPath } = o;
  const t0 = performance.now();
  const got = await download(o);
  const { weights, expected } = await verify(o, got.reused);
  const r = await convertBitCheckpoint({
    weights,
    npzPath,
    out,
    arch: spec.arch,
    outputs: o.outputs,
    groupNorm: o.groupNorm,
    labels: { outputs: "--outputs" },
  });
  const head = o.headOut === undefined
    ? ""
    : `; ${await writeCheckpointHead(o.headOut, weights, r.arch, spec.file)}-class head -> ` +
      o.headOut;
  const mb = (got.bytes / 1e6).toFixed(1);
  console.log(
    `${spec.model}: ${got.reused ? "already downloaded" : "downloaded"} ${npzPath} ` +
      `(${mb} MB, ${(expected / 1e6).toFixed(2)}M parameters verified` +
      (got.resumedFrom > 0 ? `, resumed at ${(got.resumedFrom / 1e6).toFixed(1)} MB` : "") +
      `); wrote ${out}${r.dataFile ? ` (+ ${r.dataFile})` : ""}: feature dim ${
        featureDim(r.arch)
      }, ` +
      `outputs ${r.outputs.join(",")}${head}, ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
}

if (import.meta.main) await runTask(SPEC, main);
