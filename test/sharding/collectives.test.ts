/**
 * Collective timings from first principles (How to Scale Your Model, "sharding"; shared
 * reference/formulas.md), measured on lowered programs. v5e: W = 4.5e10 B/s per link one way;
 * an axis of 16 wraps around (bidirectional ring, 2W), shorter axes do not (W).
 */
import { CHIPS, tensor, trace } from "@shardcost/core";
import { einsum, shard } from "@shardcost/ops";
import { estimateSpmd, lower, mesh } from "@shardcost/sharding";
import { assertSpmdEquivalent } from "@shardcost/sharding/testing";
import { describe, expect, it } from "vitest";

const W = CHIPS.v5e.linkBandwidth;
const HOP = CHIPS.v5e.hopLatency;

/** Estimate of resharding x from `from` to `to` on a mesh; returns its one collective. */
function collective(
  shape: Record<string, number>,
  from: string,
  to: string,
  dims: Record<string, number>,
  chip = "v5e",
) {
  const m = mesh(chip, shape);
  const program = trace((x) => shard(x, to), tensor(from, "bf16"), dims);
  const est = estimateSpmd(lower(program, m), m);
  const ops = est.ops.filter((o) => o.iciBytes > 0);
  expect(ops).toHaveLength(1);
  return ops[0]!;
}

describe("collectives on v5e ICI", () => {
  const A = 16 * 4096;
  const Bd = 1024;
  const V = 2 * A * Bd; // bytes of the gathered bf16 array on each chip

  it("AllGather on a 16-long axis (wraparound): (n−1)/n·V / 2W ≈ V / W_bidirectional", () => {
    const op = collective({ X: 16 }, "x[A_X, B]", "[A, B]", { A, B: Bd });
    expect(op.iciBytes).toBe((15 / 16) * V);
    expect(op.iciS).toBeCloseTo(((15 / 16) * V) / (2 * W), 12);
    expect(op.bound).toBe("ici");
  });

  it("AllGather on a 4-long axis (no wraparound): (n−1)·(V/n) / W, about twice as slow per byte", () => {
    const op = collective({ X: 4 }, "x[A_X, B]", "[A, B]", { A, B: Bd });
    expect(op.iciBytes).toBe((3 / 4) * V);
    expect(op.iciS).toBeCloseTo(((3 / 4) * V) / W, 12);
  });

  it("AllReduce costs twice the AllGather of the same array", () => {
    const gather = collective({ X: 16 }, "x[A_X, B]", "[A, B]", { A, B: Bd });
    const reduce = collective({ X: 16 }, "x[A, B]{U_X}", "[A, B]", { A, B: Bd });
    expect(reduce.iciBytes).toBe(2 * (15 / 16) * V);
    expect(reduce.iciS).toBeCloseTo(2 * gather.iciS, 12);
  });

  it("ReduceScatter costs what the AllGather of its result costs", () => {
    const scatter = collective({ X: 16 }, "x[A, B]{U_X}", "[A_X, B]", { A, B: Bd });
    const gather = collective({ X: 16 }, "x[A_X, B]", "[A, B]", { A, B: Bd });
    expect(scatter.iciBytes).toBe(gather.iciBytes);
    expect(scatter.iciS).toBeCloseTo(gather.iciS, 12);
  });

  it("a two-axis AllGather uses the links of both axes at once", () => {
    const op = collective({ X: 4, Y: 4 }, "x[A_XY, B]", "[A, B]", { A, B: Bd });
    expect(op.iciBytes).toBe((15 / 16) * V);
    expect(op.iciS).toBeCloseTo(((15 / 16) * V) / (W + W), 12);
    expect(op.iciByAxis).toEqual({ X: op.iciBytes / 2, Y: op.iciBytes / 2 });
  });

  it("AllToAll on a ring of 16 with wraparound: the busiest link carries 2·V, about ¼ of the AllGather", () => {
    // Each chip sends a block of V/16 to each other chip by the shorter way round (distance 8:
    // half each way). Clockwise block-hops per chip: 1 + … + 7 + 8/2 = 32, spread over 16
    // links: 32 blocks = 2·V per link, at W each way.
    const op = collective({ X: 16 }, "x[A_X, B]", "[A, B_X]", { A, B: Bd });
    const local = V / 16;
    expect(op.label).toMatch(/^AllToAll_X/);
    expect(op.iciBytes).toBe((15 / 16) * local);
    expect(op.iciS).toBeCloseTo((2 * local) / W, 12);
    // The AllGather of the whole array (16 shards of `local`) for comparison: 64/240 of it.
    const gather = collective({ X: 16 }, "x[A_X, B]", "[A, B]", { A, B: Bd });
    expect(op.iciS / gather.iciS).toBeCloseTo(64 / 240, 12);
  });

  it("AllToAll on a line of 4 (no wraparound): the middle link carries 2×2 blocks one way", () => {
    const op = collective({ X: 4 }, "x[A_X, B]", "[A, B_X]", { A, B: Bd });
    const local = V / 4;
    expect(op.iciBytes).toBe((3 / 4) * local);
    // Chips 0 and 1 each send a block of local/4 to chips 2 and 3 across the 1→2 link.
    expect(op.iciS).toBeCloseTo((4 * (local / 4)) / W, 12);
  });

  it("a latency-bound AllReduce takes twice the hops of an AllGather (a ReduceScatter, then one)", () => {
    const gather = collective({ X: 16 }, "x[A_X]", "[A]", { A: 16 });
    const reduce = collective({ X: 16 }, "x[A]{U_X}", "[A]", { A: 16 });
    expect(gather.iciS).toBeCloseTo(8 * HOP, 15);
    expect(reduce.iciS).toBeCloseTo(16 * HOP, 15);
    // And with bandwidth dominant, still twice: AllReduce ≥ 2 × AllGather of the same array.
    const shapes: Record<string, number>[] = [{ X: 4 }, { X: 16 }, { X: 4, Y: 4 }];
    for (const shape of shapes) {
      const axes = Object.keys(shape).join("");
      const g = collective(shape, `x[A_${axes}, B]`, "[A, B]", { A, B: Bd });
      const r = collective(shape, `x[A, B]{U_${axes}}`, "[A, B]", { A, B: Bd });
      expect(r.iciS).toBeGreaterThanOrEqual(2 * g.iciS * (1 - 1e-12));
    }
  });

  it("logical axes folded onto one v5e torus dimension share its links", () => {
    // v5e 2x2x4 is a 4x4 slice: X and Y lie on its first dimension, Z on the second.
    const shape = { X: 2, Y: 2, Z: 4 };
    const shared = collective(shape, "x[A_XY, B]", "[A, B]", { A, B: Bd });
    expect(shared.iciS).toBeCloseTo(((3 / 4) * V) / W, 12);
    const apart = collective(shape, "x[A_YZ, B]", "[A, B]", { A, B: Bd });
    expect(apart.iciS).toBeCloseTo(((7 / 8) * V) / (2 * W), 12);
  });

  it("a tiny AllGather is latency-bound: n/2 hops of 1 µs with wraparound, n−1 without", () => {
    const wrap = collective({ X: 16 }, "x[A_X]", "[A]", { A: 16 });
    expect(wrap.iciBytes).toBe(15 * 2);
    expect(wrap.iciS).toBeCloseTo(8 * HOP, 15);
    const line = collective({ X: 4 }, "x[A_X]", "[A]", { A: 16 });
    expect(line.iciS).toBeCloseTo(3 * HOP, 15);
  });
});

describe("a reshard of several dims is one collective over all their axes", () => {
  // The book's sharding chapter, Q2.2 (SB-21): on a TPU v4 4x4x4, X[B_X, D_Y] → [B, D] with
  // B=1024, D=4096 in bf16 takes V / (W·2 axes) = 8.39 MB / (2 · 9e10) = 46.6 µs. Each chip
  // sends (n−1)/n of V, so the exact time is 15/16 of that, 43.7 µs.
  const dims = { B: 1024, D: 4096 };
  const m = mesh("v4", { X: 4, Y: 4, Z: 4 });
  const time = (from: string, to: string) => {
    const program = trace((x) => shard(x, to), tensor(from, "bf16"), dims);
    const lowered = lower(program, m);
    const est = estimateSpmd(lowered, m);
    const collectives = est.ops.filter((o) => o.iciBytes > 0);
    return { collectives, s: est.totals.iciS };
  };
  it("[B_X, D_Y] → [B, D]: one AllGather_XY, 46.6 µs · 15/16", () => {
    const r = time("x[B_X, D_Y]", "[B, D]");
    expect(r.collectives.map((c) => c.label)).toEqual(["AllGather_XY[B,D]"]);
    const book = (2 * 1024 * 4096) / (2 * 2 * CHIPS.v4.linkBandwidth);
    expect(book * 1e6).toBeCloseTo(46.6, 1);
    expect(Math.abs(r.s - (book * 15) / 16) / ((book * 15) / 16)).toBeLessThan(1e-9);
    // The same as gathering one dim split over both axes.
    expect(r.s).toBeCloseTo(time("x[B_XY, D]", "[B, D]").s, 15);
  });

  it("{U_XY} → [B_X, D_Y]: one ReduceScatter over XY, then an AllToAll over Y", () => {
    const r = time("x[B, D]{U_XY}", "[B_X, D_Y]");
    expect(r.collectives.map((c) => c.label)).toEqual(["ReduceScatter_XY[B]", "AllToAll_Y[B→D]"]);
    const one = time("x[B, D]{U_XY}", "[B_XY, D]").s;
    // The AllToAll: a ring of 4 with wraparound, blocks of 1/4 of a chip's V/16 to distances
    // 1, 2 (half each way) and 3 (= 1 the other way): 2 blocks per link one way, at W.
    const V = 2 * dims.B * dims.D;
    const allToAll = (2 * (V / 16 / 4)) / CHIPS.v4.linkBandwidth;
    expect(r.s).toBeCloseTo(one + allToAll, 12);
    // Scattering X onto B, then Y onto D, would cost more: 3·(V/4)/2W, then the rest.
    expect(r.s).toBeLessThan((3 * (V / 4)) / (2 * CHIPS.v4.linkBandwidth));
  });

  it("{U_XY} → [B_Y, D]: ReduceScatter over both axes, then the extra one gathered back", () => {
    const r = time("x[B, D]{U_XY}", "[B_Y, D]");
    expect(r.collectives.map((c) => c.label)).toEqual(["ReduceScatter_YX[B]", "AllGather_X[B]"]);
    // And numerically: partial sums made by an einsum over a dim split on XY.
    const program = trace(
      (t) => shard(einsum("BJ,JD->BD", t.a, t.w), "[B_Y, D]"),
      { a: tensor("a[B, J_XY]", "f32"), w: tensor("w[J_XY, D]", "f32") },
      { B: 8, J: 8, D: 4 },
    );
    const check = assertSpmdEquivalent(program, mesh("v5e", { X: 2, Y: 2 }));
    expect(check.simulation.collectives.map((c) => c.primitive)).toEqual([
      "reduce_scatter",
      "all_gather",
    ]);
  });

  it("simulated: one AllGather over two dims moves the bytes it is costed at and the right data", () => {
    const program = trace((x) => shard(x, "[B, D]"), tensor("x[B_X, D_Y]", "f32"), {
      B: 8,
      D: 8,
    });
    const check = assertSpmdEquivalent(program, mesh("v5e", { X: 2, Y: 4 }));
    expect(check.simulation.collectives).toHaveLength(1);
  });
});

describe("collectives on GPUs", () => {
  it("an AllGather inside an 8-GPU H100 node runs at NVLink speed: V·(n−1)/(n·W)", () => {
    const op = collective({ X: 8 }, "x[A_X, B]", "[A, B]", { A: 8 * 4096, B: 1024 }, "h100");
    const V = 2 * 8 * 4096 * 1024;
    expect(op.iciS).toBeCloseTo((V * 7) / (8 * CHIPS.h100.linkBandwidth), 12);
  });

  it("over NVLink and the network it runs level by level: one block per other node crosses", () => {
    const op = collective(
      { X: 2, Y: 8 },
      "x[A_XY, B]",
      "[A, B]",
      { A: 16 * 4096, B: 1024 },
      "h100",
    );
    const block = 2 * 4096 * 1024;
    const perGpu = CHIPS.h100.topology.scaleOutBandwidth / CHIPS.h100.topology.domain;
    expect(op.iciBytes).toBe(15 * block);
    // One block over the network to the peer GPU, then 14 over NVLink; every byte at the
    // network's speed would take 15 · block / perGpu, 5.9× longer.
    const expected = block / perGpu + (14 * block) / CHIPS.h100.linkBandwidth;
    expect(op.iciS).toBeCloseTo(expected, 12);
    expect((15 * block) / perGpu / op.iciS).toBeGreaterThan(5);
  });

  it("across nodes it shares the node's scale-out bandwidth", () => {
    const op = collective({ X: 2, Y: 8 }, "x[A_X, B]", "[A, B]", { A: 2 * 4096, B: 1024 }, "h100");
    const V = 2 * 2 * 4096 * 1024;
    const perGpu = CHIPS.h100.topology.scaleOutBandwidth / CHIPS.h100.topology.domain;
    expect(op.iciS).toBeCloseTo(V / 2 / perGpu, 12);
  });
});
