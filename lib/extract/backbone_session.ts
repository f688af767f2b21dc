/**
 * Opens a backbone ONNX model (from `deno task bit-to-onnx` or any image model with one
 * N x 3 x H x W or N x H x W x 3 input) on the CPU or on onnxruntime's CUDA execution provider,
 * and decides which outputs an extraction keeps (lib/extract/output_roles.ts).
 *
 * @module
 */
import { DataError, MosError } from "../errors.ts";
import { createSession, ort } from "../ort/session.ts";
import {
  chooseOutputs,
  isRowShape,
  type ModelOutputInfo,
  type OutputFlags,
} from "./output_roles.ts";
import { type ExtractLabels, extractLabels } from "./labels.ts";
import { assertModelOutputNames } from "./set_files.ts";
import type { InputLayout } from "./transform_spec.ts";

/** An open backbone: the session, its input and the outputs an extraction keeps. */
export interface Backbone {
  /** The onnxruntime session of the model. */
  session: ort.InferenceSession;
  /** Name of the model's single image input. */
  input: string;
  /** Feature-set names of the kept outputs, primary (`features`) first. */
  outputs: string[];
  /** The model output behind each kept name (the same name unless picked by role). */
  sources: Record<string, string>;
  /** Columns per kept output when the model declares them (symbolic or missing: undefined). */
  dims: Record<string, number | undefined>;
  /** Kept outputs declared (N, D, 1, 1): read as (N, D). */
  flattened: string[];
  /** Input layout from the model's input shape (NCHW unless it declares 3 channels last). */
  layout: InputLayout;
  /** Square input side the model fixes, if it does. */
  inputSize?: number;
  /** Batch size the model fixes, if it does (partial batches are then padded). */
  fixedBatch?: number;
  /** Execution provider the session runs on. */
  device: "cpu" | "cuda";
}

/** The command that installs onnxruntime-node's CUDA execution provider (run once). */
export const CUDA_INSTALL =
  "ONNXRUNTIME_NODE_INSTALL=cuda12 deno run -A node_modules/onnxruntime-node/script/install.js";

/**
 * How to get onnxruntime-node's CUDA execution provider, which is not in the npm package: its
 * install script downloads it from NuGet (the postinstall this project skips). `device` names the
 * device setting (default "device").
 */
export function cudaHint(device = "device"): string {
  return "on a Linux x64 machine with CUDA 12 and cuDNN 9, run once " +
    `\`${CUDA_INSTALL}\` (it downloads onnxruntime's CUDA provider into ` +
    `node_modules/onnxruntime-node/bin), or use ${device} cpu`;
}

/** Options of {@linkcode openBackbone}. */
export interface OpenOptions extends OutputFlags {
  /** Execution provider: the CPU, or onnxruntime's CUDA provider (must be installed). */
  device: "cpu" | "cuda";
  /** Intra-op threads of the session. */
  threads: number;
  /** How messages name the model and settings (default "model", "device", ...). */
  labels?: ExtractLabels;
}

async function createBackboneSession(
  modelPath: string,
  opts: OpenOptions,
): Promise<ort.InferenceSession> {
  const l = extractLabels(opts.labels);
  if (opts.device === "cpu") {
    try {
      return await createSession(modelPath, { threads: opts.threads });
    } catch (err) {
      throw new DataError(
        `${l.model} ${modelPath} cannot be loaded by onnxruntime (${
          (err as Error).message.split("\n")[0]
        }); convert the checkpoint with \`deno task bit-to-onnx\``,
      );
    }
  }
  const cuda = ort.listSupportedBackends().find((b) => b.name === "cuda");
  if (!cuda) {
    throw new MosError(
      `${l.device} cuda: this onnxruntime-node has no CUDA backend; ${cudaHint(l.device)}`,
    );
  }
  // onnxruntime logs a missing provider library through its process-wide logger, whose level is
  // fixed when the first session is created (the backbone's is the first): fatal only, so that
  // the failure is the one line below. Session-level logs keep `logSeverityLevel`.
  ort.env.logLevel = "fatal";
  try {
    return await ort.InferenceSession.create(modelPath, {
      executionProviders: [{ name: "cuda", deviceId: 0 }],
      intraOpNumThreads: opts.threads,
      graphOptimizationLevel: "all",
      logSeverityLevel: 4,
    });
  } catch (err) {
    const msg = (err as Error).message.split("\n")[0];
    throw new MosError(
      `${l.device} cuda: the CUDA execution provider is not usable (${msg}); ` +
        cudaHint(l.device),
    );
  }
}

/** Layout, fixed side and fixed batch from the declared input shape. */
function inputGeometry(
  model: string,
  modelPath: string,
  shape: readonly (number | string)[] | null,
): Pick<Backbone, "layout" | "inputSize" | "fixedBatch"> {
  if (shape === null) return { layout: "NCHW" };
  if (shape.length !== 4) {
    throw new DataError(
      `${model} ${modelPath}: input has shape (${shape.join(", ")}); expected an image batch ` +
        "N x 3 x H x W (or N x H x W x 3)",
    );
  }
  const layout: InputLayout = shape[1] !== 3 && shape[3] === 3 ? "NHWC" : "NCHW";
  const [h, w] = layout === "NCHW" ? [shape[2], shape[3]] : [shape[1], shape[2]];
  const fixedBatch = typeof shape[0] === "number" && shape[0] > 0 ? shape[0] : undefined;
  if (typeof h === "number" && typeof w === "number") {
    if (h !== w) {
      throw new DataError(
        `${model} ${modelPath}: input is ${h} x ${w}; only square inputs are supported`,
      );
    }
    return { layout, inputSize: h, ...(fixedBatch ? { fixedBatch } : {}) };
  }
  return { layout, ...(fixedBatch ? { fixedBatch } : {}) };
}

function metaShape(m: unknown): readonly (number | string)[] | null {
  const r = m as { isTensor?: boolean; shape?: readonly (number | string)[] };
  // onnxruntime reports an undeclared shape as [].
  return r.isTensor === false || !Array.isArray(r.shape) || r.shape.length === 0 ? null : r.shape;
}

/**
 * Opens `modelPath` with `threads` intra-op threads. `cuda` fails with one {@linkcode MosError}
 * line saying how to install the CUDA build when the provider is missing. The kept outputs are
 * checked before anything else happens (a bad model must not touch the output directory).
 */
export async function openBackbone(modelPath: string, opts: OpenOptions): Promise<Backbone> {
  try {
    await Deno.stat(modelPath);
  } catch {
    throw new DataError(
      `${extractLabels(opts.labels).model} ${modelPath} not found; create it with ` +
        "`deno task bit-to-onnx`",
    );
  }
  const session = await createBackboneSession(modelPath, opts);
  try {
    return describeBackbone(modelPath, session, opts);
  } catch (err) {
    await session.release();
    throw err;
  }
}

function describeBackbone(
  modelPath: string,
  session: ort.InferenceSession,
  opts: OpenOptions,
): Backbone {
  const model = extractLabels(opts.labels).model;
  if (session.inputNames.length !== 1) {
    throw new DataError(
      `${model} ${modelPath} has inputs ${session.inputNames.join(", ")}; expected one image input`,
    );
  }
  const input = session.inputNames[0];
  const geometry = inputGeometry(model, modelPath, metaShape(session.inputMetadata[0]));
  const infos: ModelOutputInfo[] = session.outputMetadata.map((m) => ({
    name: m.name,
    shape: metaShape(m),
  }));
  const choices = chooseOutputs(modelPath, infos, opts, opts.labels);
  const legacy = choices.every((c) => c.model === c.name);
  // Output names become file names (`<name>.npy`, `.parts/part-N.<name>.npy`).
  assertModelOutputNames(modelPath, choices.map((c) => c.name), { label: model });
  const dims: Record<string, number | undefined> = {};
  const sources: Record<string, string> = {};
  const flattened: string[] = [];
  for (const c of choices) {
    const declared = infos.find((i) => i.name === c.model)!.shape;
    const shape = declared ?? [];
    const rowShape = declared === null || (legacy ? shape.length === 2 : isRowShape(shape));
    if (!rowShape) {
      throw new DataError(
        `${model} ${modelPath}: output '${c.model}' has shape (${shape.join(", ")}); expected ` +
          "N x D (one feature row per image); export the pooled, flattened features",
      );
    }
    if (shape.length === 4) flattened.push(c.name);
    sources[c.name] = c.model;
    dims[c.name] = typeof shape[1] === "number" ? shape[1] : undefined;
  }
  return {
    session,
    input,
    outputs: choices.map((c) => c.name),
    sources,
    dims,
    flattened,
    ...geometry,
    device: opts.device,
  };
}
