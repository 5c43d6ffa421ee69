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

  it("axes that do not line up with the parts: those dividing the major part stay, the rest are gathered first", () => {
    const m = mesh("v5e", { X: 4, Y: 4 });
    const program = trace(
      (q) => shard(split(q, "N", { K: 8, G: 8 }), "[B, K, G]"),
      tensor("q[B, N_XY]", "f32"),
      { B: 2, N: 64 },
    );
    const check = assertSpmdEquivalent(program, m);
    // N_XY → N_X (AllGather_Y) → K_X, G; the constraint then gathers X: the same bytes as one
    // AllGather_XY ((4−1)·s + (4−1)·4s = 15s), in two steps.
    const sent = check.simulation.collectives.map((c) => c.bytesSent[0]!);
    expect(check.simulation.collectives.map((c) => c.primitive)).toEqual([
      "all_gather",
      "all_gather",
    ]);
    const shard0 = (2 * 64 * 4) / 16;
    expect(sent.reduce((a, b) => a + b, 0)).toBe(15 * shard0);
  });
});
