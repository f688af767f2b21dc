/**
 * BiT ResNet-v2 architectures and their weights as read from a BiT `.npz` checkpoint.
 *
 * The layout follows google-research/big_transfer: a root (7x7/2 weight-standardised conv, zero
 * pad 1, 3x3/2 max pool), four blocks of pre-activation bottleneck units (GroupNorm -> ReLU ->
 * conv, stride on the 3x3 conv of a block's first unit, projection shortcut fed by the unit's
 * pre-activated input), and a head (GroupNorm -> ReLU -> global average pool -> 1x1 conv).
 * Channels: root 64w; block b has cmid 64w * 2^(b-1) and cout 4 cmid.
 *
 * @module
 */
import { DataError, UsageError } from "../errors.ts";
import type { NpyArray } from "../io/npy.ts";

/** Units per block of the published depths. */
export const BIT_DEPTHS: Readonly<Record<number, readonly [number, number, number, number]>> = {
  50: [3, 4, 6, 3],
  101: [3, 4, 23, 3],
  152: [3, 8, 36, 3],
};

/** The published BiT models (architecture names). */
export const BIT_ARCH_NAMES = ["r50x1", "r101x1", "r50x3", "r152x2", "r101x3", "r152x4"] as const;

/** A published BiT model name. */
export type BitArchName = typeof BIT_ARCH_NAMES[number];

/** Channel and depth layout of a BiT ResNet-v2, as read from the weights. */
export interface BitArch {
  /** `r50x1`, ... for a published layout; `custom-<units>-<root channels>` otherwise. */
  name: string;
  /** Bottleneck units in blocks 1..4. */
  units: [number, number, number, number];
  /** Width factor: root channels / 64 (fractional only for test-sized models). */
  width: number;
  /** Output channels of the 7x7 root convolution (64 x width). */
  rootChannels: number;
  /** Bottleneck (3x3 conv) channels per block. */
  midChannels: [number, number, number, number];
  /** Output channels per block. */
  outChannels: [number, number, number, number];
  /** Classes of the checkpoint's own head; 0 when the checkpoint has none. */
  numClasses: number;
  /** GroupNorm groups (32 in BiT). */
  groups: number;
  /** Key prefix of the checkpoint (`resnet/` in BiT releases). */
  prefix: string;
}

/** GroupNorm epsilon of BiT (PyTorch's default, as bit_pytorch uses it). */
export const GROUP_NORM_EPS = 1e-5;
/** Weight standardisation epsilon of BiT's StdConv2d. */
export const WS_EPS = 1e-10;

/** The npz key of a unit's parameter, e.g. `unitKey("resnet/", 2, 1, "a/group_norm/gamma")`. */
export function unitKey(prefix: string, block: number, unit: number, rest: string): string {
  return `${prefix}block${block}/unit${String(unit).padStart(2, "0")}/${rest}`;
}

function shapeText(shape: readonly number[]): string {
  return `(${shape.join(", ")})`;
}

function need(
  w: Map<string, NpyArray>,
  key: string,
  shape: readonly number[],
  file: string,
): NpyArray {
  const a = w.get(key);
  if (!a) throw new DataError(`${file} has no array '${key}'; is it a BiT ResNet-v2 checkpoint?`);
  if (a.dtype !== "<f4" && a.dtype !== "<f2") {
    throw new DataError(`${file}: '${key}' has dtype ${a.dtype}; expected float32 weights`);
  }
  if (a.shape.length !== shape.length || a.shape.some((d, i) => d !== shape[i])) {
    throw new DataError(
      `${file}: '${key}' has shape ${shapeText(a.shape)}, expected ${shapeText(shape)} for the ` +
        "architecture read from its other weights; the checkpoint is inconsistent",
    );
  }
  return a;
}

/**
 * Reads the architecture from the checkpoint's keys and shapes (units per block from the unit
 * keys, channels from the kernels) and checks every expected array is present with the right
 * shape. With `expected` (a published name other than `auto`) the result must match it; `o.label`
 * names that setting in the error (default "architecture").
 */
export function inferArch(
  weights: Map<string, NpyArray>,
  file: string,
  expected: BitArchName | "auto" = "auto",
  o: { label?: string } = {},
): BitArch {
  const prefix = weights.has("resnet/root_block/standardized_conv2d/kernel") ? "resnet/" : "";
  const rootKey = `${prefix}root_block/standardized_conv2d/kernel`;
  const root = weights.get(rootKey);
  if (!root || root.shape.length !== 4) {
    throw new DataError(
      `${file} has no 4-d array 'resnet/root_block/standardized_conv2d/kernel'; ` +
        "is it a BiT ResNet-v2 checkpoint (.npz from the BiT release)?",
    );
  }
  const rootChannels = root.shape[3];
  need(weights, rootKey, [7, 7, 3, rootChannels], file);
  const units: number[] = [];
  for (let b = 1; b <= 4; b++) {
    let n = 0;
    while (weights.has(unitKey(prefix, b, n + 1, "a/standardized_conv2d/kernel"))) n++;
    if (n === 0) {
      throw new DataError(`${file} has no units in block${b}; the checkpoint is incomplete`);
    }
    units.push(n);
  }
  const mid: number[] = [];
  const out: number[] = [];
  for (let b = 1; b <= 4; b++) {
    const a = weights.get(unitKey(prefix, b, 1, "a/standardized_conv2d/kernel"))!;
    const c = weights.get(unitKey(prefix, b, 1, "c/standardized_conv2d/kernel"));
    if (a.shape.length !== 4 || !c || c.shape.length !== 4) {
      throw new DataError(`${file}: block${b}/unit01 kernels are missing or not 4-d`);
    }
    mid.push(a.shape[3]);
    out.push(c.shape[3]);
  }
  const headKernel = weights.get(`${prefix}head/conv2d/kernel`);
  const numClasses = headKernel && headKernel.shape.length === 4 ? headKernel.shape[3] : 0;
  const depth = 2 + 3 * units.reduce((s, u) => s + u, 0);
  const width = rootChannels / 64;
  const standard = BIT_DEPTHS[depth] && BIT_DEPTHS[depth].every((u, i) => u === units[i]) &&
    Number.isInteger(width) && mid.every((m, i) => m === rootChannels * 2 ** i) &&
    out.every((o, i) => o === 4 * mid[i]);
  const name = standard ? `r${depth}x${width}` : `custom-${units.join("-")}-c${rootChannels}`;
  const arch: BitArch = {
    name,
    units: units as BitArch["units"],
    width,
    rootChannels,
    midChannels: mid as BitArch["midChannels"],
    outChannels: out as BitArch["outChannels"],
    numClasses,
    groups: 32,
    prefix,
  };
  if (expected !== "auto" && expected !== name) {
    const label = o.label ?? "architecture";
    throw new UsageError(
      `${label} ${expected} does not match ${file}, whose weights are ${name} ` +
        `(units ${units.join(",")}, root channels ${rootChannels}); use ${label} auto or the ` +
        "matching name",
    );
  }
  checkAllShapes(weights, arch, file);
  return arch;
}

function checkAllShapes(w: Map<string, NpyArray>, arch: BitArch, file: string): void {
  const p = arch.prefix;
  const g = arch.groups;
  const divisible = (c: number, where: string) => {
    if (c % g !== 0) {
      throw new DataError(
        `${file}: ${where} has ${c} channels, not divisible by the ${g} GroupNorm groups`,
      );
    }
  };
  let cin = arch.rootChannels;
  for (let b = 1; b <= 4; b++) {
    const cmid = arch.midChannels[b - 1];
    const cout = arch.outChannels[b - 1];
    for (let u = 1; u <= arch.units[b - 1]; u++) {
      const k = (rest: string) => unitKey(p, b, u, rest);
      divisible(cin, `block${b}/unit${u} input`);
      divisible(cmid, `block${b} bottleneck`);
      need(w, k("a/group_norm/gamma"), [cin], file);
      need(w, k("a/group_norm/beta"), [cin], file);
      need(w, k("a/standardized_conv2d/kernel"), [1, 1, cin, cmid], file);
      need(w, k("b/group_norm/gamma"), [cmid], file);
      need(w, k("b/group_norm/beta"), [cmid], file);
      need(w, k("b/standardized_conv2d/kernel"), [3, 3, cmid, cmid], file);
      need(w, k("c/group_norm/gamma"), [cmid], file);
      need(w, k("c/group_norm/beta"), [cmid], file);
      need(w, k("c/standardized_conv2d/kernel"), [1, 1, cmid, cout], file);
      const stride = u === 1 && b > 1 ? 2 : 1;
      const projKey = k("a/proj/standardized_conv2d/kernel");
      if (stride !== 1 || cin !== cout) need(w, projKey, [1, 1, cin, cout], file);
      else if (w.has(projKey)) {
        throw new DataError(`${file}: unexpected projection '${projKey}' in an identity unit`);
      }
      cin = cout;
    }
  }
  divisible(cin, "the final GroupNorm");
  need(w, `${p}group_norm/gamma`, [cin], file);
  need(w, `${p}group_norm/beta`, [cin], file);
  if (arch.numClasses > 0) {
    need(w, `${p}head/conv2d/kernel`, [1, 1, cin, arch.numClasses], file);
    need(w, `${p}head/conv2d/bias`, [arch.numClasses], file);
  }
}

/** Stride of a unit: 2 on the first unit of blocks 2-4, else 1. */
export function unitStride(block: number, unit: number): number {
  return unit === 1 && block > 1 ? 2 : 1;
}

/** Penultimate feature size (channels of block 4). */
export function featureDim(arch: BitArch): number {
  return arch.outChannels[3];
}
