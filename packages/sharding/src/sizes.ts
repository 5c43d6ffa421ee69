import {
  type Aval,
  type DimSharding,
  type Program,
  ShardcostError,
  type SizeContext,
} from "@shardcost/core";
import type { Mesh } from "./mesh.js";

export function axisSize(mesh: Mesh, axis: string): number {
  const a = mesh.axes.find((x) => x.name === axis);
  if (!a) throw new ShardcostError("mesh", `mesh has no axis ${axis}`);
  return a.size;
}

/** Product of the sizes of `axes` on `mesh`. */
export function groupSize(mesh: Mesh, axes: readonly string[]): number {
  let n = 1;
  for (const a of axes) n *= axisSize(mesh, a);
  return n;
}

/** Dim sizes as one device holds them: global size over the product of the dim's axes. */
export function localSizes(program: Pick<Program, "dims">, mesh: Mesh): SizeContext {
  const axisSizes: Record<string, number> = {};
  for (const a of mesh.axes) axisSizes[a.name] = a.size;
  const dims = program.dims;
  // Each sharded dim's size, once: an estimate asks for the same few (interned) many times.
  const known = new Map<DimSharding, number>();
  return {
    size(d: DimSharding): number {
      let n = known.get(d);
      if (n === undefined) {
        const axes = d.axes;
        let k = 1;
        for (let i = 0; i < axes.length; i++) k *= axisSizes[axes[i]!]!;
        n = dims[d.dim]! / k;
        known.set(d, n);
      }
      return n;
    },
  };
}

/** Checks a sharding against a mesh: known axes, and dims divisible by their axes' product. */
export function shardingProblem(
  aval: Pick<Aval, "dims" | "partial">,
  dims: Readonly<Record<string, number>>,
  mesh: Mesh,
): string | undefined {
  const missing = (a: string) => !mesh.axes.some((x) => x.name === a);
  const unknown = [...aval.dims.flatMap((d) => d.axes), ...aval.partial].find(missing);
  if (unknown !== undefined) {
    const names = mesh.axes.map((a) => a.name).join(", ");
    return `the mesh has no axis ${unknown} (its axes: ${names || "none"})`;
  }
  for (const d of aval.dims) {
    if (d.axes.length === 0) continue;
    const n = groupSize(mesh, d.axes);
    if (dims[d.dim]! % n !== 0) {
      return (
        `dim ${d.dim}=${dims[d.dim]} is not divisible by its axes ${d.axes.join("")} ` +
        `(${n} devices); pick axes whose sizes divide it`
      );
    }
  }
  return undefined;
}
