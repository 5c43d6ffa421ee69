/**
 * A link-level oracle for collective time, independent of `collective-cost.ts`: it runs each
 * collective's algorithm step by step on the mesh's links — blocks held by each chip, bytes on
 * every directed link in every step — and checks that every chip ends with what it should.
 *
 * - TPU torus: a chip has a link to each neighbour along each torus dimension, W bytes/s one
 *   way; an axis that wraps is a ring, otherwise a line. AllGather on a ring sends half of each
 *   block each way round (n−1 steps of half-blocks); on a line every block flows out both ways
 *   (n−1 steps). Over several axes, the shard is split between the axis orders (X then Y, Y then
 *   X, …) so all dimensions' links carry traffic at once; the split that balances them is found
 *   by search. ReduceScatter is the AllGather run backwards; AllReduce is the two in turn.
 *   AllToAll routes every block to its owner by the shortest path, dimension by dimension.
 *   The bandwidth time is the busiest link's bytes over W (steps pipeline); the latency is the
 *   hop count of the fastest schedule (blocks both ways on a ring: ⌊n/2⌋ steps).
 * - GPUs: an NVLink switch gives every GPU a port of W each way; the scale-out network gives
 *   each GPU its share of the node's bandwidth. Collectives spanning both run level by level:
 *   across nodes first (each GPU with its peers), then inside the node through the switch;
 *   their latency is a ring along each axis in turn (n−1 steps each, as NCCL's rings).
 */
export interface SimAxis {
  readonly size: number;
  readonly wraps: boolean;
  /** Bytes/s one way per link (ICI), per port (NVLink), or per GPU (scale-out). */
  readonly bandwidth: number;
  readonly link: "ici" | "nvlink" | "scale-out" | "pcie";
}

export type SimCollective = "all_gather" | "reduce_scatter" | "all_reduce" | "all_to_all";

export interface SimResult {
  /** Seconds when bandwidth binds: each phase's busiest link, phases in turn. */
  readonly bandwidthS: number;
  /** Hops of the latency-optimal schedule. */
  readonly hops: number;
}

/** One ring or line of n chips: the bytes its busiest directed link carries over the run. */
interface RingRun {
  readonly busiest: number;
}

/**
 * AllGather of one block of `block` bytes per chip on a ring (wraps) or a line, simulated:
 * returns the busiest link's bytes, and checks that every chip ends with every block.
 */
function gatherRing(n: number, wraps: boolean, block: number): RingRun {
  if (n === 1) return { busiest: 0 };
  // have[c] = set of pieces chip c holds; a piece is `origin:half`.
  const have = Array.from({ length: n }, () => new Set<string>());
  const load = new Map<string, number>(); // directed link "a>b" → bytes over the run
  const send = (from: number, to: number, piece: string, bytes: number) => {
    have[to]!.add(piece);
    const k = `${from}>${to}`;
    load.set(k, (load.get(k) ?? 0) + bytes);
  };
  if (wraps) {
    // Half of each block each way round; each step forwards what arrived in the last one.
    for (let c = 0; c < n; c++) {
      have[c]!.add(`${c}:0`);
      have[c]!.add(`${c}:1`);
    }
    let cw = Array.from({ length: n }, (_, c) => c); // origin of the half each chip forwards
    let ccw = Array.from({ length: n }, (_, c) => c);
    for (let t = 0; t < n - 1; t++) {
      const nextCw = new Array<number>(n);
      const nextCcw = new Array<number>(n);
      for (let c = 0; c < n; c++) {
        const right = (c + 1) % n;
        const left = (c - 1 + n) % n;
        send(c, right, `${cw[c]}:0`, block / 2);
        nextCw[right] = cw[c]!;
        send(c, left, `${ccw[c]}:1`, block / 2);
        nextCcw[left] = ccw[c]!;
      }
      cw = nextCw;
      ccw = nextCcw;
    }
  } else {
    // Every block flows out both ways along the line, one hop a step.
    for (let c = 0; c < n; c++) {
      have[c]!.add(`${c}:0`);
      have[c]!.add(`${c}:1`);
    }
    for (let t = 1; t < n; t++) {
      for (let c = 0; c < n - 1; c++) {
        // Rightward, chip c forwards the block that started t−1 hops to its left.
        const origin = c - (t - 1);
        if (origin >= 0) {
          send(c, c + 1, `${origin}:0`, block / 2);
          send(c, c + 1, `${origin}:1`, block / 2);
        }
      }
      for (let c = n - 1; c > 0; c--) {
        const origin = c + (t - 1);
        if (origin < n) {
          send(c, c - 1, `${origin}:0`, block / 2);
          send(c, c - 1, `${origin}:1`, block / 2);
        }
      }
    }
  }
  for (let c = 0; c < n; c++) {
    if (have[c]!.size !== 2 * n)
      throw new Error(`chip ${c} of ${n} ended with ${have[c]!.size / 2} blocks`);
  }
  return { busiest: Math.max(...load.values()) };
}

/** Hops of the latency-optimal AllGather: whole blocks both ways, until every chip has all. */
function gatherHops(n: number, wraps: boolean): number {
  if (n === 1) return 0;
  const have = Array.from({ length: n }, (_, c) => new Set([c]));
  let steps = 0;
  while (have.some((h) => h.size < n)) {
    const before = have.map((h) => new Set(h));
    for (let c = 0; c < n; c++) {
      for (const d of [c - 1, c + 1]) {
        const to = wraps ? (d + n) % n : d;
        if (to < 0 || to >= n) continue;
        for (const b of before[c]!) have[to]!.add(b);
      }
    }
    steps++;
  }
  return steps;
}

/** Every split of `total` grid units among k parts. */
function* compositions(k: number, total: number): Generator<number[]> {
  if (k === 1) {
    yield [total];
    return;
  }
  for (let i = 0; i <= total; i++) {
    for (const rest of compositions(k - 1, total - i)) yield [i, ...rest];
  }
}

/**
 * The smallest value of f over splits of 1 into k parts: a grid, then a pattern search around
 * the best point (moving share between two parts, halving the step) to well below 0.1%.
 */
function minimiseOverSplits(k: number, f: (split: readonly number[]) => number): number {
  const grid = k === 1 ? 1 : k === 2 ? 200 : 60;
  let best: number[] = [];
  let value = Number.POSITIVE_INFINITY;
  for (const c of compositions(k, grid)) {
    const split = c.map((x) => x / grid);
    const v = f(split);
    if (v < value) {
      value = v;
      best = split;
    }
  }
  for (let step = 1 / grid; step > 1e-7; step /= 2) {
    let improved = true;
    while (improved) {
      improved = false;
      for (let a = 0; a < k; a++) {
        for (let b = 0; b < k; b++) {
          if (a === b || best[b]! < step) continue;
          const next = [...best];
          next[a]! += step;
          next[b]! -= step;
          const v = f(next);
          if (v < value - 1e-18) {
            value = v;
            best = next;
            improved = true;
          }
        }
      }
    }
  }
  return value;
}

/**
 * AllGather over torus axes, each shard `shard` bytes: the shard split among the k cyclic
 * axis orders; each order gathers axis by axis, its data growing by each axis's size. Links
 * of different axes carry their orders' traffic at once, so the time is the busiest axis's
 * load over its link bandwidth, minimised over the split.
 */
function gatherTorus(axes: readonly SimAxis[], shard: number): SimResult {
  const k = axes.length;
  // unit[j][d]: busiest-link bytes on axis d when order j gathers a shard of 1 byte.
  const orders = axes.map((_, j) => axes.map((__, i) => (i + j) % k));
  const unit = orders.map((order) => {
    const perAxis = new Array<number>(k).fill(0);
    let held = 1;
    for (const d of order) {
      const a = axes[d]!;
      perAxis[d] = gatherRing(a.size, a.wraps, held).busiest;
      held *= a.size;
    }
    return perAxis;
  });
  const best = minimiseOverSplits(k, (split) => {
    let worst = 0;
    for (let d = 0; d < k; d++) {
      let bytes = 0;
      for (let j = 0; j < k; j++) bytes += split[j]! * unit[j]![d]! * shard;
      worst = Math.max(worst, bytes / axes[d]!.bandwidth);
    }
    return worst;
  });
  const hops = axes.reduce((h, a) => h + gatherHops(a.size, a.wraps), 0);
  return { bandwidthS: best, hops };
}

/** AllToAll over torus axes: every block to its owner by the shortest path, axis by axis. */
function allToAllTorus(axes: readonly SimAxis[], local: number): SimResult {
  const n = axes.reduce((k, a) => k * a.size, 1);
  const coords = (c: number) => {
    const out: number[] = [];
    for (let i = axes.length - 1; i >= 0; i--) {
      out[i] = c % axes[i]!.size;
      c = Math.floor(c / axes[i]!.size);
    }
    return out;
  };
  const block = local / n;
  const load = new Map<string, number>();
  const hopOnce = (at: number[], d: number, dir: 1 | -1, bytes: number) => {
    const a = axes[d]!;
    const from = at.join(",");
    at[d] = (at[d]! + dir + a.size) % a.size;
    const k = `${from}>${at.join(",")}@${d}`;
    load.set(k, (load.get(k) ?? 0) + bytes);
  };
  let hops = 0;
  for (let s = 0; s < n; s++) {
    for (let t = 0; t < n; t++) {
      if (s === t) continue;
      const src = coords(s);
      const dst = coords(t);
      // Each way the block may split (a tie on a ring: half each way) is routed.
      let routes: { at: number[]; bytes: number }[] = [{ at: [...src], bytes: block }];
      let pathHops = 0;
      for (let d = 0; d < axes.length; d++) {
        const a = axes[d]!;
        const fwd = (dst[d]! - src[d]! + a.size) % a.size;
        if (fwd === 0) continue;
        const back = a.size - fwd;
        const ways: [1 | -1, number, number][] = !a.wraps
          ? [[dst[d]! > src[d]! ? 1 : -1, Math.abs(dst[d]! - src[d]!), 1]]
          : fwd < back
            ? [[1, fwd, 1]]
            : back < fwd
              ? [[-1, back, 1]]
              : [
                  [1, fwd, 0.5],
                  [-1, back, 0.5],
                ];
        pathHops += Math.min(...ways.map((w) => w[1]));
        routes = routes.flatMap((r) =>
          ways.map(([dir, len, share]) => {
            const at = [...r.at];
            for (let h = 0; h < len; h++) hopOnce(at, d, dir, r.bytes * share);
            return { at, bytes: r.bytes * share };
          }),
        );
      }
      for (const r of routes) {
        if (r.at.join(",") !== dst.join(",")) throw new Error("a block missed its owner");
      }
      hops = Math.max(hops, pathHops);
    }
  }
  let busiest = 0;
  for (const [k, bytes] of load) {
    const d = Number(k.split("@")[1]);
    busiest = Math.max(busiest, bytes / axes[d]!.bandwidth);
  }
  return { bandwidthS: busiest, hops };
}

/**
 * GPUs, level by level: the network axes first (each GPU exchanges with its peers in other
 * nodes, through its share of the node's bandwidth, as a ring), then the NVLink axes through the
 * switch (each GPU's port sends to every other GPU of the node).
 */
function gpuLevels(collective: SimCollective, axes: readonly SimAxis[], bytes: number): SimResult {
  const net = axes.filter((a) => a.link === "scale-out");
  const local = axes.filter((a) => a.link !== "scale-out");
  const nNet = net.reduce((k, a) => k * a.size, 1);
  const nLocal = local.reduce((k, a) => k * a.size, 1);
  const wNet = Math.min(...net.map((a) => a.bandwidth));
  const wLocal = Math.min(...local.map((a) => a.bandwidth));
  const n = nNet * nLocal;
  // The latency-optimal schedule: a ring along each axis in turn, n−1 steps each.
  const ringHops = axes.reduce((h, a) => h + a.size - 1, 0);
  // Switch: the port of each GPU carries what it sends; the phase takes its busiest port.
  const switchPhase = (perPeer: number, peers: number) => (peers * perPeer) / wLocal;
  const netRing = (perPeer: number, peers: number) => (peers * perPeer) / wNet;
  let t = 0;
  if (collective === "all_to_all") {
    // bytes = a GPU's whole array; a block of bytes/n to each other GPU.
    const block = bytes / n;
    if (nNet > 1) t += netRing(block * nLocal, nNet - 1);
    if (nLocal > 1) t += switchPhase(block, nLocal - 1);
    return { bandwidthS: t, hops: ringHops };
  }
  // AllGather of a shard of `bytes`: across nodes (nNet−1 blocks), then inside the node, each
  // GPU now holding nNet blocks, to its nLocal−1 peers.
  const gather = (shard: number) =>
    (nNet > 1 ? netRing(shard, nNet - 1) : 0) +
    (nLocal > 1 ? switchPhase(nNet * shard, nLocal - 1) : 0);
  const once = ringHops;
  if (collective === "all_gather" || collective === "reduce_scatter") {
    return { bandwidthS: gather(bytes), hops: once };
  }
  return { bandwidthS: 2 * gather(bytes / n), hops: 2 * once };
}

/**
 * Simulates `collective` over `axes`. `bytes`: the shard each chip holds for an AllGather, the
 * shard each ends with for a ReduceScatter, the whole array each holds for an AllReduce or an
 * AllToAll.
 */
export function simulateCollective(
  collective: SimCollective,
  axes: readonly SimAxis[],
  bytes: number,
): SimResult {
  if (axes.some((a) => a.link !== "ici")) return gpuLevels(collective, axes, bytes);
  const n = axes.reduce((k, a) => k * a.size, 1);
  if (n === 1) return { bandwidthS: 0, hops: 0 };
  switch (collective) {
    case "all_gather":
    case "reduce_scatter":
      return gatherTorus(axes, bytes);
    case "all_reduce": {
      const g = gatherTorus(axes, bytes / n);
      return { bandwidthS: 2 * g.bandwidthS, hops: 2 * g.hops };
    }
    case "all_to_all":
      return allToAllTorus(axes, bytes);
  }
}
