/**
 * Opens a backbone ONNX model (from `deno task bit-to-onnx` or any model with an `images`
 * N x 3 x H x W input) on the CPU or on onnxruntime's CUDA execution provider.
 *
 * @module
 */
import { DataError, MosError } from "../errors.ts";
import { createSession, ort } from "../ort/session.ts";
import { assertModelOutputNames } from "./set_files.ts";

/** An open backbone: the session, its input name and its N x D outputs. */
export interface Backbone {
  session: ort.InferenceSession;
  input: string;
  /** Output names in model order; `features` first when present. */
  outputs: string[];
  /** Columns per output when the model declares them (symbolic or missing: undefined). */
  dims: Record<string, number | undefined>;
  device: "cpu" | "cuda";
}

/** How to install onnxruntime-node with CUDA; part of the error when CUDA is unavailable. */
export const CUDA_HINT = "reinstall onnxruntime-node with CUDA binaries on a CUDA 12 machine: " +
  "`ONNXRUNTIME_NODE_INSTALL=cuda12 npm install onnxruntime-node@1.30.0` (with Deno: delete " +
  "node_modules/.deno/onnxruntime-node@1.30.0 and run `ONNXRUNTIME_NODE_INSTALL=cuda12 deno " +
  "install --allow-scripts=npm:onnxruntime-node`), or use --device cpu";

/**
 * Opens `modelPath` with `threads` intra-op threads. `cuda` fails with one {@linkcode MosError}
 * line saying how to install the CUDA build when the provider is missing.
 */
export async function openBackbone(
  modelPath: string,
  opts: { device: "cpu" | "cuda"; threads: number },
): Promise<Backbone> {
  try {
    await Deno.stat(modelPath);
  } catch {
    throw new DataError(`--model ${modelPath} not found; create it with \`deno task bit-to-onnx\``);
  }
  let session: ort.InferenceSession;
  if (opts.device === "cuda") {
    const cuda = ort.listSupportedBackends().find((b) => b.name === "cuda");
    if (!cuda) {
      throw new MosError(`--device cuda: this onnxruntime-node has no CUDA backend; ${CUDA_HINT}`);
    }
    try {
      session = await ort.InferenceSession.create(modelPath, {
        executionProviders: [{ name: "cuda", deviceId: 0 }],
        intraOpNumThreads: opts.threads,
        graphOptimizationLevel: "all",
        logSeverityLevel: 4,
      });
    } catch (err) {
      const msg = (err as Error).message.split("\n")[0];
      throw new MosError(
        `--device cuda: the CUDA execution provider is not usable (${msg}); ${CUDA_HINT}`,
      );
    }
  } else {
    try {
      session = await createSession(modelPath, { threads: opts.threads });
    } catch (err) {
      throw new DataError(
        `--model ${modelPath} cannot be loaded by onnxruntime (${
          (err as Error).message.split("\n")[0]
        }); convert the checkpoint with \`deno task bit-to-onnx\``,
      );
    }
  }
  const input = session.inputNames.includes("images") ? "images" : session.inputNames[0];
  if (session.inputNames.length !== 1) {
    throw new DataError(
      `--model ${modelPath} has inputs ${session.inputNames.join(", ")}; expected one image input`,
    );
  }
  const names = [...session.outputNames];
  const outputs = names.includes("features")
    ? ["features", ...names.filter((n) => n !== "features")]
    : names;
  try {
    // Output names become file names (`<name>.npy`, `.parts/part-N.<name>.npy`).
    assertModelOutputNames(modelPath, outputs);
  } catch (err) {
    await session.release();
    throw err;
  }
  const dims: Record<string, number | undefined> = {};
  for (const m of session.outputMetadata) {
    const shape = "shape" in m ? m.shape : [];
    if ("shape" in m && shape.length !== 2) {
      await session.release();
      throw new DataError(
        `--model ${modelPath}: output '${m.name}' has shape (${shape.join(", ")}); expected ` +
          "N x D (one feature row per image); export the pooled, flattened features",
      );
    }
    const last = shape.length === 2 ? shape[1] : undefined;
    dims[m.name] = typeof last === "number" ? last : undefined;
  }
  return { session, input, outputs, dims, device: opts.device };
}
