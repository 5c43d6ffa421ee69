import { printProgram, tensor, trace } from "@shardcost/core";
import { shard, split } from "@shardcost/ops";
import { mesh } from "@shardcost/sharding";
import { assertSpmdEquivalent } from "@shardcost/sharding/testing";
import { describe, expect, it } from "vitest";

describe("split and merge of sharded dims", () => {
  it("N_XY with |X| = K splits into K_X, G_Y without communication", () => {
    const m = mesh("v5e", { X: 4, Y: 2 });
    const program = trace(
      (q) => shard(split(q, "N", { K: 4, G: 4 }), "[B, K_X, G_Y]"),
      tensor("q[B, N_XY]", "f32"),
      { B: 2, N: 16 },
    );
    const check = assertSpmdEquivalent(program, m);
    expect(check.simulation.collectives).toHaveLength(0);
    expect(printProgram(check.lowered)).toContain("split[N→K,G] q:f32[B, N_XY]");
    expect(printProgram(check.lowered)).toContain("f32[B, K_X, G_Y]");
  });

  it("axes that do not line up with the parts gather the dim first", () => {
    const m = mesh("v5e", { X: 4, Y: 4 });
    const program = trace(
      (q) => shard(split(q, "N", { K: 8, G: 8 }), "[B, K, G]"),
      tensor("q[B, N_XY]", "f32"),
      { B: 2, N: 64 },
    );
    const check = assertSpmdEquivalent(program, m);
    expect(check.simulation.collectives.map((c) => c.primitive)).toEqual(["all_gather"]);
  });
});
