/**
 * The quadratic form `x^T P x` of a symmetric D x D matrix P for every row of a chunk, with about
 * 5/8 of the multiply-adds of `rowsum((X P) * X)` (the Mahalanobis kernel's largest term).
 *
 * Split the D columns into b blocks. By symmetry,
 * `x^T P x = sum_i x_i^T P_ii x_i + 2 sum_{i<j} x_i^T P_ij x_j`, so block row i only needs the
 * products with the blocks at and after it: `A_i = X_i [P_ii, 2 P_i,i+1, ..., 2 P_i,b-1]` and
 * `x^T P x = sum_i rowsum(A_i * X[:, s_i:])`, where `s_i` is where block i starts. With b equal
 * blocks that is `(b + 1) / (2 b)` of the full product: 3/4 at b = 2, 5/8 at b = 4. The blocks
 * (and the suffixes `X[:, s_i:]`) are copies of the chunk made by ORT's Split / Slice: small next
 * to the products they save.
 *
 * {@linkcode quadFormPlan} fixes the blocks, {@linkcode packQuadForm} builds the packed matrices
 * `[P_ii, 2 P_i,i+1.., ]` from P once on the host, and {@linkcode quadFormNodes} emits the graph
 * nodes.
 *
 * @module
 */
import { type Initializer, int64Const, node, type NodeSpec, type ValueSpec } from "./graph.ts";

/** Column blocks of a quadratic form: block i covers columns `[starts[i], starts[i + 1])`. */
export interface QuadFormPlan {
  dim: number;
  /** b + 1 increasing offsets from 0 to `dim`. */
  starts: number[];
}

/**
 * Blocks for dimension `dim`: `blocks` near-equal widths, fewer when a block would be narrower
 * than `minWidth` columns (narrow products run below the GEMM's best rate). Default: 4 blocks of
 * at least 256 columns (measured on the 2-core dev machine at D = 2048: 4 blocks beat 2 and 8).
 */
export function quadFormPlan(dim: number, blocks = 4, minWidth = 256): QuadFormPlan {
  if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`dim must be >= 1, got ${dim}`);
  if (!Number.isInteger(blocks) || blocks < 1) {
    throw new RangeError(`blocks must be >= 1, got ${blocks}`);
  }
  if (!Number.isInteger(minWidth) || minWidth < 1) {
    throw new RangeError(`minWidth must be >= 1, got ${minWidth}`);
  }
  const b = Math.max(1, Math.min(blocks, Math.floor(dim / minWidth)));
  const starts = [0];
  for (let i = 1; i <= b; i++) starts.push(Math.round((i * dim) / b));
  return { dim, starts };
}

/** Name of packed block row i (a graph input). */
export function quadFormInput(prefix: string, i: number): string {
  return `${prefix}_p${i}`;
}

/** Graph inputs for the packed block rows of `plan`. */
export function quadFormInputs(prefix: string, plan: QuadFormPlan): ValueSpec[] {
  const { starts, dim } = plan;
  const out: ValueSpec[] = [];
  for (let i = 0; i + 1 < starts.length; i++) {
    out.push({
      name: quadFormInput(prefix, i),
      type: "float32",
      shape: [starts[i + 1] - starts[i], dim - starts[i]],
    });
  }
  return out;
}

/**
 * Packs P (D x D row-major, symmetric) into the block rows of `plan`: row block i is the
 * `w_i x (D - s_i)` matrix `[P_ii, 2 P_i,i+1, ..., 2 P_i,b-1]`. Only the upper block triangle of
 * P is read, so P must be exactly symmetric (both Mahalanobis fits mirror their inverse).
 */
export function packQuadForm(p: Float32Array, plan: QuadFormPlan): Float32Array[] {
  const { starts, dim: d } = plan;
  if (p.length !== d * d) throw new RangeError(`P has ${p.length} values, expected ${d}^2`);
  const out: Float32Array[] = [];
  for (let i = 0; i + 1 < starts.length; i++) {
    const s = starts[i], e = starts[i + 1];
    const cols = d - s;
    const block = new Float32Array((e - s) * cols);
    for (let r = s; r < e; r++) {
      const src = r * d;
      const dst = (r - s) * cols;
      for (let c = s; c < e; c++) block[dst + c - s] = p[src + c];
      for (let c = e; c < d; c++) block[dst + c - s] = 2 * p[src + c];
    }
    out.push(block);
  }
  return out;
}

/**
 * Nodes computing `out` (n x 1) = `x^T P x` for each row of `x` (n x D), P given as the packed
 * inputs of {@linkcode quadFormInputs} under `prefix`. Returns the nodes and their constants.
 */
export function quadFormNodes(
  prefix: string,
  plan: QuadFormPlan,
  x: string,
  out: string,
): { nodes: NodeSpec[]; initializers: Initializer[] } {
  const { starts, dim: d } = plan;
  const b = starts.length - 1;
  const n = (name: string) => `${prefix}_${name}`;
  const nodes: NodeSpec[] = [];
  const initializers: Initializer[] = [int64Const(n("axis1"), [1])];
  const blocks: string[] = [];
  if (b === 1) blocks.push(x);
  else {
    for (let i = 0; i < b; i++) blocks.push(n(`x${i}`));
    const widths = starts.slice(1).map((e, i) => e - starts[i]);
    initializers.push(int64Const(n("widths"), widths));
    nodes.push(node("Split", [x, n("widths")], blocks, { axis: 1 }));
  }
  const terms: string[] = [];
  for (let i = 0; i < b; i++) {
    let suffix = x;
    if (i > 0) {
      suffix = n(`suffix${i}`);
      initializers.push(int64Const(n(`start${i}`), [starts[i]]), int64Const(n(`end${i}`), [d]));
      nodes.push(node("Slice", [x, n(`start${i}`), n(`end${i}`), n("axis1")], [suffix]));
    }
    nodes.push(
      node("MatMul", [blocks[i], quadFormInput(prefix, i)], [n(`a${i}`)]),
      node("Mul", [n(`a${i}`), suffix], [n(`ax${i}`)]),
      node("ReduceSum", [n(`ax${i}`), n("axis1")], [b === 1 ? out : n(`t${i}`)], { keepdims: 1 }),
    );
    terms.push(n(`t${i}`));
  }
  if (b > 1) nodes.push(node("Sum", terms, [out]));
  return { nodes, initializers };
}
