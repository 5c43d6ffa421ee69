import { printProgram, tensor, trace } from "@shardcost/core";
import { gather, shard } from "@shardcost/ops";
import { mesh } from "@shardcost/sharding";
import { assertSpmdEquivalent } from "@shardcost/sharding/testing";
import { expect, it } from "vitest";

it("vocab-parallel gather", () => {
  const m = mesh("v5e", { X: 4, Y: 2 });
  const p = trace(
    (t) => shard(gather(t.table, t.ids, "V"), "[B_Y, D]"),
    { table: tensor("table[V_X, D]", "f32"), ids: tensor("ids[B_Y]", "int32") },
    { V: 16, D: 4, B: 6 },
  );
  const ids = Float64Array.from([0, 3, 7, 15, 9, 4]);
  const table = Float64Array.from({ length: 64 }, (_, i) => i * 0.5);
  const r = assertSpmdEquivalent(p, m, { arrays: { table, ids } });
  expect(printProgram(r.lowered)).toContain("gather[V] table:f32[V_X, D]");
  expect(r.simulation.collectives.length).toBe(1);
});
