/**
 * Builds an ONNX model of a BiT ResNet-v2 from its `.npz` weights.
 *
 * Weight standardisation (per output channel, mean and biased variance over H, W and input
 * channels, eps 1e-10) is applied once here, so the graph holds plain `Conv` nodes. GroupNorm is
 * written with basic ops (see {@linkcode GroupNormImpl}); its per-channel scale and shift are a
 * depthwise 1x1 `Conv`, which onnxruntime's NCHWc transformer runs in the blocked layout with the
 * following ReLU fused in (one pass instead of Mul, Add and Relu; ~8% faster on R50x1 at 480).
 *
 * BiT zero-pads before its root max pool (`ConstantPad2d(1, 0)` then `MaxPool2d(3, 2)`), which
 * differs from a max pool's own -inf padding wherever a border window holds only negative conv
 * outputs. A `Pad` node cannot express it: onnxruntime's PadFusion (basic level, 1.30) folds a zero
 * Pad into the MaxPool's pads and so silently switches to -inf padding (measured: 3e-2 error on
 * the pooled root output; PyTorch's own ONNX export of BiT has this error). So the pool uses its
 * own padding and then takes the max with 0 on the windows that reach into the padding, found by
 * average-pooling a ones map of the conv output's size (1 inside, < 1 on such windows). Unlike an
 * explicit Concat padding this keeps the conv output in the NCHWc layout through the pool.
 *
 * @module
 */
import onnxProto from "npm:onnx-proto@8.0.1";
import { DataError, UsageError } from "../errors.ts";
import { type NpyArray, toFloat32 } from "../io/npy.ts";
import { type BitArch, featureDim, GROUP_NORM_EPS, unitKey, unitStride, WS_EPS } from "./arch.ts";

const { onnx } = onnxProto;

/** Outputs the converter can expose. */
export const BIT_OUTPUTS = [
  "features",
  "logits",
  "root",
  "block1",
  "block2",
  "block3",
  "block4",
] as const;

/** One model output: `features` (N x D penultimate), `logits`, or a spatially pooled stage. */
export type BitOutput = typeof BIT_OUTPUTS[number];

/**
 * How GroupNorm is written. `instance`: Reshape to (N, G, -1) -> InstanceNormalization -> Reshape
 * back -> per-channel scale and shift as a depthwise 1x1 Conv (the classic PyTorch export uses
 * Mul/Add there). `reduce`: the same with ReduceMean/Sub/Mul/Sqrt/Div instead of
 * InstanceNormalization. `native`: ONNX GroupNormalization (opset 21, per-channel scale and bias).
 * Speed in onnxruntime 1.30 CPU (R50x1, 480 x 480, batch 4, 2 threads, bench/extract.ts):
 * instance fastest, reduce ~5% slower, native ~20% slower.
 */
export type GroupNormImpl = "instance" | "reduce" | "native";

/** Options for {@linkcode buildBitOnnx}. */
export interface BitOnnxOptions {
  /** Outputs in this order; default `["features"]`. */
  outputs?: readonly BitOutput[];
  /** GroupNorm formulation; default `instance` (fastest of the three in onnxruntime 1.30 CPU). */
  groupNorm?: GroupNormImpl;
  /**
   * Name of a side file to hold the weights (ONNX external data), relative to the model file.
   * Needed when the weights pass protobuf's 2 GiB limit (R152x4); see {@linkcode needsExternalData}.
   */
  externalDataName?: string;
  /** Extra `metadata_props` entries (source checkpoint hash, ...). */
  metadata?: Record<string, string>;
  /** How messages name the list of outputs (default "output list"). */
  label?: string;
}

/** A built model: the `.onnx` bytes and, with external data, the side file's chunks. */
export interface BitOnnxModel {
  /** The serialized ONNX ModelProto (the `.onnx` file's bytes). */
  model: Uint8Array;
  /** The side file's bytes as chunks (alignment padding included); empty without a side file. */
  externalData: Uint8Array[];
  /** The graph's outputs, in graph order. */
  outputs: BitOutput[];
}

/** Total weight bytes above which the model must use external data (protobuf's 2 GiB cap). */
export const EXTERNAL_DATA_THRESHOLD = 1.8 * 1024 ** 3;

/** Whether `arch`'s weights are too large for a single `.onnx` file. */
export function needsExternalData(weights: Map<string, NpyArray>): boolean {
  let bytes = 0;
  for (const a of weights.values()) bytes += a.data.length * 4;
  return bytes > EXTERNAL_DATA_THRESHOLD;
}

/**
 * Weight-standardises an HWIO kernel and returns it as OIHW float32:
 * w' = (w - mean_o) / sqrt(var_o + 1e-10), statistics over (H, W, I) of output channel o.
 */
export function standardizeKernel(hwio: Float32Array, shape: readonly number[]): Float32Array {
  const [kh, kw, ci, co] = shape;
  const n = kh * kw * ci;
  const out = new Float32Array(co * n);
  for (let o = 0; o < co; o++) {
    let mean = 0;
    for (let j = 0; j < n; j++) mean += hwio[j * co + o];
    mean /= n;
    let v = 0;
    for (let j = 0; j < n; j++) {
      const d = hwio[j * co + o] - mean;
      v += d * d;
    }
    const inv = 1 / Math.sqrt(v / n + WS_EPS);
    for (let y = 0; y < kh; y++) {
      for (let x = 0; x < kw; x++) {
        for (let i = 0; i < ci; i++) {
          const src = ((y * kw + x) * ci + i) * co + o;
          out[((o * ci + i) * kh + y) * kw + x] = (hwio[src] - mean) * inv;
        }
      }
    }
  }
  return out;
}

interface Node {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, number | number[] | { f: number }>;
}

interface Init {
  name: string;
  dims: number[];
  data: Float32Array | BigInt64Array;
}

/** Collects nodes and initializers with unique names. */
function graphBuilder() {
  const nodes: Node[] = [];
  const inits: Init[] = [];
  let counter = 0;
  const fresh = (base: string) => `${base}_${counter++}`;
  const add = (
    op: string,
    inputs: string[],
    attrs: Node["attrs"] = {},
    out?: string,
  ): string => {
    const o = out ?? fresh(op.toLowerCase());
    nodes.push({ op, inputs, outputs: [o], attrs });
    return o;
  };
  // Shared constants are requested by name wherever they are needed; the first request wins.
  const names = new Set<string>();
  const f32 = (name: string, dims: number[], data: Float32Array): string => {
    if (!names.has(name)) inits.push({ name, dims, data });
    names.add(name);
    return name;
  };
  const i64 = (name: string, values: number[]): string => {
    if (!names.has(name)) {
      inits.push({ name, dims: [values.length], data: BigInt64Array.from(values.map(BigInt)) });
    }
    names.add(name);
    return name;
  };
  return { nodes, inits, add, f32, i64 };
}

/**
 * BiT's root pool, MaxPool(3, 2) after a zero padding of 1, for `x` the output of the root conv
 * (7x7, stride 2, pad 3) of `images`; see the module note on why not Pad.
 */
function zeroPaddedMaxPool(g: ReturnType<typeof graphBuilder>, x: string): string {
  const pool = { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] };
  const pooled = g.add("MaxPool", [x], pool);
  // A (1, 1, H', W') map of ones at the conv output's size, from the input rather than from `x`
  // so that `x` itself never leaves the NCHWc layout: the mean over the valid taps of the conv's
  // window is exactly 1 for any input size.
  const plane = g.add("Slice", [
    "images",
    g.i64("pool_s0", [0, 0]),
    g.i64("pool_s1", [1, 1]),
    g.i64("pool_ax", [0, 1]),
  ]);
  const zero = g.f32("pool_zero", [], new Float32Array([0]));
  const onesIn = g.add("Add", [
    g.add("Mul", [plane, zero]),
    g.f32("pool_one", [], new Float32Array([1])),
  ]);
  const ones = g.add("AveragePool", [onesIn], {
    kernel_shape: [7, 7],
    strides: [2, 2],
    pads: [3, 3, 3, 3],
    count_include_pad: 0,
  });
  // 9/9 = 1 exactly inside; at most 6/9 where the window covers padding.
  const cover = g.add("AveragePool", [ones], { ...pool, count_include_pad: 1 });
  const border = g.add("Less", [cover, g.f32("pool_thr", [], new Float32Array([0.95]))]);
  const floor = g.add("Where", [
    border,
    zero,
    g.f32("pool_lowest", [], new Float32Array([-3.4e38])),
  ]);
  return g.add("Max", [pooled, floor]);
}

type Graph = ReturnType<typeof graphBuilder>;

/** The layer writers a BiT graph is assembled from, bound to one graph and its weights. */
function layerWriters(
  g: Graph,
  weights: Map<string, NpyArray>,
  impl: GroupNormImpl,
  groups: number,
) {
  const get = (key: string): Float32Array => {
    const a = weights.get(key);
    if (!a) throw new DataError(`weights have no array '${key}'`);
    return toFloat32(a);
  };
  // ReduceMean takes axes as an attribute up to opset 17 and as an input from opset 18.
  const opset = impl === "native" ? 21 : 17;
  const reduceMean = (x: string, axes: number[], keepdims: number): string =>
    opset >= 18
      ? g.add("ReduceMean", [x, g.i64(`axes_${axes.join("")}`, axes)], { keepdims })
      : g.add("ReduceMean", [x], { axes, keepdims });
  const spatialMean = (x: string) => reduceMean(x, [2, 3], 0);

  const groupNorm = (x: string, prefixKey: string, name: string): string => {
    const gamma = get(`${prefixKey}/gamma`);
    const beta = get(`${prefixKey}/beta`);
    const C = gamma.length;
    if (impl === "native") {
      const s = g.f32(`${name}_gamma`, [C], gamma);
      const b = g.f32(`${name}_beta`, [C], beta);
      return g.add("GroupNormalization", [x, s, b], {
        num_groups: groups,
        epsilon: { f: GROUP_NORM_EPS },
      });
    }
    const r = g.add("Reshape", [x, g.i64("gn_shape", [0, groups, -1])]);
    let normed: string;
    if (impl === "instance") {
      const ones = g.f32("gn_ones", [groups], new Float32Array(groups).fill(1));
      const zeros = g.f32("gn_zeros", [groups], new Float32Array(groups));
      normed = g.add("InstanceNormalization", [r, ones, zeros], {
        epsilon: { f: GROUP_NORM_EPS },
      });
    } else {
      const mean = reduceMean(r, [2], 1);
      const d = g.add("Sub", [r, mean]);
      const v = reduceMean(g.add("Mul", [d, d]), [2], 1);
      const eps = g.f32("gn_eps", [], new Float32Array([GROUP_NORM_EPS]));
      normed = g.add("Div", [d, g.add("Sqrt", [g.add("Add", [v, eps])])]);
    }
    const back = g.add("Reshape", [normed, g.add("Shape", [x])]);
    const s = g.f32(`${name}_gamma`, [C, 1, 1, 1], gamma);
    const b = g.f32(`${name}_beta`, [C], beta);
    return g.add("Conv", [back, s, b], { group: C, kernel_shape: [1, 1] });
  };

  const conv = (x: string, key: string, name: string, stride: number): string => {
    const shape = weights.get(key)!.shape;
    const [kh, kw, ci, co] = shape;
    const w = g.f32(`${name}_w`, [co, ci, kh, kw], standardizeKernel(get(key), shape));
    const pad = (kh - 1) >> 1;
    return g.add("Conv", [x, w], {
      kernel_shape: [kh, kw],
      strides: [stride, stride],
      pads: [pad, pad, pad, pad],
    });
  };
  return { get, spatialMean, groupNorm, conv };
}

/**
 * Builds the ONNX model. Input `images`: float32 (N, 3, H, W), N, H and W symbolic
 * (BiT-S features for the MOS protocol use 480 x 480). Outputs as requested: `features`
 * (N, D) = GroupNorm -> ReLU -> global average pool of block 4; `logits` (N, K) from the
 * checkpoint's head (BiT-M: K = 21,843, the ImageNet-21k classes); `root`, `block1`..`block4`
 * (N, C) = spatial means of those stages' outputs.
 */
export function buildBitOnnx(
  weights: Map<string, NpyArray>,
  arch: BitArch,
  options: BitOnnxOptions = {},
): BitOnnxModel {
  const outputs = [...(options.outputs ?? ["features"])];
  const label = options.label ?? "output list";
  if (outputs.length === 0) throw new UsageError(`${label} is empty; give at least one output`);
  if (outputs.includes("logits") && arch.numClasses === 0) {
    throw new UsageError(
      `${label} logits needs a checkpoint with a head (resnet/head/conv2d/kernel); this one ` +
        "has none: drop logits",
    );
  }
  const impl = options.groupNorm ?? "instance";
  const g = graphBuilder();
  const L = layerWriters(g, weights, impl, arch.groups);
  const p = arch.prefix;

  const pooled = new Map<BitOutput, string>();
  const pool = (x: string, name: BitOutput) => {
    if (outputs.includes(name)) pooled.set(name, L.spatialMean(x));
  };
  let x = L.conv("images", `${p}root_block/standardized_conv2d/kernel`, "root", 2);
  x = zeroPaddedMaxPool(g, x);
  pool(x, "root");
  let cin = arch.rootChannels;
  for (let b = 1; b <= 4; b++) {
    const cout = arch.outChannels[b - 1];
    for (let u = 1; u <= arch.units[b - 1]; u++) {
      x = bottleneck(g, L, x, { key: (rest) => unitKey(p, b, u, rest), tag: `b${b}u${u}` }, {
        stride: unitStride(b, u),
        project: unitStride(b, u) !== 1 || cin !== cout,
      });
      cin = cout;
    }
    pool(x, `block${b}` as BitOutput);
  }
  const D = featureDim(arch);
  let features = "";
  if (outputs.includes("features") || outputs.includes("logits")) {
    features = L.spatialMean(g.add("Relu", [L.groupNorm(x, `${p}group_norm`, "final")]));
  }
  let logits = "";
  if (outputs.includes("logits")) {
    const K = arch.numClasses;
    const wk = g.f32("head_w", [D, K], L.get(`${p}head/conv2d/kernel`)); // (1,1,D,K) = (D,K)
    const bk = g.f32("head_b", [K], L.get(`${p}head/conv2d/bias`));
    logits = g.add("Add", [g.add("MatMul", [features, wk]), bk]);
  }
  const outSpecs = outputs.map((o) => {
    const [src, dim] = o === "features"
      ? [features, D]
      : o === "logits"
      ? [logits, arch.numClasses]
      : [
        pooled.get(o)!,
        o === "root" ? arch.rootChannels : arch.outChannels[Number(o.slice(5)) - 1],
      ];
    g.add("Identity", [src], {}, o);
    return { name: o, dim };
  });
  return encodeModel(g.nodes, g.inits, outSpecs, impl, arch, options);
}

/**
 * One pre-activation bottleneck unit: GroupNorm -> ReLU feeds both the projection shortcut (when
 * the unit changes shape) and the 1x1 -> 3x3 (strided) -> 1x1 convs.
 */
function bottleneck(
  g: Graph,
  L: ReturnType<typeof layerWriters>,
  x: string,
  unit: { key: (rest: string) => string; tag: string },
  o: { stride: number; project: boolean },
): string {
  const { key: k, tag } = unit;
  const pre = g.add("Relu", [L.groupNorm(x, k("a/group_norm"), `${tag}a`)]);
  const shortcut = o.project
    ? L.conv(pre, k("a/proj/standardized_conv2d/kernel"), `${tag}proj`, o.stride)
    : x;
  let y = L.conv(pre, k("a/standardized_conv2d/kernel"), `${tag}a`, 1);
  y = g.add("Relu", [L.groupNorm(y, k("b/group_norm"), `${tag}b`)]);
  y = L.conv(y, k("b/standardized_conv2d/kernel"), `${tag}b`, o.stride);
  y = g.add("Relu", [L.groupNorm(y, k("c/group_norm"), `${tag}c`)]);
  y = L.conv(y, k("c/standardized_conv2d/kernel"), `${tag}c`, 1);
  return g.add("Add", [y, shortcut]);
}

function encodeModel(
  nodes: Node[],
  inits: Init[],
  outs: { name: string; dim: number }[],
  impl: GroupNormImpl,
  arch: BitArch,
  options: BitOnnxOptions,
): BitOnnxModel {
  const A = onnx.AttributeProto.AttributeType;
  const attr = (name: string, v: Node["attrs"][string]) =>
    typeof v === "number"
      ? { name, type: A.INT, i: v }
      : Array.isArray(v)
      ? { name, type: A.INTS, ints: v }
      : { name, type: A.FLOAT, f: v.f };
  const external: Uint8Array[] = [];
  let offset = 0;
  const tensor = (t: Init) => {
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const dataType = t.data instanceof Float32Array ? 1 : 7;
    if (options.externalDataName && dataType === 1 && bytes.length >= 1024) {
      // 64-byte alignment lets onnxruntime map the side file directly.
      const pad = (64 - (offset % 64)) % 64;
      if (pad) external.push(new Uint8Array(pad));
      offset += pad;
      external.push(bytes);
      const entry = {
        name: t.name,
        dims: t.dims,
        dataType,
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: "location", value: options.externalDataName },
          { key: "offset", value: String(offset) },
          { key: "length", value: String(bytes.length) },
        ],
      };
      offset += bytes.length;
      return entry;
    }
    return { name: t.name, dims: t.dims, dataType, rawData: bytes };
  };
  const vi = (name: string, dims: (number | string)[]) => ({
    name,
    type: {
      tensorType: {
        elemType: 1,
        shape: {
          dim: dims.map((d) => typeof d === "number" ? { dimValue: d } : { dimParam: d }),
        },
      },
    },
  });
  const graph = onnx.GraphProto.create({
    name: `bit_${arch.name}`,
    node: nodes.map((n, i) =>
      onnx.NodeProto.create({
        name: `${n.op}_${i}`,
        opType: n.op,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs).map(([k, v]) => attr(k, v)),
      })
    ),
    input: [vi("images", ["batch", 3, "height", "width"])],
    output: outs.map((o) => vi(o.name, ["batch", o.dim])),
    initializer: inits.map(tensor),
  });
  const metadata: Record<string, string> = {
    bit_arch: arch.name,
    bit_units: arch.units.join(","),
    bit_root_channels: String(arch.rootChannels),
    feature_dim: String(featureDim(arch)),
    outputs: outs.map((o) => o.name).join(","),
    group_norm: impl,
    ...options.metadata,
  };
  const opset = impl === "native" ? 21 : 17;
  const model = onnx.ModelProto.create({
    irVersion: impl === "native" ? 10 : 8,
    producerName: "mos-toolkit bit-to-onnx",
    opsetImport: [{ domain: "", version: opset }],
    graph,
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  });
  return {
    model: onnx.ModelProto.encode(model).finish(),
    externalData: external,
    outputs: outs.map((o) => o.name as BitOutput),
  };
}
