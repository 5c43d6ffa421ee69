import type { Aval, ParamsOf } from "@shardcost/core";
import { Primitive } from "@shardcost/core";

/** The sharding a value must have somewhere: axes per dim (by name) and pending partial sums. */
export interface Target {
  readonly axes: ReadonlyMap<string, readonly string[]>;
  readonly partial: readonly string[];
}

export type ReshardStep =
  | { readonly primitive: Primitive.AllGather; readonly params: ParamsOf<Primitive.AllGather> }
  | {
      readonly primitive: Primitive.ReduceScatter;
      readonly params: ParamsOf<Primitive.ReduceScatter>;
    }
  | { readonly primitive: Primitive.AllReduce; readonly params: ParamsOf<Primitive.AllReduce> }
  | { readonly primitive: Primitive.AllToAll; readonly params: ParamsOf<Primitive.AllToAll> }
  | { readonly primitive: Primitive.ShardSlice; readonly params: ParamsOf<Primitive.ShardSlice> };

export function targetOf(aval: Pick<Aval, "dims" | "partial">): Target {
  return { axes: new Map(aval.dims.map((d) => [d.dim, d.axes])), partial: aval.partial };
}

const commonPrefix = (a: readonly string[], b: readonly string[]) => {
  let p = 0;
  while (p < a.length && p < b.length && a[p] === b[p]) p++;
  return p;
};

/**
 * The collectives that turn `cur` into `want` (the sharding chapter's moves):
 * 1. partial sums not wanted: ReduceScatter onto a dim that wants those axes next (with the
 *    other pending axes too when the dim divides, gathered back in step 2), else AllReduce;
 * 2. axes a dim holds but should not: one AllToAll when they move, in order, to a dim that
 *    wants them next, else AllGather;
 * 3. axes a dim should gain: each device keeps its block (free).
 * AllGathers of several dims in a row are one collective over all their axes (the book's
 * `[B_X, D_Y] → [B, D]` as AllGather_XY), so every axis's links carry it at once.
 * Returns null if `want` asks for partial sums `cur` does not have.
 */
export function planReshard(
  cur: Aval,
  want: Target,
  divides: (dim: string, axes: readonly string[]) => boolean = () => false,
): ReshardStep[] | null {
  if (want.partial.some((a) => !cur.partial.includes(a))) return null;
  const steps: ReshardStep[] = [];
  const axes = new Map(cur.dims.map((d) => [d.dim, [...d.axes]]));
  const wantOf = (dim: string) => want.axes.get(dim) ?? [];
  let reduce = cur.partial.filter((a) => !want.partial.includes(a));
  for (const d of cur.dims) {
    const have = axes.get(d.dim)!;
    const target = wantOf(d.dim);
    if (commonPrefix(have, target) !== have.length) continue;
    const next: string[] = [];
    for (const a of target.slice(have.length)) {
      if (!reduce.includes(a)) break;
      next.push(a);
    }
    if (next.length === 0) continue;
    reduce = reduce.filter((a) => !next.includes(a));
    // Partial sums left over for an AllReduce ride along when the dim divides: one
    // ReduceScatter over every axis, the extra ones gathered back below (same bytes, every
    // axis's links at once: `{U_XY} → [B_Y, D]` as ReduceScatter_YX then AllGather_X).
    const ride = reduce.length > 0 && divides(d.dim, [...have, ...next, ...reduce]) ? reduce : [];
    const all = [...next, ...ride];
    steps.push({ primitive: Primitive.ReduceScatter, params: { dim: d.dim, axes: all } });
    have.push(...all);
    reduce = reduce.filter((a) => !ride.includes(a));
  }
  if (reduce.length > 0) steps.push({ primitive: Primitive.AllReduce, params: { axes: reduce } });
  for (const d of cur.dims) {
    const have = axes.get(d.dim)!;
    const p = commonPrefix(have, wantOf(d.dim));
    if (have.length === p) continue;
    const extra = have.slice(p);
    // One AllToAll moves all of `extra` when another dim wants exactly those axes next.
    const moveTo = cur.dims.find((e) => {
      if (e.dim === d.dim) return false;
      const eHave = axes.get(e.dim)!;
      const eWant = wantOf(e.dim);
      if (commonPrefix(eHave, eWant) !== eHave.length) return false;
      return extra.every((a, i) => eWant[eHave.length + i] === a);
    });
    if (moveTo) {
      steps.push({
        primitive: Primitive.AllToAll,
        params: { from: d.dim, to: moveTo.dim, axes: extra },
      });
      axes.get(moveTo.dim)!.push(...extra);
    } else {
      steps.push({ primitive: Primitive.AllGather, params: { dim: d.dim, axes: extra } });
    }
    have.length = p;
  }
  for (const d of cur.dims) {
    const have = axes.get(d.dim)!;
    const target = wantOf(d.dim);
    if (target.length > have.length) {
      steps.push({
        primitive: Primitive.ShardSlice,
        params: { dim: d.dim, axes: target.slice(have.length) },
      });
    }
  }
  return mergeGathers(steps);
}

/** Adjacent AllGathers of different dims become one over the union of their axes. */
function mergeGathers(steps: readonly ReshardStep[]): ReshardStep[] {
  const out: ReshardStep[] = [];
  for (const s of steps) {
    const last = out[out.length - 1];
    if (s.primitive === Primitive.AllGather && last?.primitive === Primitive.AllGather) {
      const parts = [...(last.params.parts ?? [last.params]), s.params].map(({ dim, axes }) => ({
        dim,
        axes,
      }));
      out[out.length - 1] = {
        primitive: Primitive.AllGather,
        params: { dim: parts[0]!.dim, axes: parts.flatMap((p) => p.axes), parts },
      };
    } else out.push(s);
  }
  return out;
}
