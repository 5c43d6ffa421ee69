import {
  avalBytes,
  type CollectiveCost,
  type CollectiveCostFn,
  type Eqn,
  type Estimate,
  estimate,
  Primitive,
  type Program,
  type SizeContext,
} from "@shardcost/core";
import type { Mesh, MeshAxis } from "./mesh.js";
import { localSizes } from "./sizes.js";

/**
 * The book's collective model (How to Scale Your Model, "sharding" and "tpus"; shared
 * reference/formulas.md). n chips on the collective's axes, s = one chip's shard:
 * - bytes each chip sends: AllGather (n−1)·s_in; ReduceScatter (n−1)·s_out (each chip sends
 *   every block but its own); AllReduce 2·(n−1)/n·V (a ReduceScatter then an AllGather);
 *   AllToAll (n−1)/n·V (all blocks but its own);
 * - bandwidth: an ICI axis with wraparound is a bidirectional ring, 2·W_link per chip; without
 *   it, W_link ("(n−1)·(V/n) / W_one-way", about 2× slower); over several axes at once the
 *   links of every torus dimension work together, so their bandwidths add (logical axes
 *   folded onto one dimension share it). NVLink: W per GPU through the switch; across nodes
 *   the node's scale-out bandwidth shared by its GPUs; a collective spanning both runs level
 *   by level (`byLevel`);
 * - AllToAll on a bidirectional ring costs a quarter of the AllGather of the same bytes, half
 *   on an axis without wraparound;
 * - latency: a hop costs ≥ 1 µs; a ring of n needs n/2 hops with wraparound, n−1 without;
 *   over several axes the hops add; an AllReduce (ReduceScatter + AllGather) takes twice the
 *   hops. Small collectives are latency-bound:
 *   time = max(bytes / bandwidth, hops · hop latency).
 */
export function collectiveCost(mesh: Mesh): CollectiveCostFn {
  const byName = new Map(mesh.axes.map((a) => [a.name, a]));
  return (eqn: Eqn, sizes: SizeContext): CollectiveCost => {
    const axes = ((eqn.params as { axes?: readonly string[] }).axes ?? []).map(
      (a) => byName.get(a)!,
    );
    const n = axes.reduce((k, a) => k * a.size, 1);
    const input = eqn.inputs[0]!;
    const inBytes = input.kind === "var" ? avalBytes(input.aval, sizes) : 0;
    const outBytes = avalBytes(eqn.outputs[0]!.aval, sizes);
    if (n === 1) return { bytes: 0, timeS: 0, byAxis: {} };
    const bytes = bytesSent(eqn.primitive, n, inBytes, outBytes);
    const ici = axes.every((a) => a.link === "ici");
    const { transferS, byAxis } = ici
      ? onTorus(eqn.primitive, axes, bytes)
      : byLevel(eqn.primitive, axes, n, bytes);
    const ring = axes.reduce((h, a) => h + (a.wraps ? Math.floor(a.size / 2) : a.size - 1), 0);
    // An AllReduce is a ReduceScatter then an AllGather: twice the hops.
    const hops = eqn.primitive === Primitive.AllReduce ? 2 * ring : ring;
    const timeS = Math.max(transferS, hops * mesh.chip.hopLatency);
    return { bytes, timeS, byAxis };
  };
}

export function bytesSent(
  primitive: Primitive,
  n: number,
  inBytes: number,
  outBytes: number,
): number {
  switch (primitive) {
    case Primitive.AllGather:
      return (n - 1) * inBytes;
    case Primitive.ReduceScatter:
      return (n - 1) * outBytes;
    case Primitive.AllReduce:
      return (2 * (n - 1) * inBytes) / n;
    case Primitive.AllToAll:
      return ((n - 1) * inBytes) / n;
    default:
      return 0;
  }
}

/**
 * ICI: the links of every torus dimension the collective spans work at once; logical axes
 * folded onto one dimension share its links. An AllToAll sends each block straight to its
 * owner: a quarter of an AllGather's time on a bidirectional ring, half on a line.
 */
function onTorus(primitive: Primitive, axes: readonly MeshAxis[], bytes: number) {
  const links = new Map<number, number>();
  for (const a of axes) {
    for (const p of a.physical) links.set(p, Math.max(links.get(p) ?? 0, effectiveBandwidth(a)));
  }
  let bandwidth = 0;
  for (const w of links.values()) bandwidth += w;
  const speedup = primitive === Primitive.AllToAll ? (axes.every((a) => a.wraps) ? 4 : 2) : 1;
  // Bytes by axis: each dimension's share of the links, split among the axes on it.
  const byAxis: Record<string, number> = {};
  for (const a of axes) byAxis[a.name] = 0;
  for (const [p, w] of links) {
    const on = axes.filter((a) => a.physical.includes(p));
    for (const a of on) byAxis[a.name]! += (bytes * w) / bandwidth / on.length;
  }
  return { transferS: bytes / (bandwidth * speedup), byAxis };
}

/**
 * GPUs: a collective over NVLink and the scale-out network runs level by level, as NCCL's
 * hierarchical algorithms do. In blocks u = bytes / (n − 1): an AllGather, ReduceScatter or
 * AllReduce sends (n_net − 1)·u across nodes (one block per other node, to its peer GPU) and
 * the rest inside the node; an AllToAll sends every block for another node across.
 */
function byLevel(primitive: Primitive, axes: readonly MeshAxis[], n: number, bytes: number) {
  const net = axes.filter((a) => a.link === "scale-out");
  const local = axes.filter((a) => a.link !== "scale-out");
  const nNet = net.reduce((k, a) => k * a.size, 1);
  const nLocal = n / nNet;
  const unit = bytes / (n - 1);
  const netBytes = primitive === Primitive.AllToAll ? (n - nLocal) * unit : (nNet - 1) * unit;
  const localBytes = bytes - netBytes;
  const slowest = (xs: readonly MeshAxis[]) => Math.min(...xs.map((a) => a.bandwidth));
  const transferS =
    (netBytes > 0 ? netBytes / slowest(net) : 0) +
    (localBytes > 0 ? localBytes / slowest(local) : 0);
  const byAxis: Record<string, number> = {};
  for (const a of net) byAxis[a.name] = netBytes / net.length;
  for (const a of local) byAxis[a.name] = localBytes / local.length;
  return { transferS, byAxis };
}

/** Bytes/s one chip can push along an axis in a collective. */
function effectiveBandwidth(a: MeshAxis): number {
  return a.link === "ici" && a.wraps ? 2 * a.bandwidth : a.bandwidth;
}

/** Per-chip estimate of a lowered program: local shapes, HBM, and ICI for every collective. */
export function estimateSpmd(lowered: Program, mesh: Mesh): Estimate {
  return estimate(lowered, mesh.chip, {
    sizes: localSizes(lowered, mesh),
    collectives: collectiveCost(mesh),
  });
}
