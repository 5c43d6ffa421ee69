// Flag parsing: lists and ranges, dims, dtypes, meshes — and what they reject.
import {
  dimFlags,
  dtypeList,
  intList,
  markPareto,
  parseMesh,
  progressBar,
  UsageError,
} from "@shardcost/cli";
import { describe, expect, it } from "vitest";

describe("flag values", () => {
  it("integer lists: items, doubling ranges, stepped and geometric ranges, deduplicated", () => {
    expect(intList("batch", "32")).toEqual([32]);
    expect(intList("batch", "1,8..64")).toEqual([1, 8, 16, 32, 64]);
    expect(intList("batch", "8..40:+8")).toEqual([8, 16, 24, 32, 40]);
    expect(intList("batch", "1..1000:x10")).toEqual([1, 10, 100, 1000]);
    expect(intList("batch", "8,8..16")).toEqual([8, 16]);
    for (const bad of ["", "0", "-1", "1.5", "8..4", "1..8:x1", "a..b", "1..8:*2"]) {
      expect(() => intList("batch", bad), bad).toThrow(UsageError);
    }
  });

  it("dims, dtypes (fp8 = fp8e4m3) and meshes", () => {
    expect(dimFlags(["B=64", "Seq=128"])).toEqual({ B: 64, Seq: 128 });
    expect(() => dimFlags(["B:64"])).toThrow(/write NAME=SIZE/);
    expect(dtypeList("weights", "bf16,int8,fp8")).toEqual(["bf16", "int8", "fp8e4m3"]);
    expect(() => dtypeList("weights", "int3")).toThrow(UsageError);
    const m = parseMesh("v5e:2x4x4");
    expect(m.axes.map((a) => [a.name, a.size])).toEqual([
      ["X", 2],
      ["Y", 4],
      ["Z", 4],
    ]);
    expect(parseMesh("h100:8").chips).toBe(8);
    expect(parseMesh("v5e:1").chips).toBe(1);
    for (const bad of ["v5e", "v5e:", "v5e:4x", "v5e:2x2x2x2", ":4x4"]) {
      expect(() => parseMesh(bad), bad).toThrow(UsageError);
    }
  });

  it("the Pareto frontier: fitting rows no other fitting row beats on latency and throughput", () => {
    const row = (stepS: number, tokensPerSPerChip: number, fits = true) => ({
      stepS,
      tokensPerSPerChip,
      fits,
      pareto: false,
    });
    const marked = markPareto([
      row(1, 10),
      row(2, 30),
      row(2, 20),
      row(3, 25),
      row(0.5, 100, false),
    ]);
    expect(marked.map((r) => r.pareto)).toEqual([true, true, false, false, false]);
  });

  it("the progress bar", () => {
    expect(progressBar(0, 4, 8)).toBe("[........] 0/4");
    expect(progressBar(2, 4, 8)).toBe("[####....] 2/4");
    expect(progressBar(4, 4, 8)).toBe("[########] 4/4");
  });
});
