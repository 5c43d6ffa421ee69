/**
 * SPMD equivalence, by execution: random meshes (1–3 axes of size 1–4), random valid
 * shardings, random chains of einsums, elementwise ops, reductions and constraints.
 */
import { test } from "@fast-check/vitest";
import { estimate, tensor, trace } from "@shardcost/core";
import { einsum } from "@shardcost/ops";
import { estimateSpmd, lower, mesh } from "@shardcost/sharding";
import { assertSpmdEquivalent, buildChain, chainArb, meshArb } from "@shardcost/sharding/testing";
import { describe, expect, it } from "vitest";

const SEED = 20261122;
const cases = meshArb({ maxAxes: 3, maxSize: 4 }).chain((m) =>
  chainArb(m).map((recipe) => ({ m, recipe })),
);

describe("lowered programs compute what the unsharded program computes", () => {
  const tally = { runs: 0, withCollectives: 0, bytes: 0 };
  test.prop([cases], { seed: SEED, numRuns: 250 })(
    "simulate equals interpret (1e-5 relative), and bytes moved equal the modelled ICI bytes",
    ({ m, recipe }) => {
      const check = assertSpmdEquivalent(buildChain(recipe), m);
      tally.runs++;
      if (check.simulation.collectives.length > 0) tally.withCollectives++;
      tally.bytes += check.simulation.bytesSent.reduce((a, b) => a + b, 0);
    },
  );

  it("the generated cases exercise collectives", () => {
    // Guards the property above against generators that shard nothing.
    expect(tally.runs).toBeGreaterThanOrEqual(250);
    expect(tally.withCollectives / tally.runs).toBeGreaterThan(0.3);
    expect(tally.bytes).toBeGreaterThan(0);
  });

  test.prop([cases], { seed: SEED + 1, numRuns: 250 })(
    "per-chip FLOPs × chips ≥ the unsharded program's FLOPs",
    ({ m, recipe }) => {
      const program = buildChain(recipe);
      const perChip = estimateSpmd(lower(program, m), m).totals.flops;
      const whole = estimate(program, m.chip).totals.flops;
      expect(perChip * m.chips).toBeGreaterThanOrEqual(whole * (1 - 1e-12));
    },
  );

  test.prop([chainArb(mesh("v5e", { X: 1 }))], { seed: SEED + 2, numRuns: 200 })(
    "a one-chip mesh gives exactly the single-chip estimate",
    (recipe) => {
      const program = buildChain(recipe);
      const m = mesh("v5e", { X: 1 });
      const spmd = estimateSpmd(lower(program, m), m);
      const single = estimate(program, m.chip);
      expect(spmd.totals.flops).toBe(single.totals.flops);
      expect(spmd.totals.hbmBytes).toBe(single.totals.hbmBytes);
      expect(spmd.totals.iciBytes).toBe(0);
      expect(spmd.memory).toEqual(single.memory);
    },
  );
});

describe("nothing computed twice", () => {
  it("a fully sharded einsum's per-chip FLOPs × chips equal the unsharded FLOPs", () => {
    const m = mesh("v5e", { X: 2, Y: 4 });
    const program = trace(
      (t) => einsum("BD,DF->BF", t.x, t.w),
      { x: tensor("x[B_X, D]", "f32"), w: tensor("w[D, F_Y]", "f32") },
      { B: 8, D: 16, F: 32 },
    );
    const lowered = lower(program, m);
    expect(lowered.eqns).toHaveLength(1);
    const perChip = estimateSpmd(lowered, m).totals.flops;
    expect(perChip * m.chips).toBe(estimate(program, m.chip).totals.flops);
  });

  it("a replicated einsum computes everything on every chip", () => {
    const m = mesh("v5e", { X: 2, Y: 4 });
    const program = trace(
      (t) => einsum("BD,DF->BF", t.x, t.w),
      { x: tensor("x[B, D]", "f32"), w: tensor("w[D, F]", "f32") },
      { B: 8, D: 16, F: 32 },
    );
    const perChip = estimateSpmd(lower(program, m), m).totals.flops;
    expect(perChip).toBe(estimate(program, m.chip).totals.flops);
  });
});
