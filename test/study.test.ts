/** S21 (seed 003): FFN 1D vs 2D weight-stationary, traced and lowered from 8 to 256 v5e chips. */
import { trace } from "@shardcost/core";
import { LLAMA3_70B, llamaStep } from "@shardcost/ops";
import { mlpLayoutStudy, resolveLayout, STUDY_SHAPES, StepEstimator } from "@shardcost/serving";
import { mesh } from "@shardcost/sharding";
import { assertSpmdEquivalent } from "@shardcost/sharding/testing";
import { describe, expect, it } from "vitest";

describe("S21: 1D vs 2D weight-stationary", () => {
  const rows = mlpLayoutStudy(LLAMA3_70B, 512, "v5e");
  const comm = (layout: string) => rows.filter((r) => r.layout === layout).map((r) => r.commS);
  const chips = rows.filter((r) => r.layout === "1d-ws").map((r) => r.chips);

  it("spans 8 to 256 chips", () => {
    expect(chips).toEqual([8, 16, 32, 64, 128, 256]);
  });

  it("1D comm time per layer does not shrink with the chip count", () => {
    const one = comm("1d-ws");
    for (let i = 1; i < one.length; i++) expect(one[i]!).toBeGreaterThanOrEqual(one[i - 1]! * 0.99);
  });

  it("2D comm time falls about as 1/√N", () => {
    const two = comm("2d-ws");
    for (let i = 1; i < two.length; i++) expect(two[i]!).toBeLessThanOrEqual(two[i - 1]! * 1.01);
    // 64 → 256 chips: √4 = 2× less (±25%).
    const at = (n: number) => two[chips.indexOf(n)]!;
    expect(at(64) / at(256)).toBeGreaterThan(1.5);
    expect(at(64) / at(256)).toBeLessThan(2.5);
  });

  it("the layouts cross between 16 and 256 chips, and 2D stays ahead after", () => {
    const one = comm("1d-ws");
    const two = comm("2d-ws");
    const first = chips.findIndex((_, i) => two[i]! < one[i]!);
    expect(chips[first]).toBeGreaterThan(16);
    expect(chips[first]).toBeLessThanOrEqual(256);
    for (let i = first; i < chips.length; i++) expect(two[i]!).toBeLessThan(one[i]!);
  });
});

describe("the whole LLaMA-3-70B decode step under the named layouts", () => {
  // The same question on the full model (attention, norms, embeddings included), as
  // `shardcost compare` asks it: 1d-ws wins on few chips, 2d-ws (attention in 2D too) past
  // a crossover, at batch 512.
  const engine = new StepEstimator();
  const step = (layout: "1d-ws" | "2d-ws", shape: Readonly<Record<string, number>>) =>
    engine.step(
      LLAMA3_70B,
      { phase: "decode", batch: 512, seq: 2048, weights: "int8" },
      layout,
      mesh("v5e", shape),
    ).totals;
  it("1d-ws is faster on 8 chips; 2d-ws moves fewer bytes everywhere, its ICI time and step are shorter from 16 on", () => {
    const rows = STUDY_SHAPES.map((s) => ({ one: step("1d-ws", s), two: step("2d-ws", s) }));
    expect(rows[0]!.one.serialS).toBeLessThan(rows[0]!.two.serialS);
    for (const r of rows) expect(r.two.iciBytes).toBeLessThan(r.one.iciBytes);
    for (const r of rows.slice(1)) {
      expect(r.two.serialS).toBeLessThan(r.one.serialS);
      expect(r.two.iciS).toBeLessThan(r.one.iciS);
    }
    // From 64 chips on, 2D's ICI time falls while 1D's does not (1/√N against flat).
    expect(rows[5]!.two.iciS).toBeLessThan(rows[3]!.two.iciS * 0.8);
    expect(rows[5]!.one.iciS).toBeGreaterThan(rows[3]!.one.iciS * 0.6);
  });

  it("2d-ws shards attention over D and heads: prefill and decode stay SPMD-equivalent", () => {
    const tiny = { name: "tiny", layers: 1, D: 16, F: 32, N: 4, K: 2, H: 4, V: 16 };
    const m = mesh("v5e", { X: 2, Y: 2, Z: 2 });
    const layout = resolveLayout("2d-ws", tiny, m, 8);
    // X splits D (√(8·16/64) ≈ 1.4 → one axis of 2); heads over YZ, KV heads over Y; the
    // cache's batch over X, then over Z (the query-group axis).
    expect(layout.wq).toEqual({ D: ["X"], N: ["Y", "Z"] });
    expect(layout.kvCache).toEqual({ B: ["X", "Z"], K: ["Y"] });
    for (const phase of ["decode", "prefill"] as const) {
      const spec = llamaStep(tiny, phase, {
        batch: 8,
        seq: 4,
        weights: "f32",
        kv: "f32",
        compute: "f32",
        layout,
      });
      assertSpmdEquivalent(trace(spec.fn, spec.inputs, spec.dims), m, { tolerance: 1e-5 });
    }
  });
});
