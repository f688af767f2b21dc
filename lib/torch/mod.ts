/**
 * PyTorch checkpoints without Python: torch.save files in the zip and the legacy format
 * (float32 / float16 / bfloat16 storages) read by a strict unpickler that accepts only the
 * globals a state dict needs and executes nothing; the paper authors' BiT checkpoints
 * (`module.` prefixes, `{step, model, optim}`) turned into the ONNX backbone and a head.
 *
 * @example The tensors of a state dict
 * ```ts
 * import { findStateDict, readTorchCheckpoint, tensorFloat32 } from "./mod.ts";
 * const ckpt = await readTorchCheckpoint("BiT-S-R101x1-flat-finetune.pth.tar");
 * const stateDict = findStateDict(ckpt.value, "BiT-S-R101x1-flat-finetune.pth.tar");
 * for (const [key, t] of stateDict) console.log(key, t.shape, tensorFloat32(t, "ckpt", key)[0]);
 * ```
 *
 * @module
 */
export * from "./checkpoint.ts";
export * from "./tensor.ts";
export {
  findStateDict,
  headFromStateDict,
  type StateDict,
  type TorchHead,
} from "./bit_state_dict.ts";
export * from "./import_model.ts";
export {
  type PickleGlobals,
  unpickle,
  type UnpickleOptions,
  type UnpickleResult,
} from "./unpickle.ts";
export type { BitArch } from "../bit/arch.ts";
export {
  BIT_OUTPUTS,
  type BitOnnxModel,
  type BitOutput,
  type GroupNormImpl,
} from "../bit/resnet_v2_onnx.ts";
