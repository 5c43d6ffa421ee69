import { ShardcostError } from "./errors.js";
import type { EqnOf } from "./ir.js";
import {
  forEachIndex,
  layout,
  type NDArray,
  ndarray,
  sizeAlong,
  stridesAlong,
  stridesOf,
} from "./ndarray.js";
import { type BinaryPrimitive, Primitive, type UnaryPrimitive } from "./primitives.js";

/** A runtime operand: an array, or the number of a literal. */
export type Operand = NDArray | number;

/** The dims and shape a result must have (global, or one device's shard). */
export interface ResultShape {
  readonly dims: readonly string[];
  readonly shape: readonly number[];
}

/** Reference numerics in float64; the interpreter rounds each result to its dtype. */
export type NumericRule<P extends Primitive> = (
  args: readonly Operand[],
  eqn: EqnOf<P>,
  out: readonly ResultShape[],
) => NDArray[];

function arr(x: Operand | undefined): NDArray {
  if (x === undefined || typeof x === "number") throw new TypeError("expected an array operand");
  return x;
}

function scalar(x: Operand | undefined): number {
  if (x === undefined) throw new TypeError("missing scalar operand");
  return typeof x === "number" ? x : x.data[0]!;
}

/** Σ over the dims not in `out` of the product of the operands, broadcast by name. */
export function contract(operands: readonly NDArray[], out: ResultShape): NDArray {
  const contracted: string[] = [];
  const sizes = [...out.shape];
  for (const a of operands) {
    a.dims.forEach((d, i) => {
      if (!out.dims.includes(d) && !contracted.includes(d)) {
        contracted.push(d);
        sizes.push(a.shape[i]!);
      }
    });
  }
  const loop = [...out.dims, ...contracted];
  const result = ndarray(out.dims, out.shape);
  const strides = [...operands.map((a) => stridesAlong(a, loop)), stridesAlong(result, loop)];
  const k = operands.length;
  const datas = operands.map((a) => a.data);
  forEachIndex(sizes, strides, (o) => {
    let p = 1;
    for (let t = 0; t < k; t++) p *= datas[t]![o[t]!]!;
    result.data[o[k]!]! += p;
  });
  return result;
}

function mapUnary(f: (x: number) => number) {
  return ((args, _eqn, out) => {
    const x = layout(arr(args[0]), out[0]!.dims, out[0]!.shape);
    for (let i = 0; i < x.data.length; i++) x.data[i] = f(x.data[i]!);
    return [x];
  }) satisfies NumericRule<UnaryPrimitive>;
}

function mapBinary(f: (a: number, b: number) => number): NumericRule<BinaryPrimitive> {
  return (args, _eqn, out) => {
    const shape = out[0]!;
    const result = ndarray(shape.dims, shape.shape);
    const [a, b] = args;
    const ca = typeof a === "number" ? a : null;
    const cb = typeof b === "number" ? b : null;
    const sa = typeof a === "number" ? shape.dims.map(() => 0) : stridesAlong(a!, shape.dims);
    const sb = typeof b === "number" ? shape.dims.map(() => 0) : stridesAlong(b!, shape.dims);
    const da = typeof a === "number" ? null : a!.data;
    const db = typeof b === "number" ? null : b!.data;
    forEachIndex(shape.shape, [sa, sb, stridesOf(shape.shape)], (o) => {
      result.data[o[2]!] = f(ca ?? da![o[0]!]!, cb ?? db![o[1]!]!);
    });
    return [result];
  };
}

function reduceWith(
  init: number,
  f: (acc: number, x: number) => number,
  finish?: (acc: number, count: number) => number,
): NumericRule<Primitive.ReduceSum | Primitive.ReduceMax | Primitive.ReduceMean> {
  return (args, eqn, out) => {
    const x = arr(args[0]);
    const shape = out[0]!;
    const result = ndarray(shape.dims, shape.shape);
    result.data.fill(init);
    forEachIndex(x.shape, [stridesOf(x.shape), stridesAlong(result, x.dims)], (o) => {
      result.data[o[1]!] = f(result.data[o[1]!]!, x.data[o[0]!]!);
    });
    if (finish) {
      const given = (eqn.params as { count?: number }).count;
      const count = given ?? x.data.length / Math.max(result.data.length, 1);
      for (let i = 0; i < result.data.length; i++) {
        result.data[i] = finish(result.data[i]!, count);
      }
    }
    return [result];
  };
}

function relabel(x: NDArray, out: ResultShape): NDArray {
  return { dims: out.dims, shape: out.shape, data: x.data.slice() };
}

/** Clamp a dynamic start so the window fits, as XLA does. */
function clampStart(start: number, window: number, size: number): number {
  return Math.min(Math.max(Math.trunc(start), 0), size - window);
}

/** Copies `src` into `dst` with `src`'s `dim` landing at `start` of `dst`'s `dstDim`. */
function copyWindow(
  src: NDArray,
  srcDim: string | null,
  dst: NDArray,
  dstDim: string,
  start: number,
) {
  const loopDims = dst.dims.map((d) => (d === dstDim ? (srcDim ?? "") : d));
  const loopShape = dst.shape.map((n, i) =>
    dst.dims[i] === dstDim ? (srcDim === null ? 1 : sizeAlong(src, srcDim)) : n,
  );
  const dstStrides = stridesOf(dst.shape);
  const base = start * dstStrides[dst.dims.indexOf(dstDim)]!;
  forEachIndex(loopShape, [stridesAlong(src, loopDims), dstStrides], (o) => {
    dst.data[base + o[1]!] = src.data[o[0]!]!;
  });
}

/** Collectives and shard slices need a device's place in the mesh: `simulate` runs them. */
function onDevices(_args: readonly Operand[], eqn: EqnOf<Primitive>): NDArray[] {
  throw new ShardcostError(
    "input",
    `${eqn.primitive} moves data between devices; run lowered programs with simulate()`,
  );
}

const gelu = (x: number) =>
  0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

export const numericRules: { readonly [P in Primitive]: NumericRule<P> } = {
  [Primitive.Einsum]: (args, _eqn, out) => [contract(args.map(arr), out[0]!)],
  [Primitive.Exp]: mapUnary(Math.exp),
  [Primitive.Log]: mapUnary(Math.log),
  [Primitive.Tanh]: mapUnary(Math.tanh),
  [Primitive.Rsqrt]: mapUnary((x) => 1 / Math.sqrt(x)),
  [Primitive.Neg]: mapUnary((x) => -x),
  [Primitive.Silu]: mapUnary((x) => x / (1 + Math.exp(-x))),
  [Primitive.Gelu]: mapUnary(gelu),
  [Primitive.Cast]: (args, _eqn, out) => [relabel(arr(args[0]), out[0]!)],
  [Primitive.Add]: mapBinary((a, b) => a + b),
  [Primitive.Sub]: mapBinary((a, b) => a - b),
  [Primitive.Mul]: mapBinary((a, b) => a * b),
  [Primitive.Div]: mapBinary((a, b) => a / b),
  [Primitive.Max]: mapBinary(Math.max),
  [Primitive.ReduceSum]: reduceWith(0, (a, x) => a + x),
  [Primitive.ReduceMax]: reduceWith(-Infinity, Math.max),
  [Primitive.ReduceMean]: reduceWith(
    0,
    (a, x) => a + x,
    (a, n) => a / n,
  ),
  [Primitive.Gather]: (args, eqn, out) => {
    const table = arr(args[0]);
    const ids = arr(args[1]);
    const rows = table.dims.filter((d) => d !== eqn.params.dim);
    const rowShape = rows.map((d) => sizeAlong(table, d));
    const byRow = layout(
      table,
      [eqn.params.dim, ...rows],
      [sizeAlong(table, eqn.params.dim), ...rowShape],
    );
    const width = rowShape.reduce((a, b) => a * b, 1);
    const n = sizeAlong(table, eqn.params.dim);
    const result = ndarray(out[0]!.dims, out[0]!.shape);
    // Ids outside the table read zeros (jnp.take with mode="fill"), as a vocab-sharded
    // table's devices do for the ids they don't hold.
    for (let i = 0; i < ids.data.length; i++) {
      const row = Math.trunc(ids.data[i]!);
      if (row < 0 || row >= n) continue;
      result.data.set(byRow.data.subarray(row * width, (row + 1) * width), i * width);
    }
    return [result];
  },
  [Primitive.DynamicSlice]: (args, eqn, out) => {
    const x = arr(args[0]);
    const { dim, outDim } = eqn.params;
    const shape = out[0]!;
    const window = outDim === null ? 1 : sizeAlong(shape, outDim);
    const start = clampStart(scalar(args[1]), window, sizeAlong(x, dim));
    // Read the window by copying x's window into a buffer laid out like x, then relabel.
    const loopDims = x.dims.map((d) => (d === dim ? (outDim ?? dim) : d));
    const loopShape = x.shape.map((s, i) => (x.dims[i] === dim ? window : s));
    const srcStrides = stridesOf(x.shape);
    const base = start * srcStrides[x.dims.indexOf(dim)]!;
    const buf = ndarray(loopDims, loopShape);
    forEachIndex(loopShape, [srcStrides, stridesOf(loopShape)], (o) => {
      buf.data[o[1]!] = x.data[base + o[0]!]!;
    });
    return [{ dims: shape.dims, shape: shape.shape, data: buf.data }];
  },
  [Primitive.DynamicUpdateSlice]: (args, eqn, out) => {
    const x = arr(args[0]);
    const u = arr(args[1]);
    const { dim, updateDim } = eqn.params;
    const window = updateDim === null ? 1 : sizeAlong(u, updateDim);
    const start = clampStart(scalar(args[2]), window, sizeAlong(x, dim));
    const result = relabel(x, out[0]!);
    copyWindow(u, updateDim, result, dim, start);
    return [result];
  },
  [Primitive.Rename]: (args, _eqn, out) => [relabel(arr(args[0]), out[0]!)],
  [Primitive.Split]: (args, _eqn, out) => [relabel(arr(args[0]), out[0]!)],
  [Primitive.Merge]: (args, _eqn, out) => [relabel(arr(args[0]), out[0]!)],
  [Primitive.Concatenate]: (args, eqn, out) => {
    const result = ndarray(out[0]!.dims, out[0]!.shape);
    let start = 0;
    args.forEach((a, i) => {
      const x = arr(a);
      const d = eqn.params.inputDims[i]!;
      copyWindow(x, d, result, eqn.params.dim, start);
      start += sizeAlong(x, d);
    });
    return [result];
  },
  [Primitive.FlashAttention]: (args, eqn, out) => {
    const [q, k, v] = [arr(args[0]), arr(args[1]), arr(args[2])];
    const { key, head, scale } = eqn.params;
    const scoreDims = [...q.dims.filter((d) => d !== head), key];
    const scoreShape = scoreDims.map((d) => sizeAlong(d === key ? k : q, d));
    const s = contract([q, k], { dims: scoreDims, shape: scoreShape });
    const width = sizeAlong(k, key);
    const rows = s.data.length / Math.max(width, 1);
    const lse = eqn.params.stats ? ndarray(out[1]!.dims, out[1]!.shape) : undefined;
    for (let r = 0; r < rows; r++) {
      const row = r * width;
      let m = -Infinity;
      for (let j = 0; j < width; j++) m = Math.max(m, s.data[row + j]! * scale);
      let total = 0;
      for (let j = 0; j < width; j++) {
        const e = Math.exp(s.data[row + j]! * scale - m);
        s.data[row + j] = e;
        total += e;
      }
      for (let j = 0; j < width; j++) s.data[row + j]! /= total;
      // Score rows run over q's dims without the head, in q's order: lse's own layout.
      if (lse) lse.data[r] = m + Math.log(total);
    }
    const o = contract([s, v], out[0]!);
    return lse ? [o, lse] : [o];
  },
  [Primitive.Shard]: (args, _eqn, out) => [relabel(arr(args[0]), out[0]!)],
  [Primitive.AllGather]: onDevices,
  [Primitive.ReduceScatter]: onDevices,
  [Primitive.AllReduce]: onDevices,
  [Primitive.AllToAll]: onDevices,
  [Primitive.ShardSlice]: onDevices,
};
