/**
 * The closed-form collective times (`collective-cost.ts`, through lower + estimateSpmd as every
 * estimate runs them) against a link-level simulation (test/support/link-sim.ts) that moves the
 * blocks step by step over the mesh's links: random meshes, axis sets, collectives and sizes.
 * Bandwidth regime: the closed form within 2% of the simulated time. Latency regime: its time is
 * exactly the simulated hop count × the hop latency.
 */
import { test } from "@fast-check/vitest";
import { CHIPS, type Chip, tensor, trace } from "@shardcost/core";
import { shard } from "@shardcost/ops";
import { estimateSpmd, lower, type Mesh, mesh } from "@shardcost/sharding";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type SimCollective, simulateCollective } from "../support/link-sim.js";

const SEED = 20261204;
const KINDS: readonly SimCollective[] = [
  "all_gather",
  "reduce_scatter",
  "all_reduce",
  "all_to_all",
];

/** A mesh whose axes each lie on their own torus dimension (or GPU level). */
const meshes = fc.oneof(
  fc
    .tuple(fc.constantFrom(1, 2, 4, 8, 16), fc.constantFrom(1, 2, 4, 8, 16))
    .map(([x, y]) => mesh("v5e", { X: x, Y: y })),
  fc
    .tuple(fc.constantFrom(2, 4, 8), fc.constantFrom(2, 4, 8), fc.constantFrom(1, 2, 4))
    .chain(([x, y, z]) => fc.constantFrom("v4", "v5p").map((c) => mesh(c, { X: x, Y: y, Z: z }))),
  fc
    .tuple(fc.constantFrom(1, 2, 4), fc.constantFrom(2, 4, 8))
    .map(([x, y]) => mesh("h100", { X: x, Y: y })),
  fc.constantFrom(2, 4, 8).map((x) => mesh("a100", { X: x })),
);

const cases = meshes
  .filter((m) => m.axes.some((a) => a.size > 1))
  .chain((m) =>
    fc.record({
      m: fc.constant(m),
      axes: fc.subarray(
        m.axes.filter((a) => a.size > 1).map((a) => a.name),
        { minLength: 1 },
      ),
      kind: fc.constantFrom(...KINDS),
      regime: fc.constantFrom("bandwidth", "latency"),
      scale: fc.integer({ min: 1, max: 64 }),
    }),
  );

/** The one collective lowering inserts for `kind` over `axes`, as estimated. */
function closedForm(m: Mesh, kind: SimCollective, axes: string, A: number, B: number) {
  const [from, to] = {
    all_gather: [`x[A_${axes}, B]`, "[A, B]"],
    reduce_scatter: [`x[A, B]{U_${axes}}`, `[A_${axes}, B]`],
    all_reduce: [`x[A, B]{U_${axes}}`, "[A, B]"],
    all_to_all: [`x[A_${axes}, B]`, `[A, B_${axes}]`],
  }[kind];
  const program = trace((x) => shard(x, to!), tensor(from!, "bf16"), { A, B });
  const est = estimateSpmd(lower(program, m), m);
  const ops = est.ops.filter((o) => o.iciBytes > 0);
  return ops;
}

const coverage = new Set<string>();
let runs = 0;

describe("collective time: closed form = link-level simulation", () => {
  test.prop([cases], { seed: SEED, numRuns: 600 })(
    "bandwidth regime within 2%; latency regime hop for hop",
    ({ m, axes, kind, regime, scale }) => {
      const chosen = m.axes.filter((a) => axes.includes(a.name));
      const n = chosen.reduce((k, a) => k * a.size, 1);
      const hop = (m.chip as Chip).hopLatency;
      const simAxes = chosen.map((a) => ({
        size: a.size,
        wraps: a.wraps,
        bandwidth: a.bandwidth,
        link: a.link,
      }));
      // Tiny for latency (one element per block); for bandwidth, grown until bytes dominate.
      const A = n * (regime === "latency" ? 1 : 64);
      let B = (kind === "all_to_all" ? n : 1) * (regime === "latency" ? 1 : 1024 * scale);
      const bytesOf = (b: number) => 2 * b * (kind === "all_reduce" ? A : A / n);
      let sim = simulateCollective(kind, simAxes, bytesOf(B));
      while (regime === "bandwidth" && sim.bandwidthS < 20 * sim.hops * hop) {
        B *= 4;
        sim = simulateCollective(kind, simAxes, bytesOf(B));
      }
      const ops = closedForm(m, kind, axes.join(""), A, B);
      expect(ops).toHaveLength(1);
      const op = ops[0]!;
      expect(op.label.toLowerCase().replace(/[^a-z]/g, "")).toContain(kind.replace(/_/g, ""));
      // The bytes by axis add up to the bytes sent (each link level counted once).
      const byAxis = Object.values(op.iciByAxis ?? {}).reduce((a, b) => a + b, 0);
      expect(Math.abs(byAxis - op.iciBytes)).toBeLessThanOrEqual(1e-9 * op.iciBytes);
      if (regime === "bandwidth") {
        expect(Math.abs(op.iciS - sim.bandwidthS) / sim.bandwidthS).toBeLessThanOrEqual(0.02);
      } else {
        expect(sim.bandwidthS).toBeLessThan(sim.hops * hop);
        expect(op.iciS / hop).toBeCloseTo(sim.hops, 9);
      }
      runs++;
      const gpu = chosen.some((a) => a.link !== "ici");
      const shape = gpu
        ? chosen.some((a) => a.link === "scale-out") && chosen.length > 1
          ? "gpu-two-level"
          : "gpu-one-level"
        : chosen.length > 1
          ? "torus-multi-axis"
          : chosen[0]!.wraps
            ? "torus-wraparound"
            : "torus-line";
      coverage.add(`${shape} ${kind} ${regime}`);
    },
  );

  it("covers every collective × mesh shape × regime", () => {
    expect(runs).toBe(600);
    const missing: string[] = [];
    for (const shape of [
      "torus-wraparound",
      "torus-line",
      "torus-multi-axis",
      "gpu-two-level",
      "gpu-one-level",
    ]) {
      for (const kind of KINDS) {
        for (const regime of ["bandwidth", "latency"]) {
          if (!coverage.has(`${shape} ${kind} ${regime}`))
            missing.push(`${shape} ${kind} ${regime}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });
});

describe("the book's collective cases against the simulation", () => {
  const sim = (kind: SimCollective, m: Mesh, names: string, bytes: number) =>
    simulateCollective(
      kind,
      m.axes.filter((a) => names.includes(a.name)),
      bytes,
    );
  it.each([
    [
      "AllGather, a 16-ring with wraparound (v5e 16x16, X)",
      "v5e",
      { X: 16, Y: 16 },
      "all_gather",
      "X",
    ],
    ["AllGather, a line of 8 (v5e 8x16, X)", "v5e", { X: 8, Y: 16 }, "all_gather", "X"],
    [
      "AllGather over two axes, SB-21 (v4 4x4x4, XY)",
      "v4",
      { X: 4, Y: 4, Z: 4 },
      "all_gather",
      "XY",
    ],
    ["AllReduce over three axes (v5p 4x4x4)", "v5p", { X: 4, Y: 4, Z: 4 }, "all_reduce", "XYZ"],
    ["AllToAll on a 16-ring (v5e 16x16, Y)", "v5e", { X: 16, Y: 16 }, "all_to_all", "Y"],
    ["ReduceScatter, NVLink + network (h100 2x8)", "h100", { X: 2, Y: 8 }, "reduce_scatter", "XY"],
    ["AllGather, NVLink + network (h100 4x8)", "h100", { X: 4, Y: 8 }, "all_gather", "XY"],
    ["AllToAll, NVLink + network (h100 2x8)", "h100", { X: 2, Y: 8 }, "all_to_all", "XY"],
  ] as const)("%s", (_name, chip, shape, kind, axes) => {
    const m = mesh(chip, shape);
    const n = m.axes.filter((a) => axes.includes(a.name)).reduce((k, a) => k * a.size, 1);
    const A = n * n * 64;
    const B = 4096;
    const op = closedForm(m, kind, axes, A, B)[0]!;
    const bytes = 2 * B * (kind === "all_reduce" ? A : A / n);
    const s = sim(kind, m, axes, bytes);
    expect(Math.abs(op.iciS - s.bandwidthS) / s.bandwidthS).toBeLessThanOrEqual(0.02);
    // Latency-bound: the same collective on one element per chip.
    const tiny = closedForm(m, kind, axes, n, kind === "all_to_all" ? n : 1)[0]!;
    expect(tiny.iciS / CHIPS[chip].hopLatency).toBeCloseTo(sim(kind, m, axes, 2).hops, 9);
  });
});
