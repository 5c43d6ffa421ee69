import { bind1, type DType, Primitive, type Tracer } from "@shardcost/core";
import { sharedParams } from "./params.js";

type Operand = Tracer | number;

/** Every elementwise op takes no params: one shared empty object (see `sharedParams`). */
const NO_PARAMS = Object.freeze({});

const castTo = (dtype: DType) => sharedParams("cast", [dtype], () => ({ dtype }));

function reduceOver(dims: string | readonly string[]): { readonly dims: readonly string[] } {
  const list = typeof dims === "string" ? [dims] : dims;
  return sharedParams("reduce", [list], () => ({
    dims: Array.isArray(list) ? [...list] : list,
  }));
}

/** Elementwise e^x. */
export const exp = (x: Tracer) => bind1(Primitive.Exp, [x], NO_PARAMS);
/** Elementwise natural logarithm. */
export const log = (x: Tracer) => bind1(Primitive.Log, [x], NO_PARAMS);
/** Elementwise tanh. */
export const tanh = (x: Tracer) => bind1(Primitive.Tanh, [x], NO_PARAMS);
/** Elementwise 1/√x. */
export const rsqrt = (x: Tracer) => bind1(Primitive.Rsqrt, [x], NO_PARAMS);
/** Elementwise −x. */
export const neg = (x: Tracer) => bind1(Primitive.Neg, [x], NO_PARAMS);
/** Elementwise x·σ(x) (SiLU, swish). */
export const silu = (x: Tracer) => bind1(Primitive.Silu, [x], NO_PARAMS);
/** Elementwise GELU (tanh approximation). */
export const gelu = (x: Tracer) => bind1(Primitive.Gelu, [x], NO_PARAMS);

/** Converts to `dtype`; returns `x` itself when it already has it. Fuses into its consumer. */
export function astype(x: Tracer, dtype: DType): Tracer {
  return x?.dtype === dtype ? x : bind1(Primitive.Cast, [x], castTo(dtype));
}

/** Binary ops broadcast by dim name; a number is a scalar of the other operand's dtype. */
export const add = (a: Operand, b: Operand) => bind1(Primitive.Add, [a, b], NO_PARAMS);
/** a − b, broadcast by dim name. */
export const sub = (a: Operand, b: Operand) => bind1(Primitive.Sub, [a, b], NO_PARAMS);
/** a · b, broadcast by dim name. */
export const mul = (a: Operand, b: Operand) => bind1(Primitive.Mul, [a, b], NO_PARAMS);
/** a / b, broadcast by dim name. */
export const div = (a: Operand, b: Operand) => bind1(Primitive.Div, [a, b], NO_PARAMS);
/** Elementwise max(a, b) (`max` is the reduction). */
export const maximum = (a: Operand, b: Operand) => bind1(Primitive.Max, [a, b], NO_PARAMS);

/** Sum over the named dims. */
export const sum = (x: Tracer, dims: string | readonly string[]) =>
  bind1(Primitive.ReduceSum, [x], reduceOver(dims));
/** max(a, b), broadcast by dim name. */
export const max = (x: Tracer, dims: string | readonly string[]) =>
  bind1(Primitive.ReduceMax, [x], reduceOver(dims));
/** Mean over the named dims. */
export const mean = (x: Tracer, dims: string | readonly string[]) =>
  bind1(Primitive.ReduceMean, [x], reduceOver(dims));
