import { type DimSharding, dimSharding, type Tracer } from "@shardcost/core";
import type { DimAxes } from "./models/config.js";
import { shard } from "./structural.js";

const NONE: readonly string[] = [];

/**
 * `shard(t, …)` from mesh axes per dim (`{ N: ["X", "Y"] }` → `[B, N_XY, H]`, as data), or `t` itself
 * when no axes are given. Lives outside the model files so the constraint points at the model
 * line that asked for it.
 */
export function constrainAxes(t: Tracer, axes: DimAxes | undefined): Tracer {
  if (!axes) return t;
  const names = t.dims;
  const dims = new Array<DimSharding>(names.length);
  // Interned dim entries: a model constrains thousands of values with a few tables.
  for (let i = 0; i < names.length; i++) dims[i] = dimSharding(names[i]!, axes[names[i]!] ?? NONE);
  return shard(t, { dims, partial: NONE });
}

/** A function constraining a value at a named point, from a table of axes by point. */
export function constraintsFrom<R extends string>(
  table: Readonly<Partial<Record<R, DimAxes>>> | undefined,
): (role: R, t: Tracer) => Tracer {
  return (role, t) => constrainAxes(t, table?.[role]);
}
