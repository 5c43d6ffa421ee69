/**
 * The one pipeline: `compile` runs trace → lower → fuse → estimate as named passes, each kept
 * and printable, and every caller goes through it — the CLI, the sweep engine, the studies.
 */
import { spawnSync } from "node:child_process";
import { model, param, printProgram, tensor, trace } from "@shardcost/core";
import { einsum, LLAMA3_70B, mul, shard, silu } from "@shardcost/ops";
import { compileStep, StepEstimator, shardedStep } from "@shardcost/serving";
import { compile, mesh, PASSES } from "@shardcost/sharding";
import { describe, expect, it } from "vitest";
import { BIN, ROOT, shardcost } from "./cli/run.js";

const inputs = {
  x: tensor("x[B, D_X]", "bf16"),
  w1: param("W1[D_X, F_YZ]", "int8"),
  w2: param("W2[D_X, F_YZ]", "int8"),
  wo: param("Wo[F_YZ, D_X]", "int8"),
};
const mlp = model({ inputs, dims: { B: 16, D: 1024, F: 4096 } }, (t) => {
  const h = mul(silu(einsum("BD,DF->BF", t.x, t.w1)), einsum("BD,DF->BF", t.x, t.w2));
  return shard(einsum("BF,FD->BD", shard(h, "[B, F_YZ]"), t.wo), "[B, D_XYZ]");
});
const m = mesh("v5e", { X: 2, Y: 2, Z: 2 });

describe("compile", () => {
  it("traces a model() and keeps every pass; dims given replace the model's", () => {
    const c = compile(mlp, { mesh: m, dims: { B: 64 } });
    expect(c.traced.dims.B).toBe(64);
    expect(printProgram(c.traced)).toContain("einsum[BD,DF->BF] x:bf16[B, D_X]");
    expect(printProgram(c.lowered)).toContain("ReduceScatter_YZ[D]");
    expect(c.fused.fusion.groups.length).toBe(c.estimate.ops.length);
    const same = compile(trace(mlp.fn, mlp.inputs, { ...mlp.dims, B: 64 }), { mesh: m });
    expect(c.estimate.totals).toEqual(same.estimate.totals);
    for (const pass of PASSES) expect(c.print(pass).length).toBeGreaterThan(0);
  });

  it("releases the program it traced once lowered, and traces it again only when asked", () => {
    let calls = 0;
    const counted = model({ inputs, dims: mlp.dims }, (t) => {
      calls++;
      return mlp.fn(t);
    });
    const c = compile(counted, { mesh: m });
    void c.estimate;
    expect(calls).toBe(1);
    const again = c.traced;
    expect(calls).toBe(2);
    expect(printProgram(again)).toBe(printProgram(trace(mlp.fn, mlp.inputs, mlp.dims)));
    expect(c.traced).toBe(again); // kept once asked for
    expect(c.retyped({ param: { from: "int8", to: "int4" } }).traced).toBe(again);
    expect(calls).toBe(2);
  });

  it("re-costs the same kernels at other sizes, and says when a sharded dim stops dividing", () => {
    const c = compile(mlp, { mesh: m });
    expect(c.divides({ B: 48 })).toBe(true);
    expect(c.divides({ D: 1026 })).toBe(false); // D is split over X·Y·Z = 8 at the output
    expect(c.at({ B: 48 }).totals).toEqual(
      compile(mlp, { mesh: m, dims: { B: 48 } }).estimate.totals,
    );
  });

  it("retypes stored weights without re-tracing, equal to tracing them in that dtype", () => {
    const c = compile(mlp, { mesh: m });
    const bf16 = model(
      {
        inputs: {
          ...inputs,
          w1: param("W1[D_X, F_YZ]", "int4"),
          w2: param("W2[D_X, F_YZ]", "int4"),
          wo: param("Wo[F_YZ, D_X]", "int4"),
        },
        dims: mlp.dims,
      },
      mlp.fn,
    );
    const retyped = c.retyped({ param: { from: "int8", to: "int4" } });
    expect(retyped.traced).toBe(c.traced);
    expect(retyped.estimate.totals).toEqual(compile(bf16, { mesh: m }).estimate.totals);
    expect(retyped.estimate.totals.hbmBytes).toBeLessThan(c.estimate.totals.hbmBytes);
  });

  it("is what the serving analyses and the sweep engine run", () => {
    const v5e = mesh("v5e", { X: 4, Y: 4 });
    const query = { phase: "decode" as const, batch: 32, seq: 8192, weights: "int8" as const };
    const small = { ...LLAMA3_70B, layers: 3 };
    const direct = compileStep(small, query, "1d-ws", v5e).compiled.estimate;
    expect(shardedStep(small, query, "1d-ws", v5e).estimate.totals).toEqual(direct.totals);
    const engine = new StepEstimator().step(small, query, "1d-ws", v5e);
    expect(engine.totals.serialS).toBeCloseTo(direct.totals.serialS, 12);
    expect(engine.memory).toEqual(direct.memory);
  });
});

describe("what the step's time goes to", () => {
  it("kernel time split into compute, weight, KV and activation traffic adds up to the kernels", () => {
    const v5e = mesh("v5e", { X: 4, Y: 4 });
    const query = { phase: "decode" as const, batch: 32, seq: 8192, weights: "int8" as const };
    for (const costs of [
      compileStep({ ...LLAMA3_70B, layers: 3 }, query, "1d-ws", v5e).compiled.estimate,
      new StepEstimator().step(LLAMA3_70B, query, "2d-ws", v5e),
    ]) {
      const t = costs.totals;
      const parts = t.computeBoundS + t.weightTrafficS + t.cacheTrafficS + t.activationTrafficS;
      expect(Math.abs(parts - t.kernelS) / t.kernelS).toBeLessThan(1e-12);
      // Decode is HBM-bound: weights and the KV cache dominate, activations are not zero.
      expect(t.weightTrafficS + t.cacheTrafficS).toBeGreaterThan(t.computeBoundS);
      expect(t.activationTrafficS).toBeGreaterThan(0);
      // The report's bars: those four plus the collectives' time the kernels do not hide.
      const bars = parts + Math.max(0, t.iciS - t.kernelS);
      expect(Math.abs(bars - t.stepS) / t.stepS).toBeLessThan(1e-12);
    }
  });
});

describe("the passes, printed", () => {
  it("SHARDCOST_DEBUG=passes prints the four passes in order", () => {
    const r = spawnSync(
      process.execPath,
      [BIN, "estimate", "examples/models/mlp-2d.ts", "--mesh", "v5e:2x4x4"],
      { cwd: ROOT, encoding: "utf8", env: { ...process.env, SHARDCOST_DEBUG: "passes" } },
    );
    expect(r.status).toBe(0);
    const headers = r.stderr.split("\n").filter((l) => l.startsWith("── after "));
    expect(headers.map((h) => h.split(" ")[2])).toEqual(["trace", "lower", "fuse", "estimate"]);
  });

  it("explain --pass prints one pass; a pass it does not know is a usage error", () => {
    const fused = shardcost([
      "explain",
      "examples/models/mlp-2d.ts",
      "--mesh",
      "v5e:2x4x4",
      "--pass",
      "fused",
    ]);
    expect(fused.status).toBe(0);
    const lines = fused.stdout.trim().split("\n");
    expect(lines.every((l) => /^kernel \d+: \S.* = \S/.test(l))).toBe(true);
    expect(fused.stdout).toContain("AllGather_YZ[D]");
    const bad = shardcost([
      "explain",
      "examples/models/mlp-2d.ts",
      "--mesh",
      "v5e:2x4x4",
      "--pass",
      "fuse",
    ]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("fused");
  });
});
