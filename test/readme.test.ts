/** The README's first example, as written there: it must trace, print and estimate. */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  estimate,
  formatOpTable,
  param,
  printProgram,
  type Traced,
  tensor,
  trace,
} from "@shardcost/core";
import { einsum, mul, shard, silu } from "@shardcost/ops";
import { compile, estimateSpmd, lower, mesh } from "@shardcost/sharding";
import { describe, expect, it } from "vitest";

describe("README", () => {
  const inputs = {
    in: tensor("In[B, D_X]", "bf16"),
    w1: param("Win1[D_X, F_YZ]", "int8"),
    w2: param("Win2[D_X, F_YZ]", "int8"),
    wout: param("Wout[F_YZ, D_X]", "int8"),
  };
  const mlp = (x: Traced<typeof inputs>) => {
    const h = mul(silu(einsum("BD,DF->BF", x.in, x.w1)), einsum("BD,DF->BF", x.in, x.w2));
    return shard(einsum("BF,FD->BD", shard(h, "[B, F_YZ]"), x.wout), "[B, D_XYZ]");
  };
  const dims = { B: 64, D: 8192, F: 28672 };
  const program = trace(mlp, inputs, dims);

  it("the first example traces, prints and estimates on one chip", () => {
    expect(printProgram(program)).toContain(
      "b:bf16[B, F] = einsum[BD,DF->BF] In:bf16[B, D_X] a:bf16[D, F]",
    );
    const table = formatOpTable(estimate(program, "v5e"));
    expect(table).toContain("total (5 kernels)");
    expect(table).not.toMatch(/NaN/);
  });

  it("lowers onto the README's mesh; without the output constraint it asks where the sum goes", () => {
    const m = mesh("v5e", { X: 2, Y: 2, Z: 2 });
    const c = compile(program, { mesh: m });
    expect(printProgram(c.lowered)).toContain("ReduceScatter_YZ[D]");
    expect(c.print("fused")).toMatch(/^kernel 0: /);
    expect(c.print("fused").split("\n")).toHaveLength(c.estimate.ops.length);
    expect(formatOpTable(c.estimate)).not.toMatch(/NaN/);
    // The passes are the pieces: the estimate equals the lowered program's, priced on the mesh.
    expect(c.estimate.totals).toEqual(estimateSpmd(lower(program, m), m).totals);
    // Re-costed at another batch, the same kernels equal a fresh compile at that batch.
    const at = trace(mlp, inputs, { ...dims, B: 256 });
    expect(c.at({ B: 256 }).totals).toEqual(compile(at, { mesh: m }).estimate.totals);
    const unconstrained = trace(
      (x) => {
        const h = mul(silu(einsum("BD,DF->BF", x.in, x.w1)), einsum("BD,DF->BF", x.in, x.w2));
        return einsum("BF,FD->BD", shard(h, "[B, F_YZ]"), x.wout);
      },
      {
        in: tensor("In[B, D_X]", "bf16"),
        w1: param("Win1[D_X, F_YZ]", "int8"),
        w2: param("Win2[D_X, F_YZ]", "int8"),
        wout: param("Wout[F_YZ, D_X]", "int8"),
      },
      { B: 64, D: 8192, F: 28672 },
    );
    expect(() => lower(unconstrained, m)).toThrow(/partial sum over YZ: AllReduce_YZ/);
  });
});

describe("README: the model file", () => {
  const root = join(import.meta.dirname, "..");
  it("quotes examples/models/mlp-2d.ts as it is (the CLI tests run that file)", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    const quoted = /`examples\/models\/mlp-2d\.ts`:\n\n```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    const file = readFileSync(join(root, "examples/models/mlp-2d.ts"), "utf8");
    const code = file.replace(/^(\/\/.*\n)+\n?/, "");
    expect(quoted).toBe(code);
  });
});
