// The sweep engine: layer-periodic extrapolation and size reuse must give a full trace's numbers.
import { fc, test } from "@fast-check/vitest";
import { LLAMA3_8B, LLAMA3_405B, type LlamaConfig } from "@shardcost/ops";
import {
  type LayoutName,
  type StepCosts,
  StepEstimator,
  type StepQuery,
  shardedStep,
} from "@shardcost/serving";
import { mesh } from "@shardcost/sharding";
import { describe, expect, it } from "vitest";

/** Every number of `actual` within `rel` of `expected` (sums in another order differ by ulps). */
function expectSameCosts(actual: StepCosts, expected: StepCosts, rel = 1e-9) {
  for (const part of ["totals", "memory"] as const) {
    const a = actual[part] as unknown as Record<string, number | boolean | string>;
    const e = expected[part] as unknown as Record<string, number | boolean | string>;
    for (const [k, v] of Object.entries(e)) {
      if (typeof v === "number") {
        const got = a[k] as number;
        expect(Math.abs(got - v), `${part}.${k}: ${got} vs ${v}`).toBeLessThanOrEqual(
          rel * Math.max(1, Math.abs(v)),
        );
      } else {
        expect(a[k], `${part}.${k}`).toBe(v);
      }
    }
  }
}

function full(config: LlamaConfig, q: StepQuery, layout: LayoutName, m: ReturnType<typeof mesh>) {
  const r = shardedStep(config, q, layout, m);
  return { totals: r.estimate.totals, memory: r.estimate.memory };
}

const LAYOUT_NAMES: readonly LayoutName[] = ["1d-ws", "2d-ws", "weight-gathered", "fsdp"];

describe("one traced structure serves every stored dtype", () => {
  const m = mesh("v5e", { X: 2, Y: 4 });
  const weightTypes = ["bf16", "int8", "int4", "fp8e4m3"] as const;
  const kvTypes = ["bf16", "int8", "int4", "fp8e4m3", "f16"] as const;
  // Four layers: extrapolated from two and three as any depth is, and cheap to trace in full.
  const model: LlamaConfig = { ...LLAMA3_8B, layers: 4 };
  it.each(LAYOUT_NAMES)(
    "%s: every weight × KV dtype from one engine equals its own full trace",
    (layout) => {
      const engine = new StepEstimator();
      for (const compute of ["bf16", "int8"] as const) {
        for (const weights of weightTypes) {
          for (const kv of kvTypes) {
            // The first batch is the traced one; the second is re-costed from the model of the
            // batch and the stored widths.
            for (const batch of [16, 40]) {
              const q: StepQuery = { phase: "decode", batch, seq: 2048, weights, kv, compute };
              expectSameCosts(engine.step(model, q, layout, m), full(model, q, layout, m));
            }
          }
        }
      }
      // Per compute dtype: weights as activations or quantized (with int8 compute, int8 weights
      // apart), the KV cache as activations or cast; two traces (2 and 3 layers) each — not one
      // per dtype pair (2 × 4 × 5).
      expect(engine.stats.traced).toBeLessThanOrEqual((2 * 2 + 3 * 2) * 2);
    },
  );
});

describe("layer-periodic estimates equal full traces", () => {
  const m = mesh("v5e", { X: 2, Y: 4 });
  for (const layout of LAYOUT_NAMES) {
    it(`LLaMA-3-8B decode at batch 1 and 3 (cache split by position), ${layout} on v5e 2x4`, () => {
      for (const batch of [1, 3]) {
        const q: StepQuery = { phase: "decode", batch, seq: 4096, weights: "int8" };
        expectSameCosts(
          new StepEstimator().step(LLAMA3_8B, q, layout, m),
          full(LLAMA3_8B, q, layout, m),
        );
      }
    });
    it(`LLaMA-3-8B decode, int8 weights, ${layout} on v5e 2x4`, () => {
      const q: StepQuery = { phase: "decode", batch: 32, seq: 4096, weights: "int8" };
      expectSameCosts(
        new StepEstimator().step(LLAMA3_8B, q, layout, m),
        full(LLAMA3_8B, q, layout, m),
      );
    });
  }
  it("prefill with flash attention, int8 compute and int4 KV (1d-ws)", () => {
    const q: StepQuery = {
      phase: "prefill",
      batch: 8,
      seq: 512,
      weights: "int8",
      compute: "int8",
      kv: "int4",
      attention: "flash",
    };
    expectSameCosts(
      new StepEstimator().step(LLAMA3_8B, q, "1d-ws", m),
      full(LLAMA3_8B, q, "1d-ws", m),
    );
  });
  it("a mixture of experts (8 experts, top 2; experts sharded, so AllToAlls)", () => {
    const moe: LlamaConfig = {
      ...LLAMA3_8B,
      name: "8b-moe",
      layers: 6,
      moe: { experts: 8, topK: 2 },
    };
    const q: StepQuery = { phase: "decode", batch: 64, seq: 1024, weights: "int8", groups: 8 };
    const got = new StepEstimator().step(moe, q, "1d-ws", m);
    expectSameCosts(got, full(moe, q, "1d-ws", m));
    expect(got.totals.iciBytes).toBeGreaterThan(0);
  });
  it("LLaMA-3-405B decode, 126 layers, 2d-ws on a v5e 16x16 pod", () => {
    const pod = mesh("v5e", { X: 8, Y: 2, Z: 16 });
    const q: StepQuery = { phase: "decode", batch: 64, seq: 8192, weights: "int8" };
    expectSameCosts(
      new StepEstimator().step(LLAMA3_405B, q, "2d-ws", pod),
      full(LLAMA3_405B, q, "2d-ws", pod),
    );
  });
});

describe("re-costing a lowered step at other sizes", () => {
  const meshes = [
    mesh("v5e", { X: 2, Y: 2 }),
    mesh("v5e", { X: 4, Y: 4 }),
    mesh("h100", { X: 8 }),
    mesh("v5e", { X: 1 }),
  ];
  test.prop(
    [
      fc.constantFrom(...LAYOUT_NAMES),
      fc.integer({ min: 0, max: meshes.length - 1 }),
      fc.constantFrom(8, 16, 24, 64, 96),
      fc.constantFrom(8, 16, 24, 64, 96),
      fc.constantFrom(1024, 2048, 8192),
      fc.constantFrom("bf16", "int8", "int4") as fc.Arbitrary<StepQuery["weights"]>,
    ],
    { numRuns: 12, seed: 20261122 },
  )(
    "a cached step at batch b1 re-costed at b2 equals a fresh trace at b2",
    (layout, mi, b1, b2, seq, weights) => {
      const m = meshes[mi]!;
      const engine = new StepEstimator();
      const q = (batch: number): StepQuery => ({ phase: "decode", batch, seq, weights });
      const fresh = (batch: number) => {
        try {
          return full(LLAMA3_8B, q(batch), layout, m);
        } catch (e) {
          return e as Error;
        }
      };
      const attempt = (batch: number) => {
        try {
          return engine.step(LLAMA3_8B, q(batch), layout, m);
        } catch (e) {
          return e as Error;
        }
      };
      attempt(b1);
      const got = attempt(b2);
      const want = fresh(b2);
      if (want instanceof Error) {
        expect(got).toBeInstanceOf(Error);
        expect((got as Error).message).toBe(want.message);
      } else {
        expect(got).not.toBeInstanceOf(Error);
        expectSameCosts(got as StepCosts, want);
      }
    },
  );

  it("traces each structure once: ten batches of one layout cost two traces (two and three layers)", () => {
    const engine = new StepEstimator();
    const m = mesh("v5e", { X: 2, Y: 2 });
    for (let b = 8; b <= 80; b += 8) {
      engine.step(LLAMA3_8B, { phase: "decode", batch: b, seq: 2048 }, "1d-ws", m);
    }
    expect(engine.stats).toEqual({ traced: 2, queries: 10 });
  });

  it("an engine told of many batches models the batch from the first query on; each equals its full trace", () => {
    const engine = new StepEstimator({ manyBatches: true });
    const model: LlamaConfig = { ...LLAMA3_8B, layers: 4 };
    const m = mesh("v5e", { X: 2, Y: 4 });
    for (const layout of LAYOUT_NAMES) {
      for (const batch of [24, 8, 64]) {
        const q: StepQuery = { phase: "decode", batch, seq: 2048, weights: "int4", kv: "fp8e4m3" };
        expectSameCosts(engine.step(model, q, layout, m), full(model, q, layout, m));
      }
    }
  });

  it("meshes whose layout resolves alike share its traces; each lowers them and equals its full trace", () => {
    const engine = new StepEstimator();
    const model: LlamaConfig = { ...LLAMA3_8B, layers: 4 };
    const q: StepQuery = { phase: "decode", batch: 64, seq: 2048, weights: "int8" };
    // 1d-ws shards the model dims over both axes on each of these meshes: the same roles.
    const meshes = [
      mesh("v5e", { X: 2, Y: 2 }),
      mesh("v5e", { X: 4, Y: 2 }),
      mesh("v5e", { X: 2, Y: 4 }),
    ];
    for (const m of meshes) {
      expectSameCosts(engine.step(model, q, "1d-ws", m), full(model, q, "1d-ws", m));
    }
    expect(engine.stats).toEqual({ traced: 2, queries: 3 });
    // Another layout's roles are another trace.
    engine.step(model, q, "2d-ws", meshes[2]!);
    expect(engine.stats.traced).toBe(4);
  });

  it("a batch the cached layout does not split is resolved afresh and equals a full trace", () => {
    const engine = new StepEstimator();
    const m = mesh("v5e", { X: 2, Y: 4, Z: 4 });
    const q = { phase: "decode", seq: 2048 } as const;
    engine.step(LLAMA3_8B, { ...q, batch: 32 }, "weight-gathered", m);
    expectSameCosts(
      engine.step(LLAMA3_8B, { ...q, batch: 12 }, "weight-gathered", m),
      full(LLAMA3_8B, { ...q, batch: 12 }, "weight-gathered", m),
    );
  });
});
