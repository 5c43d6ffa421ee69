import {
  bind1,
  callerLocation,
  checkSharding,
  NotationError,
  OpError,
  Primitive,
  parseSharding,
  type Sharding,
  type Tracer,
} from "@shardcost/core";
import { sharedParams } from "./params.js";

/** Embedding lookup: rows of `table` along `dim` picked by int32 `ids`. */
export const gather = (table: Tracer, ids: Tracer, dim: string) =>
  bind1(
    Primitive.Gather,
    [table, ids],
    sharedParams("gather", [dim], () => ({ dim })),
  );

/** The window of a dynamic slice: its dim's name and size, or one position (the dim dropped). */
export interface SliceOptions {
  /** Name and size of the window's dim; omit to take one position and drop `dim`. */
  readonly as?: { readonly dim: string; readonly size: number };
}

/** `x` along `dim` from a dynamic `start` (clamped so the window fits, as in XLA). */
export function dynamicSlice(
  x: Tracer,
  dim: string,
  start: Tracer | number,
  options: SliceOptions = {},
): Tracer {
  const as = options.as;
  const outDim = as ? as.dim : null;
  return bind1(
    Primitive.DynamicSlice,
    [x, start],
    sharedParams("slice", [dim, outDim], () => ({ dim, outDim })),
    as ? { [as.dim]: as.size } : undefined,
  );
}

/**
 * Writes `update` into `x` along `dim` at `start`, in place (a KV-cache write costs only the
 * update). `updateDim` names the update's dim laid along `dim`; omit it for one position.
 */
export function dynamicUpdateSlice(
  x: Tracer,
  update: Tracer,
  dim: string,
  start: Tracer | number,
  updateDim?: string,
): Tracer {
  const along = updateDim ?? null;
  return bind1(
    Primitive.DynamicUpdateSlice,
    [x, update, start],
    sharedParams("update", [dim, along], () => ({ dim, updateDim: along })),
  );
}

/** Renames a dim (free): `rename(x, "S", "T")`. */
export const rename = (x: Tracer, from: string, to: string) =>
  bind1(
    Primitive.Rename,
    [x],
    sharedParams("rename", [from, to], () => ({ from, to })),
    x?.var && x.dims.includes(from) ? { [to]: x.size(from) } : undefined,
  );

/** Splits `dim` into new dims, row-major: `split(q, "N", { K: 8, G: 8 })`. */
export const split = (x: Tracer, dim: string, into: Readonly<Record<string, number>>) =>
  bind1(
    Primitive.Split,
    [x],
    sharedParams("split", [dim, Object.keys(into)], () => ({
      dim,
      into: Object.keys(into),
    })),
    into,
  );

/** Merges adjacent `dims` into `into` (sized as their product), row-major. */
export function merge(x: Tracer, dims: readonly string[], into: string): Tracer {
  const size = x?.var ? dims.reduce((n, d) => n * (x.dims.includes(d) ? x.size(d) : 1), 1) : 1;
  return bind1(
    Primitive.Merge,
    [x],
    sharedParams("merge", [dims, into], () => ({
      dims: Array.isArray(dims) ? [...dims] : dims,
      into,
    })),
    { [into]: size },
  );
}

/** Joins `xs` along `dim`; each operand lays its `inputDims[i]` (default `dim`) along it. */
export function concatenate(
  xs: readonly Tracer[],
  dim: string,
  inputDims: readonly string[] = xs.map(() => dim),
): Tracer {
  return bind1(
    Primitive.Concatenate,
    xs,
    sharedParams("concat", [dim, inputDims], () => ({
      inputDims: Array.isArray(inputDims) ? [...inputDims] : inputDims,
      dim,
    })),
  );
}

/**
 * A sharding constraint, like `jax.lax.with_sharding_constraint`: `shard(h, "[B, F_YZ]")`, or
 * with the sharding as data.
 */
export function shard(x: Tracer, spec: string | Sharding): Tracer {
  let sharding: Sharding;
  try {
    sharding = typeof spec === "string" ? parseSharding(spec) : checkSharding(spec);
  } catch (e) {
    if (!(e instanceof NotationError)) throw e;
    const what = x?.var ? ` of ${x}` : "";
    throw new OpError(e.code, "shard", `constraint${what}: ${e.message}`, callerLocation());
  }
  return bind1(Primitive.Shard, [x], { sharding });
}
