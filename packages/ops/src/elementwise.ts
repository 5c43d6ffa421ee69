import { bind1, type DType, Primitive, type Tracer } from "@shardcost/core";

type Operand = Tracer | number;

/** Elementwise e^x. */
export const exp = (x: Tracer) => bind1(Primitive.Exp, [x], {});
/** Elementwise natural logarithm. */
export const log = (x: Tracer) => bind1(Primitive.Log, [x], {});
/** Elementwise tanh. */
export const tanh = (x: Tracer) => bind1(Primitive.Tanh, [x], {});
/** Elementwise 1/√x. */
export const rsqrt = (x: Tracer) => bind1(Primitive.Rsqrt, [x], {});
/** Elementwise −x. */
export const neg = (x: Tracer) => bind1(Primitive.Neg, [x], {});
/** Elementwise x·σ(x) (SiLU, swish). */
export const silu = (x: Tracer) => bind1(Primitive.Silu, [x], {});
/** Elementwise GELU (tanh approximation). */
export const gelu = (x: Tracer) => bind1(Primitive.Gelu, [x], {});

/** Converts to `dtype`; returns `x` itself when it already has it. Fuses into its consumer. */
export function astype(x: Tracer, dtype: DType): Tracer {
  return x?.dtype === dtype ? x : bind1(Primitive.Cast, [x], { dtype });
}

/** Binary ops broadcast by dim name; a number is a scalar of the other operand's dtype. */
export const add = (a: Operand, b: Operand) => bind1(Primitive.Add, [a, b], {});
/** a − b, broadcast by dim name. */
export const sub = (a: Operand, b: Operand) => bind1(Primitive.Sub, [a, b], {});
/** a · b, broadcast by dim name. */
export const mul = (a: Operand, b: Operand) => bind1(Primitive.Mul, [a, b], {});
/** a / b, broadcast by dim name. */
export const div = (a: Operand, b: Operand) => bind1(Primitive.Div, [a, b], {});
/** Elementwise max(a, b) (`max` is the reduction). */
export const maximum = (a: Operand, b: Operand) => bind1(Primitive.Max, [a, b], {});

const dimList = (dims: string | readonly string[]) => (typeof dims === "string" ? [dims] : dims);

/** Sum over the named dims. */
export const sum = (x: Tracer, dims: string | readonly string[]) =>
  bind1(Primitive.ReduceSum, [x], { dims: dimList(dims) });
/** max(a, b), broadcast by dim name. */
export const max = (x: Tracer, dims: string | readonly string[]) =>
  bind1(Primitive.ReduceMax, [x], { dims: dimList(dims) });
/** Mean over the named dims. */
export const mean = (x: Tracer, dims: string | readonly string[]) =>
  bind1(Primitive.ReduceMean, [x], { dims: dimList(dims) });
