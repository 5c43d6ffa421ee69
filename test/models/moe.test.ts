/** A mixture-of-experts decoder: expert sharding brings AllToAlls, and stays SPMD-equivalent. */
import { printProgram, trace } from "@shardcost/core";
import { type LlamaConfig, llamaDecode } from "@shardcost/ops";
import { criticalBatch } from "@shardcost/serving";
import { mesh } from "@shardcost/sharding";
import { assertSpmdEquivalent } from "@shardcost/sharding/testing";
import { describe, expect, it } from "vitest";

const MOE: LlamaConfig = {
  name: "tiny-moe",
  layers: 1,
  D: 8,
  F: 16,
  N: 4,
  K: 2,
  H: 4,
  V: 16,
  moe: { experts: 4, topK: 2 },
};

describe("mixture of experts", () => {
  it("experts and token groups on one axis: dispatch and return are AllToAlls", () => {
    const m = mesh("v5e", { X: 2 });
    const model = llamaDecode(MOE, {
      batch: 8,
      seq: 4,
      groups: 2,
      weights: "f32",
      kv: "f32",
      compute: "f32",
      layout: {
        expertGate: "[E_X, D, F]",
        expertUp: "[E_X, D, F]",
        expertDown: "[E_X, F, D]",
        activations: { residual: { B: ["X"] }, mlpIn: { B: ["X"] } },
      },
    });
    const program = trace(model.fn, model.inputs, model.dims);
    const check = assertSpmdEquivalent(program, m);
    const kinds = check.simulation.collectives.map((c) => c.primitive);
    expect(kinds.filter((k) => k === "all_to_all")).toHaveLength(2);
    expect(printProgram(check.lowered)).toContain("AllToAll_X[Gr→E]");
  });

  it("its critical batch is E/k times the dense one", () => {
    const dense = criticalBatch(65536, 65536, "bf16", "bf16", "v5e");
    const moe = criticalBatch(65536, 65536, "bf16", "bf16", "v5e", { experts: 16, topK: 2 });
    expect(Math.abs(moe / dense - 8)).toBeLessThan(0.1);
  });
});
