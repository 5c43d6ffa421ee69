import type { Tracer } from "@shardcost/core";
import type { DimAxes } from "./models/config.js";
import { shard } from "./structural.js";

/**
 * `shard(t, …)` from mesh axes per dim (`{ N: ["X", "Y"] }` → `[B, N_XY, H]`, as data), or `t` itself
 * when no axes are given. Lives outside the model files so the constraint points at the model
 * line that asked for it.
 */
export function constrainAxes(t: Tracer, axes: DimAxes | undefined): Tracer {
  if (!axes) return t;
  return shard(t, { dims: t.dims.map((dim) => ({ dim, axes: axes[dim] ?? [] })), partial: [] });
}

/** A function constraining a value at a named point, from a table of axes by point. */
export function constraintsFrom<R extends string>(
  table: Readonly<Partial<Record<R, DimAxes>>> | undefined,
): (role: R, t: Tracer) => Tracer {
  return (role, t) => constrainAxes(t, table?.[role]);
}
