import {
  avalBytes,
  type CollectiveCost,
  type CollectiveCostFn,
  type CollectivePrimitive,
  type CollectiveTable,
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
 * - AllToAll: each block goes to one owner by the shortest path, so the busiest link carries
 *   V·⌊a²/4⌋/a per ring of a (both ways with wraparound): about a quarter of the AllGather of
 *   the whole array on a bidirectional ring, half on a line (`allToAllSecondsPerByte`);
 * - latency: a hop costs ≥ 1 µs; a ring of n needs n/2 hops with wraparound, n−1 without;
 *   over several axes the hops add; an AllReduce (ReduceScatter + AllGather) takes twice the
 *   hops. Small collectives are latency-bound:
 *   time = max(bytes / bandwidth, hops · hop latency).
 */
export function collectiveCost(mesh: Mesh): CollectiveCostFn {
  let fn = costFns.get(mesh);
  if (!fn) {
    fn = collectiveCostFor(mesh);
    costFns.set(mesh, fn);
  }
  return fn;
}

const costFns = new WeakMap<Mesh, CollectiveCostFn>();

function collectiveCostFor(mesh: Mesh): CollectiveCostFn {
  const byName = new Map(mesh.axes.map((a) => [a.name, a]));
  // Per primitive and axes: everything but the bytes (time and split are linear in them).
  const links = new Map<string, Links>();
  return (eqn: Eqn, sizes: SizeContext): CollectiveCost => {
    const names = (eqn.params as { axes?: readonly string[] }).axes ?? [];
    const key = `${eqn.primitive}|${names.join("")}`;
    let l = links.get(key);
    if (l === undefined) {
      l = linksOf(
        collectiveRules[eqn.primitive as CollectivePrimitive],
        names.map((a) => byName.get(a)!),
        mesh.chip.hopLatency,
      );
      links.set(key, l);
    }
    if (l.n === 1) return { bytes: 0, timeS: 0, byAxis: {}, secondsPerByte: 0, latencyS: 0 };
    const input = eqn.inputs[0]!;
    const inBytes = input.kind === "var" ? avalBytes(input.aval, sizes) : 0;
    const outBytes = avalBytes(eqn.outputs[0]!.aval, sizes);
    const bytes = collectiveRules[eqn.primitive as CollectivePrimitive].bytesSent(
      l.n,
      inBytes,
      outBytes,
    );
    const byAxis: Record<string, number> = {};
    for (const [name, share] of l.shares) byAxis[name] = bytes * share;
    return {
      bytes,
      timeS: Math.max(bytes * l.secondsPerByte, l.latencyS),
      byAxis,
      secondsPerByte: l.secondsPerByte,
      latencyS: l.latencyS,
    };
  };
}

/** How a collective over some axes moves its bytes: seconds a byte, latency, share by axis. */
interface Links {
  readonly n: number;
  readonly secondsPerByte: number;
  readonly latencyS: number;
  readonly shares: readonly (readonly [string, number])[];
}

function linksOf(rule: CollectiveRule, axes: readonly MeshAxis[], hopLatency: number): Links {
  const n = axes.reduce((k, a) => k * a.size, 1);
  const ici = axes.every((a) => a.link === "ici");
  const { secondsPerByte, shares } = ici ? onTorus(rule, axes) : byLevel(rule, axes, n);
  const ring = axes.reduce((h, a) => h + (a.wraps ? Math.floor(a.size / 2) : a.size - 1), 0);
  return { n, secondsPerByte, latencyS: rule.passes * ring * hopLatency, shares };
}

/** How one collective moves its bytes: the facts its cost needs, one entry per collective. */
export interface CollectiveRule {
  /** Bytes each chip sends, given n chips and one chip's input and output bytes. */
  readonly bytesSent: (n: number, inBytes: number, outBytes: number) => number;
  /** Ring traversals it needs (each costs the ring's hops of latency). */
  readonly passes: number;
  /**
   * `ring`: blocks pass from neighbour to neighbour, every torus dimension's links at once;
   * `direct`: each block travels straight to its owner by the shortest path
   * (`allToAllSecondsPerByte`).
   */
  readonly routing: "ring" | "direct";
  /** The fraction of its blocks that cross between nodes, given n chips and nLocal per node. */
  readonly acrossNodes: (n: number, nLocal: number) => number;
}

/** Blocks for other nodes: one per other node (hierarchical), of n − 1 blocks in all. */
const oneBlockPerNode = (n: number, nLocal: number) => (n / nLocal - 1) / (n - 1);

/** The collective table: a new collective cannot be costed until it has an entry here. */
export const collectiveRules: CollectiveTable<CollectiveRule> = {
  [Primitive.AllGather]: {
    bytesSent: (n, inBytes) => (n - 1) * inBytes,
    passes: 1,
    routing: "ring",
    acrossNodes: oneBlockPerNode,
  },
  [Primitive.ReduceScatter]: {
    bytesSent: (n, _in, outBytes) => (n - 1) * outBytes,
    passes: 1,
    routing: "ring",
    acrossNodes: oneBlockPerNode,
  },
  // A ReduceScatter then an AllGather: twice the hops.
  [Primitive.AllReduce]: {
    bytesSent: (n, inBytes) => (2 * (n - 1) * inBytes) / n,
    passes: 2,
    routing: "ring",
    acrossNodes: oneBlockPerNode,
  },
  // Every block for another node goes across.
  [Primitive.AllToAll]: {
    bytesSent: (n, inBytes) => ((n - 1) * inBytes) / n,
    passes: 1,
    routing: "direct",
    acrossNodes: (n, nLocal) => (n - nLocal) / (n - 1),
  },
};

/**
 * ICI: the links of every torus dimension the collective spans work at once; logical axes
 * folded onto one dimension share its links. An AllToAll sends each block straight to its
 * owner along the shortest path: see `allToAllSecondsPerByte`.
 */
function onTorus(rule: CollectiveRule, axes: readonly MeshAxis[]) {
  const links = new Map<number, number>();
  for (const a of axes) {
    for (const p of a.physical) links.set(p, Math.max(links.get(p) ?? 0, effectiveBandwidth(a)));
  }
  let bandwidth = 0;
  for (const w of links.values()) bandwidth += w;
  // Bytes by axis: each dimension's share of the links, split among the axes on it.
  const share = new Map<string, number>(axes.map((a) => [a.name, 0]));
  for (const [p, w] of links) {
    const on = axes.filter((a) => a.physical.includes(p));
    for (const a of on) share.set(a.name, share.get(a.name)! + w / bandwidth / on.length);
  }
  const secondsPerByte =
    rule.routing === "direct" ? allToAllSecondsPerByte(axes, links) : 1 / bandwidth;
  return { secondsPerByte, shares: [...share] };
}

/**
 * An AllToAll routes each of its n blocks (V/n of a chip's V bytes) to one owner along the
 * shortest path, dimension by dimension, and the dimensions' links work at once. On a ring of
 * a chips the busiest link carries V·⌊a²/4⌋/a bytes per direction of travel: with wraparound
 * blocks go both ways (2W), on a line one way across the middle (W). That is about a/4 of V —
 * a quarter of the AllGather of the whole array, as the book puts it — not the (n−1)/n·V each
 * chip injects: the time per injected byte is the busiest dimension's load over (n−1)/n.
 */
function allToAllSecondsPerByte(axes: readonly MeshAxis[], links: ReadonlyMap<number, number>) {
  const n = axes.reduce((k, a) => k * a.size, 1);
  const load = new Map<number, number>(); // seconds per byte of V on each torus dimension
  for (const a of axes) {
    // An axis over several dimensions spreads its traffic over their links.
    let w = 0;
    for (const p of a.physical) w += links.get(p)!;
    const perByte = Math.floor((a.size * a.size) / 4) / a.size / w;
    for (const p of a.physical) load.set(p, (load.get(p) ?? 0) + perByte);
  }
  const busiest = Math.max(...load.values());
  return busiest / ((n - 1) / n);
}

/**
 * GPUs: a collective over NVLink and the scale-out network runs level by level, as NCCL's
 * hierarchical algorithms do. In blocks u = bytes / (n − 1): an AllGather, ReduceScatter or
 * AllReduce sends (n_net − 1)·u across nodes (one block per other node, to its peer GPU) and
 * the rest inside the node; an AllToAll sends every block for another node across.
 */
function byLevel(rule: CollectiveRule, axes: readonly MeshAxis[], n: number) {
  const net = axes.filter((a) => a.link === "scale-out");
  const local = axes.filter((a) => a.link !== "scale-out");
  const nNet = net.reduce((k, a) => k * a.size, 1);
  const nLocal = n / nNet;
  // The fraction of the bytes that crosses the network.
  const across = n === 1 ? 0 : rule.acrossNodes(n, nLocal);
  const slowest = (xs: readonly MeshAxis[]) => Math.min(...xs.map((a) => a.bandwidth));
  const secondsPerByte =
    (across > 0 ? across / slowest(net) : 0) + (across < 1 ? (1 - across) / slowest(local) : 0);
  const shares: [string, number][] = [
    ...net.map((a): [string, number] => [a.name, across / net.length]),
    ...local.map((a): [string, number] => [a.name, (1 - across) / local.length]),
  ];
  return { secondsPerByte, shares };
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
