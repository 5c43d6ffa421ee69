/**
 * The sweep's re-costing: a compiled step's totals and memory as multilinear functions of the
 * dims a sweep varies and of the widths of its stored dtypes (`linearCosts`), built from 2^k
 * estimates and checked by one more. Here: the model is built (not silently replaced by direct
 * estimates) and equals a direct estimate at random batch and sequence sizes, on random
 * layouts, meshes and dtypes — and, with the weights' and KV cache's dtypes as variables, a
 * direct estimate of the program retyped to random stored dtypes (pinned seeds).
 */
import { fc, test } from "@fast-check/vitest";
import { type DType, linearCosts, type StoredVariable } from "@shardcost/core";
import { LLAMA3_8B } from "@shardcost/ops";
import { compileStep, type LayoutName } from "@shardcost/serving";
import { collectiveCost, localSizes, mesh } from "@shardcost/sharding";
import { describe, expect } from "vitest";

const FIGURES = [
  "flops",
  "hbmBytes",
  "paramBytes",
  "cacheBytes",
  "iciBytes",
  "computeS",
  "serialS",
  "overlappedS",
  "kernelS",
  "computeBoundS",
  "weightTrafficS",
  "cacheTrafficS",
] as const;

const MESHES = [
  mesh("v5e", { X: 2, Y: 2 }),
  mesh("v5e", { X: 4, Y: 4 }),
  mesh("h100", { X: 8 }),
  mesh("v5e", { X: 2, Y: 2, Z: 2 }),
];
const LAYOUTS: readonly LayoutName[] = ["1d-ws", "2d-ws", "weight-gathered", "fsdp"];
const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);

describe("multilinear re-costing", () => {
  test.prop(
    [
      fc.constantFrom(...LAYOUTS),
      fc.integer({ min: 0, max: MESHES.length - 1 }),
      fc.constantFrom("decode", "prefill") as fc.Arbitrary<"decode" | "prefill">,
      fc.constantFrom("bf16", "int8", "int4") as fc.Arbitrary<"bf16" | "int8" | "int4">,
      fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 3, maxLength: 3 }),
      fc.array(fc.integer({ min: 1, max: 16 }), { minLength: 3, maxLength: 3 }),
    ],
    { numRuns: 16, seed: 20261204 },
  )(
    "equals a direct estimate at other batches and lengths",
    (layout, mi, phase, weights, batches, lengths) => {
      const m = MESHES[mi]!;
      const seq = phase === "decode" ? 1024 : 256;
      const query = { phase, batch: 8 * m.chips, seq, weights, kv: "int8" } as const;
      const c = compileStep({ ...LLAMA3_8B, layers: 2 }, query, layout, m).compiled;
      const dims = c.fused.program.dims;
      const free = phase === "decode" ? ["B", "S"] : ["B", "T", "S"].filter((d) => d in dims);
      const model = linearCosts(
        c.fused,
        m.chip,
        { collectives: collectiveCost(m), sizesOf: (d) => localSizes({ dims: d }, m) },
        free,
      );
      expect(model, "the model is built and passes its own check").toBeDefined();
      for (let i = 0; i < 3; i++) {
        // Sizes the layout's shardings divide: multiples of the base sizes' divisors.
        const at: Record<string, number> = { ...dims, B: dims.B! * batches[i]! };
        for (const f of free.filter((d) => d !== "B")) at[f] = dims[f]! * lengths[i]!;
        if (!c.divides(at)) continue;
        const got = model!.at(at);
        const want = c.at(at);
        for (const k of ["flops", "hbmBytes", "iciBytes", "serialS", "overlappedS"] as const) {
          expect(rel(got.totals[k], want.totals[k]), k).toBeLessThan(1e-9);
        }
        expect(got.totals.bound).toBe(want.totals.bound);
        expect(rel(got.memory.totalBytes, want.memory.totalBytes)).toBeLessThan(1e-9);
        expect(got.memory.fits).toBe(want.memory.fits);
      }
    },
  );

  // Quantized weights are cast before their matmuls and a KV cache in another dtype than the
  // activations is cast on its way in and out: one traced structure for each class of dtypes.
  const weightClass = {
    bf16: ["int8", "int4", "fp8e4m3", "fp8e5m2"],
    int8: ["int4", "fp8e4m3", "fp8e5m2"],
  } as const;
  const kvClass = ["int8", "int4", "fp8e4m3", "fp8e5m2", "f16", "f32"] as const;
  test.prop(
    [
      fc.constantFrom(...LAYOUTS),
      fc.integer({ min: 0, max: MESHES.length - 1 }),
      fc.constantFrom("bf16", "int8") as fc.Arbitrary<"bf16" | "int8">,
      fc.boolean(),
      fc.array(
        fc.record({
          batch: fc.integer({ min: 1, max: 40 }),
          weights: fc.integer({ min: 0, max: 3 }),
          kv: fc.integer({ min: 0, max: kvClass.length - 1 }),
        }),
        { minLength: 4, maxLength: 4 },
      ),
    ],
    { numRuns: 12, seed: 20261205 },
  )(
    "with stored dtypes as variables, equals a direct estimate of the retyped program",
    (layout, mi, compute, quantized, points) => {
      const m = MESHES[mi]!;
      const weights: DType = quantized ? weightClass[compute][0] : "bf16";
      const query = {
        phase: "decode",
        batch: 8 * m.chips,
        seq: 1024,
        weights,
        kv: "int8",
        compute,
      } as const;
      const c = compileStep({ ...LLAMA3_8B, layers: 2 }, query, layout, m).compiled;
      const stored: StoredVariable[] = [
        { role: "cache", from: "int8", corner: "int4", check: "f16" },
      ];
      if (quantized) {
        const corner = weights === "int4" ? "fp8e4m3" : "int4";
        stored.push({ role: "param", from: weights, corner, check: "f16" });
      }
      const model = linearCosts(
        c.fused,
        m.chip,
        { collectives: collectiveCost(m), sizesOf: (d) => localSizes({ dims: d }, m) },
        ["B"],
        stored,
      );
      expect(model, "the model is built and passes its own check").toBeDefined();
      const dims = c.fused.program.dims;
      for (const p of points) {
        const at = { ...dims, B: dims.B! * p.batch };
        if (!c.divides(at)) continue;
        const members = weightClass[compute];
        const w: DType = quantized ? members[p.weights % members.length]! : "bf16";
        const kv = kvClass[p.kv]!;
        const got = model!.at(at, { param: w, cache: kv });
        const want = c
          .retyped({ param: { from: weights, to: w }, cache: { from: "int8", to: kv } })
          .at(at);
        for (const k of FIGURES) expect(rel(got.totals[k], want.totals[k]), k).toBeLessThan(1e-9);
        expect(got.totals.bound).toBe(want.totals.bound);
        expect(rel(got.memory.totalBytes, want.memory.totalBytes)).toBeLessThan(1e-9);
        expect(got.memory.fits).toBe(want.memory.fits);
      }
    },
  );
});
