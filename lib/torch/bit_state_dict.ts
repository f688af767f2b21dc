/**
 * The MOS authors' PyTorch checkpoints (deeplearning-wisc/large_scale_ood, `resnetv2.py`, saved as
 * `{"step", "model", "optim"}` from a DataParallel model) mapped onto the BiT `.npz` layout that
 * lib/bit's converter reads, so a `.pth.tar` becomes the same ONNX backbone as a BiT `.npz`.
 *
 * Names: `module.` (DataParallel) is dropped; `root.conv.weight` -> root kernel;
 * `body.blockB.unitUU.{conv1,conv2,conv3}.weight` -> `{a,b,c}/standardized_conv2d/kernel`,
 * `gn{1,2,3}.{weight,bias}` -> `{a,b,c}/group_norm/{gamma,beta}`, `downsample.weight` ->
 * `a/proj/standardized_conv2d/kernel`; `before_head.gn` -> the final GroupNorm; `head.conv` (a
 * biased 1x1 conv) -> `head/conv2d/{kernel,bias}`. Kernels go from PyTorch's OIHW to BiT's HWIO;
 * the raw (unstandardised) weights are stored in both, and the converter standardises them with
 * the same formula (biased variance over I, H, W, eps 1e-10) as the authors' StdConv2d.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import type { NpyArray } from "../io/npy.ts";
import { isTensor, tensorFloat32, type TorchTensor } from "./tensor.ts";

/** A state dict: parameter name -> tensor. */
export type StateDict = Map<string, TorchTensor>;

const UNIT_PARAMS: Readonly<Record<string, string>> = {
  "conv1.weight": "a/standardized_conv2d/kernel",
  "conv2.weight": "b/standardized_conv2d/kernel",
  "conv3.weight": "c/standardized_conv2d/kernel",
  "gn1.weight": "a/group_norm/gamma",
  "gn1.bias": "a/group_norm/beta",
  "gn2.weight": "b/group_norm/gamma",
  "gn2.bias": "b/group_norm/beta",
  "gn3.weight": "c/group_norm/gamma",
  "gn3.bias": "c/group_norm/beta",
  "downsample.weight": "a/proj/standardized_conv2d/kernel",
};

const FIXED_PARAMS: Readonly<Record<string, string>> = {
  "root.conv.weight": "root_block/standardized_conv2d/kernel",
  "before_head.gn.weight": "group_norm/gamma",
  "before_head.gn.bias": "group_norm/beta",
  "head.conv.weight": "head/conv2d/kernel",
  "head.conv.bias": "head/conv2d/bias",
};

/** The `.npz` key of an authors' parameter name (without `module.`), or null when unknown. */
export function bitKeyOf(name: string): string | null {
  if (name in FIXED_PARAMS) return `resnet/${FIXED_PARAMS[name]}`;
  const m = /^body\.block([1-4])\.unit(\d{2})\.(.+)$/.exec(name);
  if (!m || !(m[3] in UNIT_PARAMS)) return null;
  return `resnet/block${m[1]}/unit${m[2]}/${UNIT_PARAMS[m[3]]}`;
}

/**
 * Finds the model's state dict in a checkpoint value: the authors' `{"step", "model", "optim"}`
 * (`model`), a `{"state_dict": ...}` wrapper, or a bare state dict; `module.` prefixes (DataParallel)
 * are dropped. Entries that are not tensors (none in a state dict) are refused.
 */
export function findStateDict(value: unknown, file: string): StateDict {
  let dict = value;
  if (dict instanceof Map) {
    for (const k of ["model", "state_dict"]) {
      if (dict.get(k) instanceof Map) {
        dict = dict.get(k);
        break;
      }
    }
  }
  if (!(dict instanceof Map) || dict.size === 0) {
    throw new DataError(
      `${file} holds no state dict (expected a dict of tensors, or {"model": state_dict, ...} as ` +
        "the MOS authors' checkpoints are saved)",
    );
  }
  const out: StateDict = new Map();
  for (const [k, v] of dict) {
    if (typeof k !== "string") throw new DataError(`${file}: the state dict has a non-string key`);
    if (!isTensor(v)) {
      throw new DataError(`${file}: state dict entry '${k}' is not a tensor; is it a state dict?`);
    }
    const name = k.startsWith("module.") ? k.slice("module.".length) : k;
    if (out.has(name)) {
      throw new DataError(`${file}: '${name}' appears both with and without the module. prefix`);
    }
    out.set(name, v);
  }
  return out;
}

/** OIHW (PyTorch conv) -> HWIO (BiT npz). */
export function oihwToHwio(src: Float32Array, shape: readonly number[]): Float32Array {
  const [o, i, h, w] = shape;
  const out = new Float32Array(src.length);
  for (let a = 0; a < o; a++) {
    for (let b = 0; b < i; b++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          out[((y * w + x) * i + b) * o + a] = src[((a * i + b) * h + y) * w + x];
        }
      }
    }
  }
  return out;
}

/** The converter's input: BiT `.npz` keys -> float32 arrays (kernels HWIO). */
export function bitWeightsFromStateDict(sd: StateDict, file: string): Map<string, NpyArray> {
  const out = new Map<string, NpyArray>();
  for (const [name, t] of sd) {
    const key = bitKeyOf(name);
    if (key === null) {
      throw new DataError(
        `${file}: state dict entry '${name}' is not part of the MOS authors' ResNetV2 ` +
          "(resnetv2.py: root.conv, body.blockN.unitMM.{gn1,conv1,...}, before_head.gn, " +
          "head.conv); only that architecture is imported",
      );
    }
    const data = tensorFloat32(t, file, `'${name}'`);
    if (t.shape.length === 4) {
      const [o, i, h, w] = t.shape;
      out.set(key, { dtype: "<f4", shape: [h, w, i, o], data: oihwToHwio(data, t.shape) });
    } else out.set(key, { dtype: "<f4", shape: [...t.shape], data });
  }
  return out;
}

/** The classifier head of a state dict: `head.conv` as an O x D matrix and its bias. */
export interface TorchHead {
  /** `head.conv.weight` as an O x D matrix, row-major (`rows * cols` values). */
  weight: Float32Array;
  /** O, the head's outputs. */
  rows: number;
  /** D, the feature dimension. */
  cols: number;
  /** `head.conv.bias`, length O. */
  bias: Float32Array;
}

/** Reads `head.conv.weight` [O, D, 1, 1] and `head.conv.bias` [O]; null when there is no head. */
export function headFromStateDict(sd: StateDict, file: string): TorchHead | null {
  const w = sd.get("head.conv.weight");
  const b = sd.get("head.conv.bias");
  if (!w && !b) return null;
  if (!w || !b) {
    throw new DataError(`${file} has only one of head.conv.weight and head.conv.bias`);
  }
  const [rows, cols, kh, kw] = w.shape;
  if (w.shape.length !== 4 || kh !== 1 || kw !== 1 || b.shape.join() !== `${rows}`) {
    throw new DataError(
      `${file}: head.conv.weight (${w.shape.join(", ")}) and head.conv.bias ` +
        `(${b.shape.join(", ")}) are not a 1x1 conv head [O, D, 1, 1] + [O]`,
    );
  }
  return {
    weight: tensorFloat32(w, file, "head.conv.weight"),
    rows,
    cols,
    bias: tensorFloat32(b, file, "head.conv.bias"),
  };
}
