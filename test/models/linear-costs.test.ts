/**
 * The sweep's re-costing: a compiled step's totals and memory as multilinear functions of the
 * dims a sweep varies (`linearCosts`), built from 2^k estimates and checked by one more. Here:
 * the model is built (not silently replaced by direct estimates) and equals a direct estimate
 * at random batch and sequence sizes, on random layouts, meshes and dtypes (pinned seed).
 */
import { fc, test } from "@fast-check/vitest";
import { linearCosts } from "@shardcost/core";
import { LLAMA3_8B } from "@shardcost/ops";
import { compileStep, type LayoutName } from "@shardcost/serving";
import { collectiveCost, localSizes, mesh } from "@shardcost/sharding";
import { describe, expect } from "vitest";

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
});
