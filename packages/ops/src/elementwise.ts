import { bind1, type DType, Primitive, type Tracer } from "@shardcost/core";

type Operand = Tracer | number;

/**
 * Params objects are shared between equations that take the same ones (never changed after
 * binding), so lowering can remember its decision for a repeated op (see `lower`).
 */
const NO_PARAMS = Object.freeze({});
const castParams = new Map<DType, { readonly dtype: DType }>();
const reduceParams = new Map<string, { readonly dims: readonly string[] }>();

function castTo(dtype: DType): { readonly dtype: DType } {
  let p = castParams.get(dtype);
  if (p === undefined) {
    p = Object.freeze({ dtype });
    castParams.set(dtype, p);
  }
  return p;
}

function reduceOver(dims: string | readonly string[]): { readonly dims: readonly string[] } {
  if (typeof dims !== "string") return { dims };
  let p = reduceParams.get(dims);
  if (p === undefined) {
    p = Object.freeze({ dims: [dims] });
    reduceParams.set(dims, p);
  }
  return p;
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
