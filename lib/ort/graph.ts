/**
 * A small builder for ONNX graphs made in code. The heavy linear algebra of the toolkit (logits,
 * Mahalanobis distances, KL against templates, training steps) runs as such graphs in
 * onnxruntime-node, which is ~100x faster than TypeScript loops on this class of CPU.
 *
 * @module
 */
import onnxProto from "npm:onnx-proto@8.0.1";

const { onnx } = onnxProto;

/** Element types used by the toolkit's graphs. */
export type ElemType = "float32" | "float16" | "int64" | "int32" | "bool";

const ELEM_CODE: Record<ElemType, number> = {
  float32: 1,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
};

/** A graph input or output: name, element type and shape (numbers fixed, strings symbolic). */
export interface ValueSpec {
  name: string;
  type: ElemType;
  shape: (number | string)[];
}

/** An attribute value: numbers are INT when integral unless wrapped by {@linkcode float}. */
export type AttrValue = number | number[] | string | { float: number } | { floats: number[] };

/** One ONNX node. */
export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, AttrValue>;
  domain?: string;
}

/** A constant tensor baked into the model. */
export interface Initializer {
  name: string;
  dims: number[];
  data: Float32Array | Int32Array | BigInt64Array | Uint16Array;
}

/** Everything needed to build a model. */
export interface GraphSpec {
  name: string;
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  nodes: NodeSpec[];
  initializers?: Initializer[];
}

/** Marks a FLOAT attribute (plain numbers are INT attributes). */
export function float(value: number): { float: number } {
  return { float: value };
}

/** Marks a FLOATS attribute. */
export function floats(values: number[]): { floats: number[] } {
  return { floats: values };
}

/** Shorthand for a node. */
export function node(
  op: string,
  inputs: string[],
  outputs: string[],
  attrs?: Record<string, AttrValue>,
): NodeSpec {
  return { op, inputs, outputs, attrs };
}

/** An int64 1-D constant (shapes, axes, indices). */
export function int64Const(name: string, values: number[]): Initializer {
  return { name, dims: [values.length], data: BigInt64Array.from(values.map((v) => BigInt(v))) };
}

/** A float32 constant of the given dims. */
export function floatConst(name: string, dims: number[], values: ArrayLike<number>): Initializer {
  return { name, dims, data: Float32Array.from(values) };
}

function valueInfo(v: ValueSpec) {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: ELEM_CODE[v.type],
        shape: {
          dim: v.shape.map((d) => typeof d === "number" ? { dimValue: d } : { dimParam: d }),
        },
      },
    },
  };
}

function attribute(name: string, v: AttrValue) {
  const A = onnx.AttributeProto.AttributeType;
  if (typeof v === "number") {
    return Number.isInteger(v) ? { name, type: A.INT, i: v } : { name, type: A.FLOAT, f: v };
  }
  if (typeof v === "string") {
    return { name, type: A.STRING, s: new TextEncoder().encode(v) };
  }
  if (Array.isArray(v)) return { name, type: A.INTS, ints: v };
  if ("float" in v) return { name, type: A.FLOAT, f: v.float };
  return { name, type: A.FLOATS, floats: v.floats };
}

function initializer(t: Initializer) {
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength).slice();
  const dataType = t.data instanceof Float32Array
    ? ELEM_CODE.float32
    : t.data instanceof Int32Array
    ? ELEM_CODE.int32
    : t.data instanceof BigInt64Array
    ? ELEM_CODE.int64
    : ELEM_CODE.float16;
  return { name: t.name, dims: t.dims, dataType, rawData: bytes };
}

/**
 * Serialises a graph to ONNX bytes that `InferenceSession.create` accepts.
 *
 * @example
 * ```ts
 * const bytes = buildModel({
 *   name: "matmul",
 *   inputs: [{ name: "a", type: "float32", shape: ["n", 4] }, { name: "b", type: "float32", shape: [4, 3] }],
 *   outputs: [{ name: "c", type: "float32", shape: ["n", 3] }],
 *   nodes: [node("MatMul", ["a", "b"], ["c"])],
 * });
 * ```
 */
export function buildModel(spec: GraphSpec, opset = 17): Uint8Array {
  const graph = onnx.GraphProto.create({
    name: spec.name,
    node: spec.nodes.map((n, i) =>
      onnx.NodeProto.create({
        name: `${n.op}_${i}`,
        opType: n.op,
        domain: n.domain ?? "",
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attribute(k, v)),
      })
    ),
    input: spec.inputs.map(valueInfo),
    output: spec.outputs.map(valueInfo),
    initializer: (spec.initializers ?? []).map(initializer),
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: "mos-toolkit",
    opsetImport: [{ domain: "", version: opset }],
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}
